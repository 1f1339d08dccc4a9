"""What the photo shows, by ImageNet-1k class, computed from the captioner's own encoder features.

Shapes: B images, P regions, C channels, K = 1000 ImageNet classes, G groups of classes.

EfficientNet-Lite's classifier is average pooling then a linear layer (`net._fc`) over the very feature map
the captioner attends over, so recognition costs one (B, C) x (C, K) product and no second pass over the
photo; the captioner's engine computes those logits (Encoded.logits), and this module turns them
into what a person would call the thing. The classes are grouped into the words a person would use (model/data/imagenet_words.json: every dog
breed is "a dog"); a group's probability is the sum of its classes' probabilities. When a group is
probable enough to be said is calibrated on labelled dev photos (model/data/calibration.json, written by
`python -m training.calibrate_recognition`), never set by hand.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .calibration import Calibration

if TYPE_CHECKING:
    from ..captioner.engine import Engine

DATA = Path(__file__).parents[1] / "data"
WORDS_FILE = DATA / "imagenet_words.json"
PROBE_FILE = DATA / "person_probe.json"  # a linear person probe on the same pooled features (training/person_probe.py)


@dataclass(frozen=True)
class Group:
    """A set of ImageNet classes a person would call by one name."""

    name: str  # key, e.g. "dog"
    say: str  # spoken phrase, e.g. "a dog"
    words: tuple[str, ...]  # what captions call it, e.g. ("dog", "puppy", "terrier")
    kind: str  # animal, person, vehicle, food, thing, clothing, scene
    classes: tuple[int, ...]  # ImageNet class indices


@dataclass(frozen=True)
class Recognition:
    """One group recognised in one photo."""

    name: str
    say: str
    probability: float  # summed probability of the group's classes
    confident: bool  # probability at or above the group's calibrated threshold to be said on its own
    top_class: str  # the group's most probable ImageNet class, e.g. "Egyptian cat"


def load_groups(path: str | os.PathLike = WORDS_FILE) -> tuple[list[str], list[Group]]:
    """ImageNet class names and their groups from the data file."""
    data = json.loads(Path(path).read_text())
    groups = [Group(g["name"], g["say"], tuple(g["words"]), g["kind"], tuple(g["classes"])) for g in data["groups"]]
    return list(data["classes"]), groups


class Recognizer:
    """ImageNet logits (B, K) -> group probabilities and recognitions; pooled features (B, C) -> the person
    probe's logit. NumPy only: both engines' encoders compute the logits (Encoded.logits)."""

    def __init__(self, classes: list[str], groups: list[Group], calibration: Calibration,
                 person_probe: tuple[np.ndarray, float] | None = None) -> None:
        """person_probe: (weights (C,), bias) of a person logit on the pooled features, or None."""
        self.person_probe = person_probe
        self.classes = classes
        self.groups = groups
        self.calibration = calibration
        self.index = {g.name: i for i, g in enumerate(groups)}
        member = np.zeros((len(classes), len(groups)), dtype=np.float32)  # (K, G)
        for j, g in enumerate(groups):
            member[list(g.classes), j] = 1.0
        if not np.array_equal(member.sum(1), np.ones(len(classes), dtype=np.float32)):
            raise ValueError("every ImageNet class must be in exactly one group")
        self.member = member
        self.say_thresholds = np.array([calibration.recognition.say_threshold(g.name) for g in groups])  # (G,)

    @classmethod
    def for_captioner(
        cls, captioner: Engine, *, calibration: Calibration | None = None, words: str | os.PathLike = WORDS_FILE,
    ) -> Recognizer | None:
        """The recognizer of a captioner whose encoder has a real ImageNet head (EfficientNet-Lite's), else None.

        A ResNet encoder keeps no classifier (its head is dropped and may never have been loaded), so it has
        no recognizer and the describer falls back to the caption alone.
        """
        classes, groups = load_groups(words)
        if captioner.classes != len(classes):
            return None
        probe = load_person_probe(captioner.encoder_name, captioner.feature_channels)
        return cls(classes, groups, calibration or Calibration.load(), probe)

    def class_probabilities(self, logits: np.ndarray) -> np.ndarray:
        """ImageNet class probabilities (B, K) from the encoder head's logits (B, K)."""
        z = np.asarray(logits, dtype=np.float32)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)  # (B, K)

    def person_logits(self, pooled: np.ndarray) -> np.ndarray | None:
        """The person probe's logit (B,) from the mean region features (B, C); None without a probe."""
        if self.person_probe is None:
            return None
        weights, bias = self.person_probe
        return np.asarray(pooled, dtype=np.float32) @ weights + np.float32(bias)  # (B,)

    def group_probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Group probabilities (B, G): each the sum of its classes' probabilities."""
        return self.class_probabilities(logits) @ self.member  # (B, G)

    def probability(self, probs: np.ndarray, group: str) -> float:
        """One image's probability (from group_probabilities' row) of a named group; 0 for an unknown name."""
        i = self.index.get(group)
        return 0.0 if i is None else float(probs[i])

    def recognize(self, logits: np.ndarray, top: int = 5) -> list[list[Recognition]]:
        """The top groups of each photo, most probable first."""
        class_probs = self.class_probabilities(logits)  # (B, K)
        group_probs = class_probs @ self.member  # (B, G)
        return [self.recognitions(c, g, top) for c, g in zip(class_probs, group_probs)]

    def recognitions(self, class_probs: np.ndarray, group_probs: np.ndarray, top: int = 5) -> list[Recognition]:
        """One photo's top groups from its class (K,) and group (G,) probabilities."""
        idx = np.argsort(-group_probs, kind="stable")[: min(top, len(self.groups))]
        out = []
        for j in idx.tolist():
            g, prob = self.groups[j], float(group_probs[j])
            members = list(g.classes)
            best = members[int(class_probs[members].argmax())]
            out.append(Recognition(g.name, g.say, prob, prob >= float(self.say_thresholds[j]), self.classes[best]))
        return out


def load_person_probe(encoder: str, channels: int, path: str | os.PathLike = PROBE_FILE) -> tuple[np.ndarray, float] | None:
    """The person probe fitted on this encoder's features (by name and channel count), or None (no file, or
    fitted on another encoder)."""
    path = Path(path)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    weights = np.asarray(data["weights"], dtype=np.float32)
    if data.get("encoder") != encoder or len(weights) != channels:
        return None
    return weights, float(data["bias"])
