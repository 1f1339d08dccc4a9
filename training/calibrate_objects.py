"""Calibrating what the describer says of objects and people from the detector's evidence (issue 26).

    python -m training.calibrate_objects [--data ../shared/data]

Dev set (fitted on): the train halves of COCO-mini and COCO-tiny (160 photos with official boxes) and, for
people and animals only, the Flickr8k val split (1,000 photos, present when a reference caption names it:
its captions name the people and animals in view, not every object).
Held out (never read here): COCO-mini val, COCO-tiny val, Flickr8k test; benchmarks/objects_truth.py reports
on them.

For every (photo, category) with any evidence (model.describing.objects.ObjectFinder.evidence: the detector's best
box, its area, how many boxes, the recognizer's groups for the category, the caption's word, and for people
the person probe), a logistic model per kind (people, everything else) is fitted on the dev pairs labelled
by the boxes. Then, as for recognition (training/calibrate_recognition.py), each threshold is the lowest
fused probability whose pairs are right at least the target share of the time on each dev source: `say`
(an object said on its own), `support` (it backs a caption that names it), and the same for people with
stricter targets (a person said where there is none is the falsehood users notice most). The count score is
the detector score above which boxes (covering at least 1% of the photo) give the most exact counts on
the dev photos. The section goes to model/data/calibration.json ("objects"), the rest of the file unchanged.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.captioner.caption import Caption
from model.describing.calibration import CALIBRATION_FILE, Calibration
from model.describing.describer import Describer
from model.describing.detection import Detection, ObjectDetector
from model.describing.objects import (
    MAX_COUNT,
    OBJECT_FEATURES,
    PERSON,
    PERSON_FEATURES,
    FusionModel,
    ObjectCalibration,
    ObjectFinder,
    count,
)
from model.describing.recognition import Recognizer
from model.images import load_image

from .calibrate_recognition import robust_threshold
from .data import data_root, load_records, select_split
from .hallucination import coco_objects
from .logistic import auc, fit_logistic
from .object_truth import COUNT_AREA, CROWD, labelled_photos, truth_scores

FLOOR = 0.05  # detector boxes below this score are not evidence
TARGETS = {"say": 0.9, "support": 0.8, "person_say": 0.98, "person_support": 0.9}
SAY_TARGETS = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7)  # tried for objects' `say`; the rule below picks one
MAX_ABSENT = 0.05  # at most this share of dev descriptions may name a category with no box there
MIN_PRESENT = 0.9  # and of the objects they say, at least this share must be there
COUNT_SCORES = tuple(round(s, 2) for s in np.arange(0.15, 0.75, 0.05))


@dataclass(frozen=True)
class DevPhoto:
    """One dev photo's raw evidence, computed once, and its truth."""

    source: str
    candidates: tuple[Caption, ...]
    group_probs: np.ndarray  # (G,)
    probe: float
    detections: tuple[Detection, ...]
    categories: frozenset[str]  # present: boxes (COCO), or named by a reference caption (Flickr8k)
    counts: dict[str, int]  # boxes of at least COUNT_AREA by category, a crowd region as CROWD + 1 (COCO only)


def collect(describer: Describer, detector: ObjectDetector, items: Sequence[tuple],
            batch_size: int = 16) -> list[DevPhoto]:
    """Each photo's evidence: items are (source, path, categories, counts)."""
    out = []
    for lo in range(0, len(items), batch_size):
        chunk = items[lo : lo + batch_size]
        pictures = [load_image(path) for _, path, _, _ in chunk]
        features = describer.captioner.encode(pictures)
        nbest = describer.captioner.n_best(features, 3, no_repeat_ngram=describer.no_repeat_ngram)
        groups = describer.recognizer.group_probabilities(features.logits)  # (B, G)
        probes = describer.recognizer.person_logits(features.pooled)
        probes = np.zeros(len(chunk)) if probes is None else probes
        boxes = detector.detect(pictures)
        for (source, _, cats, counts), cands, g, probe, dets in zip(chunk, nbest, groups, probes, boxes):
            out.append(DevPhoto(source, tuple(cands), g, float(probe), tuple(dets), frozenset(cats), counts))
    return out


def dev_items(data: Path) -> list[tuple]:
    """The dev photos as collect() takes them, (source, path, categories present, counts), in a fixed order:
    the labelled COCO train halves, then Flickr8k val (present: what a reference caption names)."""
    items = [(p.source, p.path, p.categories, p.counts()) for p in labelled_photos(data, "dev")]
    flickr = data / "flickr8k"
    for r in select_split(load_records(flickr / "captions_flickr8k.json", flickr / "images"), "val"):
        named = set().union(*(coco_objects(c) for c in r.captions))
        items.append(("flickr8k-val", r.path, named, {}))
    return items


