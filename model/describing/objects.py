"""What is in a photo, how many and where: the detector's boxes fused with the other evidence (issue 26).

For each of COCO's 80 categories (model/data/coco_words.json) a photo has evidence from up to four sources:
the object detector's boxes (model/describing/detection.py), the ImageNet recognizer's groups that name the same thing
(model/describing/recognition.py), the caption's own probability for a word naming it, and, for people, the person
probe on the encoder's pooled features. A logistic model per kind (people, everything else) turns that
evidence into the probability that the category is present; the models and every threshold are fitted on
labelled dev photos by `python -m training.calibrate_objects` and read from model/data/calibration.json
("objects"), never set here.

What is said of a category present: how many (the detector's boxes above a calibrated count score, each
covering at least a calibrated share of the picture; "a crowd" past MAX_COUNT) and where, in plain words from
the boxes ("on the left", "in the middle", "on the right", "close in front of you").
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .detection import Detection

DATA = Path(__file__).parents[1] / "data"
WORDS_FILE = DATA / "coco_words.json"
PERSON = "person"
MAX_COUNT = 5  # more people than this are "a crowd" (a listener cannot use an exact count past it)
NUMBERS = ("no", "one", "two", "three", "four", "five")
CLOSE = 0.4  # a box covering this share of the picture is close in front of the camera
# A box this much inside another of its category is the same thing seen twice: on the dev photos (photos
# squashed, before padding), counting people with it gave 61% exact counts against 55% without (0.7-0.9 alike).
CONTAINED = 0.8
# Feature names, in the order the calibrated weights are stored: the model file says which it was fitted on.
OBJECT_FEATURES = ("detector", "area", "boxes", "recognizable", "recognizer", "caption", "rival")
PERSON_FEATURES = ("detector", "area", "boxes", "caption", "probe")

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the width and height


@dataclass(frozen=True)
class Category:
    """One of COCO's 80 categories and how it is said."""

    name: str  # "dog", "dining table"
    one: str  # said of one: "a dog", "a table"
    many: str  # said of several: "dogs", "tables"
    groups: tuple[str, ...]  # ImageNet groups whose recognition is evidence for it
    words: tuple[str, ...]  # what captions call it
    kind: str  # COCO supercategory: "animal", "vehicle", "food", ...


@lru_cache(maxsize=2)
def load_categories(path: str | os.PathLike = WORDS_FILE) -> dict[str, Category]:
    """The 80 categories, by name, in the detector's class order."""
    data = json.loads(Path(path).read_text())["categories"]
    return {name: Category(name, c["one"], c["many"], tuple(c["groups"]), tuple(c["words"]), c["kind"])
            for name, c in data.items()}


@lru_cache(maxsize=1)
def covered_groups() -> frozenset[str]:
    """ImageNet groups that name a COCO category: with a detector, said only through that category."""
    return frozenset(g for c in load_categories().values() for g in (c.name, *c.groups))


@dataclass(frozen=True)
class FusionModel:
    """A logistic model over named evidence features (fitted by training/calibrate_objects.py)."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float

    @classmethod
    def from_json(cls, data: Mapping[str, Any], expected: tuple[str, ...]) -> FusionModel:
        """Read a model; ValueError when it was fitted on other features than this code computes."""
        model = cls(tuple(data["features"]), tuple(float(w) for w in data["weights"]), float(data["bias"]))
        if model.features != expected or len(model.weights) != len(expected):
            raise ValueError(f"object model fitted on features {model.features!r}, this code computes {expected!r}")
        return model

    def probability(self, x: np.ndarray) -> np.ndarray:
        """P(present) for rows of features (N, F)."""
        z = np.asarray(x, dtype=np.float64) @ np.asarray(self.weights) + self.bias  # (N,)
        return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class ObjectCalibration:
    """The "objects" section of model/data/calibration.json: fusion models and the thresholds to say, to back a
    caption's word, and to count."""

    objects: FusionModel
    people: FusionModel
    say: float  # an object is said from this probability
    support: float  # an object backs a caption that names it from this probability
    person_say: float
    person_support: float
    count_score: float  # a detector box counts from this score ...
    person_count_score: float
    min_area: float  # ... when it covers at least this share of the picture
    floor: float  # detector boxes below this score are no evidence at all
    numbers: dict[str, Any] = field(default_factory=dict)  # dev figures, for the record

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ObjectCalibration:
        """Read the section; ValueError naming what is missing."""
        try:
            return cls(
                objects=FusionModel.from_json(data["model"], OBJECT_FEATURES),
                people=FusionModel.from_json(data["person_model"], PERSON_FEATURES),
                say=float(data["say"]), support=float(data["support"]),
                person_say=float(data["person_say"]), person_support=float(data["person_support"]),
                count_score=float(data["count_score"]), person_count_score=float(data["person_count_score"]),
                min_area=float(data["min_area"]), floor=float(data["floor"]), numbers=dict(data.get("numbers", {})),
            )
        except KeyError as exc:
            raise ValueError(f"the objects calibration lacks {exc.args[0]!r}") from None


