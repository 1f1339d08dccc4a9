"""The two engines side by side on this machine: ONNX Runtime (the default on a CPU) and PyTorch.

    python benchmarks/engines.py [--photos 30] [--runs 5] [--cold-runs 7] [--batches 1 4 16 64 256]
        [--agree 1000] [--out benchmarks/results/engines_cpu.json]

- Cold start: wall time and peak memory of whole `seesay caption PHOTO` processes on each engine, with and
  without reading text, against `python -c "import torch"`, interleaved (median of --cold-runs each).
- Describing one photo, model loaded, batch 1 (caption, recognition, objects, composition): each engine's
  median photo over --photos Flickr8k test photos, median of --runs runs.
- Captioning throughput, photos/s, encoder + beam 3 with the describer's repeat blocking, for each batch
  size, the runs of both engines interleaved; photos decoded and preprocessed once (as caption_throughput.py).
- Agreement: how many of --agree Flickr8k test photos and all 159 COCO-mini photos the two engines describe
  with the same sentence.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from report import add_data_argument, fmt, save, show, spread

from assistant.runtime import Runtime
from assistant.settings import Settings
from model import Captioner, load_image
from model.captioner.engine import Encoded
from model.captioner.onnx_engine import OnnxCaptioner
from model.describing.describer import Describer

SEESAY = [sys.executable, "-m", "assistant", "caption"]
COLD = {
    "seesay caption PHOTO (onnx)": [*SEESAY, "{photo}"],
    "seesay caption --no-text PHOTO (onnx)": [*SEESAY, "--no-text", "{photo}"],
    "seesay caption --engine torch PHOTO": [*SEESAY, "--engine", "torch", "{photo}"],
    "seesay caption --engine torch --no-text PHOTO": [*SEESAY, "--engine", "torch", "--no-text", "{photo}"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
}
# Runs a command and prints its peak resident memory (children's maxrss covers the one child it ran).
MEMORY = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); " \
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"


def cold_starts(photo: Path, runs: int) -> tuple[dict, dict]:
    """Wall seconds (interleaved runs) and peak MB (one run) of each COLD command."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    seconds: dict[str, list[float]] = {k: [] for k in COLD}
    for _ in range(runs):
        for label, argv in COLD.items():
            t0 = time.perf_counter()
            subprocess.run([a.format(photo=photo) for a in argv], check=True, capture_output=True, env=env)
            seconds[label].append(time.perf_counter() - t0)
    memory = {}
    for label, argv in COLD.items():
        out = subprocess.run([sys.executable, "-c", MEMORY, *(a.format(photo=photo) for a in argv)], check=True,
                             capture_output=True, text=True, env=env)
        memory[label] = float(out.stdout.strip())
    return {k: spread(v) for k, v in seconds.items()}, memory


def describe_latency(describer: Describer, photos: list[Path], runs: int) -> dict:
    """Median seconds to describe one photo (decoded beforehand), median of runs."""
    pictures = [load_image(p) for p in photos]
    describer.describe(pictures[:2])  # warm-up
    medians = []
    for _ in range(runs):
        times = []
        for pic in pictures:
            t0 = time.perf_counter()
            describer.describe([pic])
            times.append(time.perf_counter() - t0)
        medians.append(statistics.median(times))
    return spread(medians)


def throughput(engines: dict, pool: np.ndarray, batches: list[int], runs: int, min_photos: int = 64) -> dict:
    """Photos/s of encoder + beam 3 (repeat blocking 2) for each engine and batch, runs interleaved."""
    def one_batch(name: str, x: np.ndarray) -> None:
        cap = engines[name]
        if name == "onnx":
            parts = [cap._encoder.run(None, {"images": x[i : i + cap.micro_batch]}) for i in range(0, len(x), cap.micro_batch)]
            feats = Encoded(np.concatenate([p[0] for p in parts]), None)
        else:
            with torch.inference_mode():
                feats = cap.encoder(torch.from_numpy(x))
        cap.n_best(feats, 3, no_repeat_ngram=2)

    rates: dict[tuple[str, int], list[float]] = {(n, b): [] for n in engines for b in batches}
    for name in engines:
        for b in batches:
            one_batch(name, pool[:b])  # warm-up
    for r in range(runs):
        for b in batches:
            for name in engines:
                done, t0 = 0, time.perf_counter()
                while done < max(b, min_photos):
                    idx = (np.arange(b) + r * 64 + done) % len(pool)
                    one_batch(name, pool[idx])
                    done += b
                rates[name, b].append(done / (time.perf_counter() - t0))
        print(f"throughput round {r + 1}/{runs} done", flush=True)
    return {f"{n} batch {b}": spread(v) for (n, b), v in rates.items()}


