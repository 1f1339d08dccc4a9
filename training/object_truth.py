"""Object truth from COCO boxes: which categories a photo shows, how many people, and how often what seesay
says of them is right (issue 26).

    photos = labelled_photos(data_root(), "held-out")   # coco-mini val + coco-tiny val, never fitted on
    truth_scores(sentences, photos, said_counts)        # the figures benchmarks/objects_truth.py reports

The labelled photos are the 317 COCO photos of the shared data with official boxes: COCO-mini (159, with
captions) and COCO-tiny (158, captions for its val half). Their train halves are the dev set the object
calibration is fitted on (training/calibrate_objects.py); their val halves are held out for reporting.
What a description names is read with the CHAIR synonym table (training/hallucination.py), so a listener's
"a man" is a person and "a table" a dining table.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .hallucination import coco_objects

PERSON = "person"
COUNT_AREA = 0.01  # a person counts when their box covers at least this share of the photo (issue 26)
RECALL_AREA = 0.05  # a category should be said when one of its boxes covers at least this share
CROWD = 5  # more people than this are "a crowd"
COUNT_KINDS = ("exact", "too_high", "too_low", "no_number", "unsaid")  # how the people of a photo are counted
SPLITS = {
    "dev": (("coco-mini", "train2017"), ("coco-tiny", "train2017")),
    "held-out": (("coco-mini", "val2017"), ("coco-tiny", "val2017")),
}


@dataclass(frozen=True)
class LabelledPhoto:
    """One COCO photo with its boxes."""

    image_id: int
    source: str  # "coco-mini-val2017" ...
    path: Path
    boxes: tuple[tuple[str, float, bool], ...]  # (category, share of the photo its box covers, crowd region)
    captions: tuple[str, ...] = ()

    @property
    def categories(self) -> frozenset[str]:
        """Every category with a box."""
        return frozenset(c for c, _, _ in self.boxes)

    def large(self, area: float = RECALL_AREA) -> frozenset[str]:
        """Categories with a box covering at least `area` of the photo."""
        return frozenset(c for c, a, _ in self.boxes if a >= area)

    def counts(self) -> dict[str, int]:
        """Boxes covering at least COUNT_AREA of the photo, by category; a crowd region counts as CROWD + 1."""
        out: dict[str, int] = {}
        for c, a, crowd in self.boxes:
            out[c] = max(out.get(c, 0), CROWD + 1) if crowd else out.get(c, 0) + (a >= COUNT_AREA)
        return out

    @property
    def people(self) -> int:
        """People whose box covers at least COUNT_AREA of the photo (more than CROWD for a crowd region)."""
        return self.counts().get(PERSON, 0)


def labelled_photos(data: Path, split: str) -> list[LabelledPhoto]:
    """The labelled COCO photos of a split ("dev" or "held-out"), in a fixed order."""
    from pycocotools.coco import COCO

    out = []
    for folder, part in SPLITS[split]:
        root = data / folder
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
            coco = COCO(str(root / "annotations" / f"instances_{part}.json"))
        captions_file = root / "annotations" / f"captions_{part}.json"
        captions: dict[int, list[str]] = {}
        if captions_file.is_file():
            with contextlib.redirect_stdout(io.StringIO()):
                caps = COCO(str(captions_file))
            for a in caps.dataset["annotations"]:
                captions.setdefault(a["image_id"], []).append(a["caption"].strip())
        names = {c["id"]: c["name"] for c in coco.dataset["categories"]}
        for image_id in sorted(coco.getImgIds()):
            info = coco.loadImgs(image_id)[0]
            size = float(info["width"] * info["height"])
            boxes = tuple((names[a["category_id"]], a["bbox"][2] * a["bbox"][3] / size, bool(a["iscrowd"]))
                          for a in coco.loadAnns(coco.getAnnIds(imgIds=image_id)))
            out.append(LabelledPhoto(image_id, f"{folder}-{part}", root / part / info["file_name"], boxes,
                                     tuple(captions.get(image_id, ()))))
    return out


def said_number(sentence: str, claim: tuple[int, bool] | None) -> int | None:
    """How many people a description says: CROWD + 1 for "a crowd", else its claim's number (Concepts.counts)
    where that is exact ("a man", "two people"); None where it says none or a plural without a number."""
    if "crowd" in sentence.lower():
        return CROWD + 1
    return claim[0] if claim is not None and claim[1] else None


def count_kind(sentence: str, photo: LabelledPhoto, said_counts: Callable[[str], dict[str, tuple[int, bool]]]) -> str:
    """How a description counts the people of a photo with some: "exact", "too_high", "too_low", "no_number" (a
    person named, no number: "people") or "unsaid" (no person named)."""
    if PERSON not in coco_objects(sentence):
        return "unsaid"
    said = said_number(sentence, said_counts(sentence).get(PERSON))
    if said is None:
        return "no_number"
    said, truth = min(said, CROWD + 1), min(photo.people, CROWD + 1)
    return "exact" if said == truth else "too_high" if said > truth else "too_low"


def truth_scores(sentences: Sequence[str], photos: Sequence[LabelledPhoto],
                 said_counts: Callable[[str], dict[str, tuple[int, bool]]]) -> dict[str, Any]:
    """The issue's figures for a list of descriptions of labelled photos.

    objects_present: of the (photo, category) pairs said, other than people, the share with a box there;
    people_present: of the photos where a person is said, the share with a person box;
    count_right: of the photos with a person box of at least COUNT_AREA, the share whose description says
    the number of such people exactly (or a crowd for more than CROWD); people_counts: those photos by
    count_kind, so that what goes wrong is seen (a number too high or too low, none, no person said);
    large_said: of the categories with a box of at least RECALL_AREA, the share said;
    chair_absent / chair_present: the share of descriptions naming a category with no box, and naming at
    least one with a box (CHAIR-style, Rohrbach et al. 2018, with the boxes as truth);
    object_counts_right / object_counts_too_high: of the numbers said of things other than people ("two buses",
    "a sink"), the share equal to its boxes of at least COUNT_AREA, and the share above all its boxes."""
    numbers = numbers_right = numbers_high = 0
    said_pairs = right_pairs = people_said = people_right = large = large_hit = 0
    kinds = dict.fromkeys(COUNT_KINDS, 0)
    absent = present = 0
    for sentence, photo in zip(sentences, photos):
        named = coco_objects(sentence)
        truth = photo.categories
        others = named - {PERSON}
        said_pairs += len(others)
        right_pairs += len(others & truth)
        if PERSON in named:
            people_said += 1
            people_right += PERSON in truth
        if photo.people:
            kinds[count_kind(sentence, photo, said_counts)] += 1
        for name, (k, exact) in said_counts(sentence).items():
            if name != PERSON and exact and name in truth:
                numbers += 1
                numbers_right += k == min(photo.counts().get(name, 0), CROWD + 1)
                numbers_high += k > sum(box[0] == name for box in photo.boxes)
        wanted = photo.large()
        large += len(wanted)
        large_hit += len(wanted & named)
        absent += bool(named - truth)
        present += bool(named & truth)
    n = max(len(photos), 1)
    return {
        "photos": len(photos),
        "objects_said": said_pairs, "objects_present": right_pairs / max(said_pairs, 1),
        "people_said": people_said, "people_present": people_right / max(people_said, 1),
        "photos_with_people": sum(kinds.values()), "count_right": kinds["exact"] / max(sum(kinds.values()), 1),
        "people_counts": kinds,
        "large_categories": large, "large_said": large_hit / max(large, 1),
        "chair_absent": absent / n, "chair_present": present / n, "object_counts": numbers,
        "object_counts_right": numbers_right / max(numbers, 1),
        "object_counts_too_high": numbers_high / max(numbers, 1),
    }