@dataclass(frozen=True)
class Found:
    """One category's evidence in one photo, and what is said of it."""

    category: str
    probability: float  # fused probability that it is present
    count: int  # boxes counted (0: the evidence is not the detector's, so one is said without a place)
    boxes: tuple[Box, ...]  # the counted boxes, largest first
    where: str  # "on the left", "in the middle", "on the right", "close in front of you" or ""
    said: bool  # probable enough to be said on its own
    supports: bool  # probable enough to back a caption that names it
    said_as: str = ""  # the words the describer said it in ("a cup of coffee in the middle"), if said

    @property
    def area(self) -> float:
        """Share of the picture covered by its largest counted box (0 without boxes)."""
        return max((box_area(b) for b in self.boxes), default=0.0)

    def to_json(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"name": self.category, "probability": round(self.probability, 4), "count": self.count,
                "where": self.where, "said": self.said,
                "boxes": [[round(v, 4) for v in b] for b in self.boxes]}


def box_area(box: Box) -> float:
    """Share of the picture a box covers."""
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _logit(p: float) -> float:
    p = min(max(p, 1e-3), 1 - 1e-3)
    return math.log(p / (1 - p))


def evidence_row(detections: Sequence[Detection], recognizer: float | None, caption: float, probe: float,
                 person: bool, rival: float = 0.0) -> list[float]:
    """The features of one category in one photo, in OBJECT_FEATURES or PERSON_FEATURES order.

    detections: this category's boxes at or above the floor, highest score first; recognizer: the
    recognizer's probability for the category (None: no ImageNet group names it; its logit is weighed, so a
    recognizer sure of a cup of coffee can outweigh a weak box); rival: its probability for the likeliest
    other category of the same kind (a dog photo's "horse" box meets the recognizer's certainty of a dog)."""
    top = detections[0] if detections else None
    score = top.score if top else 0.0
    area = math.sqrt(box_area(top.box)) if top else 0.0
    boxes = math.log1p(sum(d.score >= 0.3 for d in detections))
    if person:
        return [_logit(score), area, boxes, caption, probe]
    known = recognizer is not None
    return [_logit(score), area, boxes, float(known), _logit(recognizer) if known else 0.0, caption, min(rival, 1.0)]


def where(boxes: Sequence[Box]) -> str:
    """Where the boxes are, in words a listener can act on; "" when they are spread across the picture."""
    if not boxes:
        return ""
    centres = [(b[0] + b[2]) / 2 for b in boxes]
    thirds = {min(int(c * 3), 2) for c in centres}
    if len(thirds) > 1:
        return ""
    third = thirds.pop()
    if len(boxes) == 1 and box_area(boxes[0]) >= CLOSE:
        return ("close by, on the left", "close in front of you", "close by, on the right")[third]
    return ("on the left", "in the middle", "on the right")[third]


def how_many(category: Category, count: int) -> str:
    """"a dog", "two dogs", "a crowd" (people past MAX_COUNT), "many dogs"."""
    if count <= 1:
        return category.one
    if count > MAX_COUNT:
        return "a crowd of people" if category.name == PERSON else f"many {category.many}"
    return f"{NUMBERS[count]} {category.many}"


def phrase(found: Found, categories: Mapping[str, Category] | None = None) -> str:
    """What is said of a category found: "two dogs on the left", "a person close in front of you"."""
    category = (categories or load_categories())[found.category]
    said = how_many(category, found.count)
    return f"{said} {found.where}" if found.where else said


