"""When each piece of evidence may be spoken: model/data/calibration.json, read into one typed section per
source of evidence. Every threshold is written by training (`python -m training.calibrate_recognition`, then
`python -m training.calibrate_objects`) on dev photos, never set by hand; the defaults below, the only ones,
are what a file without a section means: that evidence is never enough on its own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from .objects import ObjectCalibration

CALIBRATION_FILE = Path(__file__).parents[1] / "data" / "calibration.json"
NEVER = 1.01  # a probability threshold no evidence reaches


@dataclass(frozen=True)
class RecognitionCalibration:
    """ImageNet groups: from which probability one is said on its own (`say`) or backs a caption (`support`)."""

    say: float = NEVER
    support: float = NEVER
    say_by_group: Mapping[str, float] = field(default_factory=dict)  # per-group overrides of `say`
    support_by_group: Mapping[str, float] = field(default_factory=dict)

    def say_threshold(self, group: str) -> float:
        return float(self.say_by_group.get(group, self.say))

    def support_threshold(self, group: str) -> float:
        return float(self.support_by_group.get(group, self.support))


@dataclass(frozen=True)
class PeopleCalibration:
    """The people model (people.py; used when no object detector is installed) and its thresholds."""

    model: Mapping[str, Any] = field(default_factory=dict)  # {"weights": {feature: w}, "bias": b}; {}: none
    say: float = NEVER
    support: float = NEVER

    @property
    def detectors(self) -> frozenset[str]:
        """The OpenCV people detectors ("hog", "faces") the model weighs: the only ones worth running."""
        weights = self.model.get("weights", {})
        return frozenset(d for d in ("hog", "faces") if weights.get(d))


@dataclass(frozen=True)
class CaptionCalibration:
    """The caption: the search its thresholds were fitted on, and when its own word probabilities suffice."""

    word_support: float = NEVER  # a caption word backs its own mention from this probability
    detail_support: float = NEVER  # a caption's other words (what, where) are kept from this probability
    beam_size: int = 3
    no_repeat_ngram: int = 0


@dataclass(frozen=True)
class ImageCalibration:
    """A picture with nothing to see: below this grey-level spread (images.tone), 0 to 255; 0: never."""

    blank_spread: float = 0.0


def _section(cls: type, data: Mapping[str, Any] | None):
    """The typed section from the file's dict: its known keys (the rest is provenance, kept in the file)."""
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in (data or {}).items() if k in known})


@dataclass(frozen=True)
class Calibration:
    """Calibrated thresholds, one section per source of evidence."""

    recognition: RecognitionCalibration
    people: PeopleCalibration = field(default_factory=PeopleCalibration)
    caption: CaptionCalibration = field(default_factory=CaptionCalibration)
    image: ImageCalibration = field(default_factory=ImageCalibration)
    objects: ObjectCalibration | None = None  # None: no object detector is weighed
    source: Mapping[str, Any] = field(default_factory=dict, compare=False)  # the file as read: provenance

    @classmethod
    def load(cls, path: str | os.PathLike = CALIBRATION_FILE) -> Calibration:
        """Read a calibration file; ValueError when it lacks the recognition thresholds or a section is wrong."""
        data = json.loads(Path(path).read_text())
        return cls.from_json(data, where=str(path))

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "the calibration") -> Calibration:
        rec = data.get("recognition", {})
        if "say" not in rec or "support" not in rec:
            raise ValueError(f"{where} has no recognition thresholds (say, support); got keys {sorted(rec)!r}")
        try:
            return cls(
                recognition=_section(RecognitionCalibration, rec),
                people=_section(PeopleCalibration, data.get("people")),
                caption=_section(CaptionCalibration, data.get("caption")),
                image=_section(ImageCalibration, data.get("image")),
                objects=ObjectCalibration.from_json(data["objects"]) if data.get("objects") else None,
                source=dict(data),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None

    def with_objects(self, section: Mapping[str, Any]) -> Calibration:
        """This calibration with another "objects" section (as the file would hold it): typed, and kept in
        `source`, which the describer's index version is computed from."""
        return replace(self, objects=ObjectCalibration.from_json(section), source={**self.source, "objects": section})

    @property
    def provenance(self) -> Mapping[str, Any]:
        """Who wrote the file, when, on which dev photos, by which rule, with which numbers."""
        return self.source.get("provenance", {})

    @property
    def decoding(self) -> tuple[int, int]:
        """(beam size, no_repeat_ngram) of the search whose captions these thresholds were calibrated on."""
        return int(self.caption.beam_size), int(self.caption.no_repeat_ngram)


@lru_cache(maxsize=4)
def spoken_decoding(path: str | os.PathLike = CALIBRATION_FILE) -> tuple[int, int]:
    """(beam size, no_repeat_ngram) of the search whose captions the describer's thresholds were calibrated
    on: the one seesay says its captions with, and every engine's default."""
    return Calibration.load(path).decoding
