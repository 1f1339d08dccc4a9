"""The bundled detectors on COCO photos: how right they are, and how long a frame takes.

    python benchmarks/detection.py [--sets coco-mini/val2017 coco-tiny/val2017] [--runs 5] [--frames 10]
        [--threads 2] [--graph model/weights/nanodet-int8.onnx] [--out benchmarks/results/detection_cpu.json]

- Objects (NanoDet-g): COCO box mAP (pycocotools, every detection above the 0.05 floor) on each set; and at
  scores 0.3, 0.4 and 0.5, box precision and recall (a detection is right when it overlaps an unmatched
  box of its category by IoU >= 0.5; crowd regions are neither counted nor missed) and what the describer
  uses: per photo, which categories are present (precision and recall of the set of categories found).
- People (MoveNet MultiPose): COCO keypoint AP (pycocotools, OKS) on the sets with keypoints, and person
  box precision/recall at scores 0.1, 0.2 and 0.3, over every annotated person and over those at least
  32 x 32 px (MoveNet finds almost none smaller).
- Time: milliseconds per frame (a 640 x 480 COCO photo, model loaded, batch 1), median of --runs runs of
  --frames frames each, with the spread, at --threads ONNX Runtime threads.

--graph measures another NanoDet graph (the float one the int8 graph was quantised from, say).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from report import add_data_argument, fmt, save, show, spread

from model.describing.detection import ObjectDetector, PoseDetector, box_iou

OBJECT_SCORES = (0.3, 0.4, 0.5)
PERSON_SCORES = (0.1, 0.2, 0.3)  # MoveNet's person scores run lower than NanoDet's


def quiet(fn, *args):
    """fn(*args) with pycocotools' printing silenced."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def ground_truth(folder: Path, kind: str) -> COCO | None:
    """The set's instances (or person keypoints) file, None when it has none."""
    split = folder.name  # e.g. val2017
    path = folder.parent / "annotations" / f"{kind}_{split}.json"
    return quiet(COCO, str(path)) if path.is_file() else None


def coco_results(gt: COCO, found: dict[int, list], names: dict[str, int]) -> list[dict]:
    """Detections or poses in the COCO results format, in the photos' pixels."""
    out = []
    for image_id, items in found.items():
        w, h = gt.imgs[image_id]["width"], gt.imgs[image_id]["height"]
        for d in items:
            x0, y0, x1, y1 = d.box
            row = {"image_id": image_id, "score": d.score, "bbox": [x0 * w, y0 * h, (x1 - x0) * w, (y1 - y0) * h],
                   "category_id": names[getattr(d, "category", "person")]}
            if hasattr(d, "keypoints"):
                row["keypoints"] = [v for x, y, s in d.keypoints for v in (x * w, y * h, s)]
            out.append(row)
    return out


def average_precision(gt: COCO, results: list[dict], kind: str) -> dict[str, float]:
    """COCO AP (0.5:0.95) and AP at IoU or OKS 0.5."""
    if not results:
        return {"ap": 0.0, "ap50": 0.0}
    evaluation = COCOeval(gt, quiet(gt.loadRes, results), kind)
    quiet(evaluation.evaluate)
    quiet(evaluation.accumulate)
    quiet(evaluation.summarize)
    return {"ap": float(evaluation.stats[0]), "ap50": float(evaluation.stats[1])}


def matched(gt: COCO, image_id: int, items: list, names: dict[str, int], score: float,
            min_area: float = 0.0) -> tuple[int, int, int]:
    """(right detections, detections, annotated boxes of the named categories) on one photo at a score,
    greedy by score; crowds and boxes under min_area (pixels) are neither counted nor missed."""
    w, h = gt.imgs[image_id]["width"], gt.imgs[image_id]["height"]
    anns = [a for a in gt.loadAnns(gt.getAnnIds(imgIds=[image_id])) if a["category_id"] in names.values()]
    boxes = np.array([[a["bbox"][0] / w, a["bbox"][1] / h, (a["bbox"][0] + a["bbox"][2]) / w,
                       (a["bbox"][1] + a["bbox"][3]) / h] for a in anns]).reshape(-1, 4)
    cats = np.array([a["category_id"] for a in anns])
    crowd = np.array([bool(a.get("iscrowd")) or a["area"] < min_area for a in anns], dtype=bool)
    used = np.zeros(len(anns), dtype=bool)
    right = counted = 0
    for d in (d for d in items if d.score >= score):
        same = (cats == names[getattr(d, "category", "person")]) & ~used
        iou = np.where(same, box_iou(np.array([d.box]), boxes)[0], 0.0) if len(anns) else np.zeros(0)
        best = int(iou.argmax()) if iou.size else -1
        if best >= 0 and iou[best] >= 0.5:
            used[best] = True
            right += not crowd[best]
            counted += not crowd[best]
        else:
            counted += 1
    return right, counted, int((~crowd).sum())