def changes(before: Sequence[Found], after: Sequence[Found]) -> str:
    """What arrived and what left between two views, in words ("Now: a person on the left. No longer in
    view: a dog."); "" when the things said are the same ones, in the same numbers (a move alone is not told)."""
    categories = load_categories()
    was = {f.category: f for f in before if f.said}
    now = {f.category: f for f in after if f.said}
    came = [f.said_as or phrase(f, categories) for c, f in now.items() if c not in was or f.count != was[c].count]
    gone = [categories[c].one for c in was if c not in now]
    said = []
    if came:
        said.append(f"Now: {join(came)}.")
    if gone:
        said.append(f"No longer in view: {join(gone)}.")
    return " ".join(said)


def join(phrases: Sequence[str]) -> str:
    """Phrases as a listener hears a list: "a, b and c"."""
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


class ObjectFinder:
    """Detections, recognition, caption words and the person probe -> what is present, how many, where."""

    def __init__(self, calibration: ObjectCalibration, categories: Mapping[str, Category] | None = None) -> None:
        self.calibration = calibration
        self.categories = dict(categories or load_categories())
        # Each category's rivals: the others of its kind that share none of its ImageNet groups.
        self.rivals = {name: tuple(n for n, other in self.categories.items() if n != name and other.kind == c.kind
                                   and not set(other.groups) & set(c.groups))
                       for name, c in self.categories.items()}

    def evidence(self, detections: Sequence[Detection], group_probability: Mapping[str, float],
                 caption_probability: Mapping[str, float], probe: float,
                 floor: float | None = None) -> list[tuple[str, list[float], list[Detection]]]:
        """(category, features, its boxes at or above the floor, highest score first) for every category with
        any evidence in one photo (and always the person).

        group_probability: ImageNet group name -> probability; caption_probability: category -> the best
        caption's probability for a word naming it (absent: not named); probe: the person probe's logit."""
        floor = self.calibration.floor if floor is None else floor
        by_category: dict[str, list[Detection]] = {}
        for d in sorted(detections, key=lambda d: -d.score):
            if d.score >= floor and d.category in self.categories:
                by_category.setdefault(d.category, []).append(d)
        candidates = set(by_category) | (set(caption_probability) & set(self.categories)) | {PERSON}
        candidates |= {n for n, c in self.categories.items()
                       if any(group_probability.get(g, 0.0) >= 0.05 for g in c.groups)}
        recognized = {n: sum(group_probability.get(g, 0.0) for g in c.groups) for n, c in self.categories.items()}
        out = []
        for name in sorted(candidates):
            rival = max((recognized[n] for n in self.rivals[name]), default=0.0)
            recognizer = recognized[name] if self.categories[name].groups and group_probability else None
            row = evidence_row(by_category.get(name, []), recognizer, caption_probability.get(name, 0.0), probe,
                               name == PERSON, rival)
            out.append((name, row, by_category.get(name, [])))
        return out

    def find(self, detections: Sequence[Detection], group_probability: Mapping[str, float],
             caption_probability: Mapping[str, float], probe: float) -> list[Found]:
        """Every category with any evidence in one photo, most salient first (said ones before the rest)."""
        cal = self.calibration
        out = []
        for name, row, dets in self.evidence(detections, group_probability, caption_probability, probe):
            person = name == PERSON
            p = float((cal.people if person else cal.objects).probability(np.array([row]))[0])
            counted = count(dets, cal.person_count_score if person else cal.count_score, cal.min_area)
            out.append(Found(name, p, len(counted), counted, where(counted),
                             said=p >= (cal.person_say if person else cal.say),
                             supports=p >= (cal.person_support if person else cal.support)))
        return sorted(out, key=lambda f: (not f.said, -(f.probability * (0.05 + math.sqrt(f.area))), f.category))


def count(detections: Sequence[Detection], score: float, min_area: float) -> tuple[Box, ...]:
    """The boxes that count as one thing each: at or above a score and an area, and not mostly inside a box
    already counted (NanoDet often boxes a person's upper body beside the whole person), largest first."""
    kept: list[Box] = []
    for d in sorted(detections, key=lambda d: -d.score):
        if d.score >= score and box_area(d.box) >= min_area and not any(_inside(d.box, k) for k in kept):
            kept.append(d.box)
    return tuple(sorted(kept, key=box_area, reverse=True))


def _inside(a: Box, b: Box) -> bool:
    """Whether most of the smaller of two boxes lies inside the other (CONTAINED of its area)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h > CONTAINED * max(min(box_area(a), box_area(b)), 1e-9)
