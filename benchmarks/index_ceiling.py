"""The fastest `seesay index --no-text` could go on this machine with the graphs it ships (issue 29).

    python benchmarks/index_ceiling.py [--photos 160] [--runs 5] [--out benchmarks/results/index_ceiling_cpu.json]

Describing a photo runs three graphs whatever the code around them does: the object detector (one 416 px
pass a photo), the captioner's encoder and its beam search (batches of 16, as `seesay index` runs them).
Each is timed alone on one thread, in CPU seconds, on real Flickr8k test photos already decoded, so the sum
is the CPU a photo costs before any Python, decoding, embedding or database work. With every core busy and
nothing else to do, cores / that sum is the most photos a second the same descriptions allow; only other
graphs (so other descriptions) or more cores go past it. The detector is the graph this CPU loads (its uint8
twin on an x86 CPU without VNNI: model/describing/detection.py). Each figure is the median of --runs passes over the
photos, with the spread.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from PIL import Image
from report import add_data_argument, fmt, save, show, spread

from model.captioner.onnx_engine import OnnxCaptioner
from model.describing.detection import ObjectDetector

BATCH = 16  # `seesay index`'s default batch


def cpu_ms_per_photo(work, photos: int, runs: int) -> dict[str, object]:
    """CPU milliseconds a photo of work() (which handles all the photos once), median of runs with the spread."""
    work()  # warm: first runs allocate
    per = []
    for _ in range(runs):
        start = time.process_time()
        work()
        per.append(1000 * (time.process_time() - start) / photos)
    return spread(per)


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--photos", type=int, default=160)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--out", default="benchmarks/results/index_ceiling_cpu.json")
    args = p.parse_args()
    flickr = Path(args.data) / "flickr8k"
    names = (flickr / "test.txt").read_text().split()[: args.photos]
    photos = [Image.open(flickr / "images" / n).convert("RGB") for n in names]
    batches = [photos[i : i + BATCH] for i in range(0, len(photos), BATCH)]
    captioner = OnnxCaptioner.default(threads=1)
    detector = ObjectDetector.default(threads=1)
    encoded = [captioner.encode(b) for b in batches]
    squares = [detector.prepare(detector.letterbox(im)[0]) for im in photos]
    graph = detector._session  # the graph alone: letterbox, normalising and decoding are Python around it

    def detect() -> None:
        for x in squares:
            graph.run(None, {detector._input: x})

    stages = {
        f"object detector (NanoDet-g, {detector.path.name})": cpu_ms_per_photo(detect, len(photos), args.runs),
        "captioner encoder (EfficientNet-Lite0, resizing included)": cpu_ms_per_photo(
            lambda: [captioner.encode(b) for b in batches], len(photos), args.runs),
        "beam search (3 beams, 21 steps)": cpu_ms_per_photo(
            lambda: [captioner.n_best(e) for e in encoded], len(photos), args.runs),
    }
    total = sum(s["median"] for s in stages.values())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ceiling = 1000 * cores / total
    show(f"CPU a photo of each shipped graph, one thread, {len(photos)} Flickr8k photos, median of {args.runs}",
         ("graph", "ms a photo"), [*([k, fmt(v, 2)] for k, v in stages.items()), ["all three", f"{total:.1f}"]],
         f"ceiling for the same descriptions on {cores} cores: {ceiling:.1f} photos/s "
         "(every core busy with nothing but these graphs)")
    save(args.out, photos=len(photos), runs=args.runs, batch=BATCH, cores=cores,
         stages={k: v for k, v in stages.items()}, graphs_ms_per_photo=total, ceiling_photos_per_s=ceiling)


if __name__ == "__main__":
    main()
