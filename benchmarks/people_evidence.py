"""How far the bundled detectors' evidence can take saying and counting people (issue 26), on the dev photos
alone: the person model the describer uses beside the same model with MoveNet MultiPose's evidence added,
and the most exact people counts any person threshold allows while the people said stay right.

    python benchmarks/people_evidence.py [--data ../shared/data] [--out benchmarks/results/people_evidence.json]

Photos: the object calibration's dev set (COCO-mini and COCO-tiny train, with boxes; Flickr8k val, whose
captions name the people), evidence collected as `python -m training.calibrate_objects` collects it (and
from its cache). Nothing held out is read. Each model is fitted and scored by 5-fold cross-validation over
the dev pairs, so a feature is credited only for what it adds on photos it was not fitted on.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
from pathlib import Path

import numpy as np
from report import add_data_argument, save, show

from model.captioner.onnx_engine import OnnxCaptioner
from model.describing.calibration import Calibration
from model.describing.describer import Describer
from model.describing.detection import ObjectDetector, PoseDetector
from model.describing.objects import PERSON, ObjectFinder, count
from model.describing.recognition import Recognizer
from model.images import load_image
from training.calibrate_objects import FLOOR, dev_items, dev_photos
from training.logistic import auc, fit_logistic
from training.object_truth import CROWD

FOLDS = 5
TARGETS = (0.98, 0.95)  # shares of the people said that must be right


def poses(paths: list[Path], cache: Path) -> list[tuple[float, float]]:
    """(best person score, share of its 17 keypoints scoring 0.3 or more) per photo, from MoveNet."""
    pose = PoseDetector.default(floor=0.0)
    key = hashlib.sha256(pose.path.read_bytes() + "\n".join(map(str, paths)).encode()).hexdigest()
    if cache.is_file() and (saved := pickle.loads(cache.read_bytes())).get("key") == key:  # our own cache
        return saved["poses"]
    out = []
    for path in paths:
        found = pose.detect([load_image(path)])[0]
        out.append((found[0].score, sum(s >= 0.3 for _, _, s in found[0].keypoints) / 17) if found else (0.0, 0.0))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps({"key": key, "poses": out}))
    return out


def cross_validated(x: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Each pair's probability from a model fitted on the other folds."""
    folds = np.random.default_rng(seed).integers(0, FOLDS, len(y))
    p = np.zeros(len(y))
    for k in range(FOLDS):
        w, b = fit_logistic(x[folds != k], y[folds != k].astype(float))
        p[folds == k] = 1.0 / (1.0 + np.exp(-(x[folds == k] @ w + b)))
    return p


def recall_at(p: np.ndarray, y: np.ndarray, target: float) -> float:
    """The largest share of the present ones said with the said ones right at least target of the time."""
    order = np.argsort(-p, kind="stable")
    right = np.cumsum(y[order])
    ok = np.flatnonzero(right / np.arange(1, len(y) + 1) >= target)
    return float(right[ok[-1]] / max(y.sum(), 1)) if ok.size else 0.0


def best_counts(p: np.ndarray, y: np.ndarray, counted: np.ndarray, exact: np.ndarray, target: float) -> float:
    """Of the photos with people to count (counted: a person box covering COUNT_AREA of the photo, as issue 26
    counts), the most whose number is right at any threshold keeping the people said right at least target of
    the time (a photo where no person is said has no number right)."""
    best = 0.0
    for t in np.unique(p):
        said = p >= t
        if y[said].mean() >= target:
            best = max(best, float((said & counted & exact).sum() / max(counted.sum(), 1)))
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    add_data_argument(ap)
    ap.add_argument("--cache", default="cache/objects_dev.pkl", help="the dev evidence, as calibrate_objects keeps it")
    ap.add_argument("--out", default="benchmarks/results/people_evidence.json")
    args = ap.parse_args()
    data = Path(args.data)
    captioner, calibration = OnnxCaptioner.default(), Calibration.load()
    detector = ObjectDetector.default()
    describer = Describer(captioner, Recognizer.for_captioner(captioner, calibration=calibration),
                          calibration=calibration, detector=detector)
    photos = dev_photos(data, describer, detector, Path(args.cache))
    pose = poses([path for _, path, _, _ in dev_items(data)], Path(args.cache).with_name("people_evidence_poses.pkl"))
    finder, cal = ObjectFinder(calibration.objects), calibration.objects
    x, y, coco, counted, exact = [], [], [], [], []
    for ph, (score, keypoints) in zip(photos, pose, strict=True):
        groups, words = describer.category_evidence(ph.candidates, ph.group_probs)
        for name, row, _ in finder.evidence(ph.detections, groups, words, ph.probe, floor=FLOOR):
            if name == PERSON:
                said = min(len(count([d for d in ph.detections if d.category == PERSON], cal.person_count_score,
                                     cal.min_area)), CROWD + 1)
                x.append([*row, np.log(max(score, 1e-4) / max(1 - score, 1e-4)), keypoints])
                y.append(PERSON in ph.categories)
                coco.append(ph.source.startswith("coco"))
                counted.append(ph.counts.get(PERSON, 0) > 0)
                exact.append(said == min(ph.counts.get(PERSON, 0), CROWD + 1))
    x, y, coco, counted, exact = (np.array(v) for v in (x, y, coco, counted, exact))
    base = x.shape[1] - 2
    models = {"today's": x[:, :base],  # detector, area, boxes, caption, probe (PERSON_FEATURES)
              "+ MoveNet's score": x[:, : base + 1],  # its best person's score, as a logit
              "+ score, keypoints": x}  # and the share of that person's keypoints scoring 0.3 or more
    rows, numbers = [], {}
    for name, features in models.items():
        p = cross_validated(features, y)
        m = {"auc": auc(p, y), "coco_auc": auc(p[coco], y[coco])}
        for t in TARGETS:
            m[f"coco_recall_at_{t}"] = recall_at(p[coco], y[coco], t)
            m[f"flickr_recall_at_{t}"] = recall_at(p[~coco], y[~coco], t)
            m[f"coco_counts_at_{t}"] = best_counts(p[coco], y[coco], counted[coco], exact[coco], t)
        numbers[name] = m
        rows.append([name, f"{m['auc']:.4f}", f"{m['coco_auc']:.4f}",
                     *(f"{100 * m[f'coco_recall_at_{t}']:.1f}%" for t in TARGETS),
                     *(f"{100 * m[f'coco_counts_at_{t}']:.1f}%" for t in TARGETS)])
    alone = float(exact[coco & counted].mean())
    show(f"People on the dev photos ({int(coco.sum())} COCO, {int((~coco).sum())} Flickr8k val; {int(y[coco].sum())} "
         f"COCO photos with people, {int(counted[coco].sum())} to count), {FOLDS}-fold cross-validated",
         ("person model", "AUC", "COCO AUC", *(f"COCO said at {t}" for t in TARGETS),
          *(f"COCO counted at {t}" for t in TARGETS)), rows,
         "said at T: the share of COCO photos with people where a person can be said with the people said right T "
         "of the time; counted at T: of the photos with people to count, the most whose number is right at any "
         "such threshold.",
         f"Counting alone (the detector's boxes at score {cal.person_count_score}, at least {cal.min_area:.0%} of "
         f"the photo): right on {100 * alone:.1f}% of the COCO photos with people to count, said or not.")
    save(args.out, photos=len(photos), coco_photos=int(coco.sum()), coco_with_people=int(y[coco].sum()),
         coco_with_people_to_count=int(counted[coco].sum()), folds=FOLDS, models=numbers,
         counts_right_said_or_not=alone)


if __name__ == "__main__":
    main()