def dev_photos(data: Path, describer: Describer, detector: ObjectDetector, cache: Path) -> list[DevPhoto]:
    """The dev photos' evidence, from the cache when it was collected by the same detector and models."""
    import model.describing.detection  # its graph and its code (how photos are fed to it) decide the evidence

    code = Path(model.describing.detection.__file__).read_bytes()
    key = hashlib.sha256(Path(detector.path).read_bytes() + code).hexdigest()
    if cache.is_file():
        saved = pickle.loads(cache.read_bytes())  # our own cache, written below
        if saved.get("key") == key:
            return saved["photos"]
    photos = collect(describer, detector, dev_items(data))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps({"key": key, "photos": photos}))
    return photos


def rows(describer: Describer, finder: ObjectFinder, photos: Sequence[DevPhoto], person: bool):
    """(features (N, F), labels (N,), sources (N,)) of the dev pairs of one kind."""
    x, y, src = [], [], []
    for ph in photos:
        groups, words = describer.category_evidence(ph.candidates, ph.group_probs)
        for name, row, _ in finder.evidence(ph.detections, groups, words, ph.probe, floor=FLOOR):
            if not person and ph.source == "flickr8k-val" and finder.categories[name].kind != "animal":
                continue  # Flickr8k's captions name its animals and people, not every object in view
            if (name == PERSON) == person:
                x.append(row)
                y.append(name in ph.categories)
                src.append("coco" if ph.source.startswith("coco") else ph.source)
    return np.array(x, dtype=np.float64), np.array(y, dtype=bool), np.array(src)