def precision_recall(gt: COCO, found: dict[int, list], names: dict[str, int], category_set: bool) -> list[dict]:
    """Box precision and recall at each score and, for objects, per-photo category-set precision and recall."""
    rows = []
    for score in OBJECT_SCORES if category_set else PERSON_SCORES:
        tp = dets = boxes = cat_right = cat_said = cat_there = 0
        for image_id, items in found.items():
            r, c, b = matched(gt, image_id, items, names, score)
            tp, dets, boxes = tp + r, dets + c, boxes + b
            said = {names[getattr(d, "category", "person")] for d in items if d.score >= score}
            there = {a["category_id"] for a in gt.loadAnns(gt.getAnnIds(imgIds=[image_id]))}
            cat_right, cat_said, cat_there = cat_right + len(said & there), cat_said + len(said), cat_there + len(there)
        row = {"score": score, "box_precision": tp / max(dets, 1), "box_recall": tp / max(boxes, 1)}
        if not category_set:  # people at least 32 x 32 px (COCO's medium and large), the ones worth telling of
            big = [matched(gt, i, items, names, score, 32**2) for i, items in found.items()]
            row |= {"box_precision_32px": sum(b[0] for b in big) / max(sum(b[1] for b in big), 1),
                    "box_recall_32px": sum(b[0] for b in big) / max(sum(b[2] for b in big), 1)}
        else:
            row |= {"category_precision": cat_right / max(cat_said, 1), "category_recall": cat_right / max(cat_there, 1)}
        rows.append(row)
    return rows


def accuracy(folder: Path, objects: ObjectDetector, people: PoseDetector) -> dict:
    """Every figure for one set of photos."""
    out = {"set": f"{folder.parent.name}/{folder.name}"}
    gt = ground_truth(folder, "instances")
    names = {c["name"]: c["id"] for c in gt.loadCats(gt.getCatIds())}
    photos = {i: Image.open(folder / gt.imgs[i]["file_name"]).convert("RGB") for i in sorted(gt.imgs)}
    out["photos"] = len(photos)
    found = {i: objects.detect([p])[0] for i, p in photos.items()}
    out["objects"] = {**average_precision(gt, coco_results(gt, found, names), "bbox"),
                      "at": precision_recall(gt, found, names, True)}
    poses = {i: people.detect([p])[0] for i, p in photos.items()}
    person_gt = ground_truth(folder, "person_keypoints")
    out["people"] = {"at": precision_recall(gt, poses, {"person": names["person"]}, False)}
    if person_gt is not None:
        out["people"] |= average_precision(person_gt, coco_results(person_gt, poses, {"person": 1}), "keypoints")
    return out


def latency(photo: Path, detector, runs: int, frames: int) -> dict:
    """Milliseconds per frame: median of runs, each the mean over frames (after one warm-up frame)."""
    image = Image.open(photo).convert("RGB")
    detector.detect([image])
    per_run = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(frames):
            detector.detect([image])
        per_run.append((time.perf_counter() - start) / frames * 1000)
    return spread(per_run)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(p)
    p.add_argument("--sets", nargs="+", default=["coco-mini/val2017", "coco-tiny/val2017"])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--graph", help="a NanoDet graph to measure (default: the bundled one)")
    p.add_argument("--out", default="benchmarks/results/detection_cpu.json")
    args = p.parse_args()
    objects = ObjectDetector(args.graph, threads=args.threads) if args.graph else ObjectDetector.default(
        threads=args.threads)
    people = PoseDetector.default(threads=args.threads)
    sets = [accuracy(Path(args.data) / s, objects, people) for s in args.sets]
    photo = next(f for f in sorted((Path(args.data) / "coco-tiny" / "val2017").glob("*.jpg"))
                 if Image.open(f).size == (640, 480))
    timing = {"photo": photo.name, "threads": args.threads, "runs": args.runs, "frames": args.frames,
              "objects_ms": latency(photo, objects, args.runs, args.frames),
              "people_ms": latency(photo, people, args.runs, args.frames)}
    rows = []
    for s in sets:
        for o, q in zip(s["objects"]["at"], s["people"]["at"], strict=True):
            rows.append([s["set"], s["photos"], f"{s['objects']['ap']:.3f} / {s['objects']['ap50']:.3f}",
                         o["score"], f"{o['box_precision']:.2f} / {o['box_recall']:.2f}",
                         f"{o['category_precision']:.2f} / {o['category_recall']:.2f}",
                         f"{s['people'].get('ap', float('nan')):.3f}", q["score"],
                         f"{q['box_precision']:.2f} / {q['box_recall']:.2f}",
                         f"{q['box_precision_32px']:.2f} / {q['box_recall_32px']:.2f}"])
    show("bundled detectors on COCO photos", ("set", "photos", "object AP / AP50", "object score",
         "boxes P / R", "categories P / R", "keypoint AP", "person score", "people boxes P / R",
         ">= 32 px P / R"), rows,
         f"ms per frame ({photo.name}, {args.threads} threads): objects {fmt(timing['objects_ms'])}, "
         f"people {fmt(timing['people_ms'])}")
    save(args.out, sets=sets, timing=timing, graph=objects.path.name)


if __name__ == "__main__":
    main()