def agreement(describers: dict, paths: list[Path]) -> dict:
    """How many photos the engines describe with the same sentence (and keep the same caption)."""
    same = total = 0
    differ = []
    for lo in range(0, len(paths), 16):
        pictures = [load_image(p) for p in paths[lo : lo + 16]]
        a, b = (d.describe(pictures) for d in describers.values())
        for p, x, y in zip(paths[lo : lo + 16], a, b):
            total += 1
            if (x.sentence, x.kept_caption) == (y.sentence, y.kept_caption):
                same += 1
            else:
                differ.append({"photo": p.name, "torch": x.sentence, "onnx": y.sentence})
    return {"photos": total, "same": same, "differ": differ}


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--photos", type=int, default=30)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--cold-runs", type=int, default=7)
    p.add_argument("--batches", nargs="+", type=int, default=[1, 4, 16, 64, 256])
    p.add_argument("--agree", type=int, default=1000, help="Flickr8k test photos to compare (0: none)")
    p.add_argument("--out", default="benchmarks/results/engines_cpu.json")
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    flickr = Path(args.data) / "flickr8k"
    test = [flickr / "images" / n for n in (flickr / "test.txt").read_text().split()]
    load = {}
    t0 = time.perf_counter()
    engines = {"torch": Captioner.default()}
    load["torch"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    engines["onnx"] = OnnxCaptioner.default()
    load["onnx"] = time.perf_counter() - t0
    # Describing as seesay does (assistant/runtime.py): the object detector on its own thread beside the
    # captioner, each with its share of the cores. The throughput rows time the engines alone, all cores each.
    describers = {n: Runtime.of(Settings(), engine=n).describer_reading(False) for n in engines}

    cold, memory = cold_starts(test[0], args.cold_runs)
    latency = {n: describe_latency(d, test[: args.photos], args.runs) for n, d in describers.items()}
    pool = np.stack([engines["torch"].encoder.preprocess(p).numpy() for p in test[: max(64, max(args.batches))]])
    rates = throughput(engines, pool, args.batches, args.runs)
    coco = sorted((Path(args.data) / "coco-mini").glob("*2017/*.jpg"))
    agree = agreement(describers, test[: args.agree] + coco) if args.agree else {}

    over = [c - t for c, t in zip(cold["seesay caption PHOTO (onnx)"]["runs"], cold['python -c "import torch"']["runs"])]
    show(f"cold start, {os.cpu_count()} CPU cores: median (min-max) of {args.cold_runs} interleaved runs",
         ("command", "seconds", "peak MB"), ([k, fmt(v, 2), f"{memory[k]:.0f}"] for k, v in cold.items()),
         f"seesay caption PHOTO minus import torch, run by run: {fmt(spread(over), 2)} s")
    show(f"describe one photo, model loaded, batch 1: median photo of {args.photos}, median (min-max) of {args.runs}",
         ("engine", "ms", "model load (s)"),
         ([n, fmt({k: v * 1e3 for k, v in s.items() if k != "runs"}), f"{load[n]:.2f}"] for n, s in latency.items()))
    show(f"captioning throughput (photos/s), encoder + beam 3; median (min-max) of {args.runs} interleaved runs",
         ("batch", *engines), ([b, *(fmt(rates[f"{n} batch {b}"]) for n in engines)] for b in args.batches))
    if agree:
        print(f"same sentence from both engines: {agree['same']} of {agree['photos']} photos")
    save(args.out, cold_start_s=cold, cold_start_peak_mb=memory, onnx_cold_start_minus_import_torch_s=spread(over),
         describe_latency_s=latency, model_load_s=load, throughput_photos_per_s=rates, agreement=agree,
         runs=args.runs, cold_runs=args.cold_runs)


if __name__ == "__main__":
    main()