def fit(x: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> tuple[FusionModel, np.ndarray]:
    """The fitted model and its dev probabilities."""
    w, b = fit_logistic(x, y.astype(float))
    model = FusionModel(names, tuple(float(v) for v in w), b)
    return model, model.probability(x)


def thresholds(p: np.ndarray, y: np.ndarray, src: np.ndarray, target: float) -> tuple[float, dict]:
    """The lowest probability right >= target on every dev source."""
    return robust_threshold({s: (p[src == s], y[src == s]) for s in sorted(set(src))}, target)


def best_count_score(photos: Sequence[DevPhoto], person: bool) -> tuple[float, dict[str, dict[str, float]]]:
    """The detector score whose boxes (of at least COUNT_AREA) count best on the dev photos, of people or of
    the other categories present (more than CROWD being one answer); of scores tied the higher, which boxes
    fewer duplicates (NanoDet boxes a person's edge apart at low scores).

    People: the most exact counts (issue 26 asks for exact counts of people). Other things: the most exact
    counts less the counts too high, since "four sinks" of one sink names three that are not there, while
    "a sink" of two names only what is there."""
    accuracy: dict[str, dict[str, float]] = {"exact": {}, "too_high": {}}
    score = {}
    for s in COUNT_SCORES:
        right = over = total = 0
        for ph in photos:
            for name, truth in ph.counts.items():
                if (name == PERSON) != person or not truth:
                    continue
                n = min(len(count([d for d in ph.detections if d.category == name], s, COUNT_AREA)), CROWD + 1)
                right += n == min(truth, CROWD + 1)
                over += n > min(truth, CROWD + 1)
                total += 1
        accuracy["exact"][str(s)] = right / max(total, 1)
        accuracy["too_high"][str(s)] = over / max(total, 1)
        score[s] = (right - (0 if person else over)) / max(total, 1)
    return float(max(COUNT_SCORES, key=lambda s: (round(score[s], 9), s))), accuracy


def calibrate(photos: Sequence[DevPhoto], describer: Describer, targets: dict[str, float] = TARGETS) -> dict:
    """The "objects" section of the calibration file at these precision targets, with the dev numbers."""
    placeholder = ObjectCalibration(
        FusionModel(OBJECT_FEATURES, (0.0,) * len(OBJECT_FEATURES), 0.0),
        FusionModel(PERSON_FEATURES, (0.0,) * len(PERSON_FEATURES), 0.0),
        1.01, 1.01, 1.01, 1.01, 1.0, 1.0, COUNT_AREA, FLOOR)
    finder = ObjectFinder(placeholder)
    xo, yo, so = rows(describer, finder, photos, person=False)
    xp, yp, sp = rows(describer, finder, photos, person=True)
    objects, po = fit(xo, yo, OBJECT_FEATURES)
    people, pp = fit(xp, yp, PERSON_FEATURES)
    say, say_by = thresholds(po, yo, so, targets["say"])
    support, support_by = thresholds(po, yo, so, targets["support"])
    person_say, person_say_by = thresholds(pp, yp, sp, targets["person_say"])
    person_support, person_support_by = thresholds(pp, yp, sp, targets["person_support"])
    count_score, count_acc = best_count_score(photos, person=False)
    person_count, person_count_acc = best_count_score(photos, person=True)
    return {
        "model": {"features": list(OBJECT_FEATURES), "weights": list(objects.weights), "bias": objects.bias},
        "person_model": {"features": list(PERSON_FEATURES), "weights": list(people.weights), "bias": people.bias},
        "say": say, "support": support, "person_say": person_say, "person_support": person_support,
        "count_score": count_score, "person_count_score": person_count, "min_area": COUNT_AREA, "floor": FLOOR,
        "numbers": {
            "written_by": "python -m training.calibrate_objects",
            "date": datetime.date.today().isoformat(),
            "dev_set": {s: sum(ph.source == s for ph in photos) for s in sorted({ph.source for ph in photos})},
            "targets": targets,
            "rule": "lowest fused probability whose dev pairs are right >= target on each dev source (coco: "
                    "COCO-mini and COCO-tiny train; for people also flickr8k-val); count score: most exact dev counts "
                    "(people), most exact less those too high (other things)",
            "pairs": {"objects": len(yo), "objects_present": int(yo.sum()), "people": len(yp),
                      "people_present": int(yp.sum())},
            "dev_auc": {"objects": auc(po, yo), "people": auc(pp, yp),
                        "objects_detector_alone": auc(xo[:, 0], yo), "people_detector_alone": auc(xp[:, 0], yp),
                        "people_probe_alone": auc(xp[:, 4], yp)},
            "by_source": {"say": say_by, "support": support_by, "person_say": person_say_by,
                          "person_support": person_support_by},
            "count_accuracy": {"objects": count_acc, "people": person_count_acc},
            "crowd": f"more than {MAX_COUNT} people",
        },
    }


def spoken(photos: Sequence[DevPhoto], describer: Describer) -> list[str]:
    """The describer's sentences for cached dev evidence (no text read)."""
    return [describer.compose(ph.candidates, ph.group_probs, None, found=describer.find(
        ph.detections, ph.candidates, ph.group_probs, ph.probe)).sentence for ph in photos]


def choose(photos: Sequence[DevPhoto], describer: Describer, data: Path) -> dict:
    """Calibrate at each `say` target; keep the one whose dev descriptions say the most of the large things
    present while naming an absent category in at most MAX_ABSENT of them and being right about at least
    MIN_PRESENT of the objects they say (the dev COCO photos, truth from their boxes)."""
    truth = labelled_photos(data, "dev")
    coco = [ph for ph in photos if ph.source != "flickr8k-val"]
    assert len(coco) == len(truth), "the dev cache and the dev photos differ"
    tried = {}
    for target in SAY_TARGETS:
        section = calibrate(photos, describer, {**TARGETS, "say": target})
        trial = Describer(describer.captioner, describer.recognizer, detector=describer.detector,
                          calibration=describer.calibration.with_objects(section))
        tried[target] = (section, truth_scores(spoken(coco, trial), truth, trial.said_counts))
        print(f"say target {target}: " + ", ".join(f"{k} {v:.3f}" for k, v in tried[target][1].items()
                                                    if isinstance(v, float)))
    ok = [t for t, (_, sc) in tried.items()
          if sc["chair_absent"] <= MAX_ABSENT and sc["objects_present"] >= MIN_PRESENT]
    best = max(ok, key=lambda t: tried[t][1]["large_said"]) if ok else max(tried)
    section, _ = tried[best]
    section["numbers"]["say_target"] = {"chosen": best, "rule": f"most large categories said with dev absent <= "
                                        f"{MAX_ABSENT} and objects present >= {MIN_PRESENT}",
                                        "dev_scores": {str(t): sc for t, (_, sc) in tried.items()}}
    return section


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.calibrate_objects")
    p.add_argument("--data", default=str(data_root()), help="the shared data folder (default: %(default)s)")
    p.add_argument("--cache", default="cache/objects_dev.pkl", help="where the dev evidence is kept between runs")
    p.add_argument("--out", default=str(CALIBRATION_FILE))
    args = p.parse_args(argv)
    from model.captioner.onnx_engine import OnnxCaptioner

    captioner = OnnxCaptioner.default()
    calibration = Calibration.load(args.out)
    detector = ObjectDetector.default()
    describer = Describer(captioner, Recognizer.for_captioner(captioner, calibration=calibration),
                          calibration=calibration, detector=detector)
    photos = dev_photos(Path(args.data), describer, detector, Path(args.cache))
    section = choose(photos, describer, Path(args.data))
    data = json.loads(Path(args.out).read_text())
    data["objects"] = section
    Path(args.out).write_text(json.dumps(data, indent=1, default=float) + "\n")
    n = section["numbers"]
    print(f"dev AUC objects {n['dev_auc']['objects']:.3f} people {n['dev_auc']['people']:.3f}; "
          f"say {section['say']:.3f} "
          f"person_say {section['person_say']:.3f}; count scores {section['count_score']} / "
          f"{section['person_count_score']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
