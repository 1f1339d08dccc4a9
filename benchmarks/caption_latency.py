"""Captioning latency of the bundled model on this machine: per photo (model loaded) and cold start.

    python benchmarks/caption_latency.py [--device cpu|cuda] [--photos 30] [--runs 5] [--cold-runs 5]
        [--out benchmarks/results/caption_latency_<cpu|gpu>.json]

Per-photo times are batch 1, as in live use (`seesay describe`): encoder (JPEG decoding and preprocessing
included), beam search, and total, for beam 1 and 3. Each run passes over --photos Flickr8k test photos
and takes the median photo; the figure is the median of --runs runs, with their spread. The machine's
matmul GFLOP/s is measured before each run, and the beam-3 figure is stated as a fraction of it.

Cold start is the wall time of a whole `seesay caption PHOTO` process, model loading included, against
`python -c "import torch"` and `python -c "import model"`, interleaved in the same run (median of
--cold-runs each): what seesay adds on top of PyTorch's own start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from report import add_data_argument, fmt, matmul_gflops, peak_rss_mb, save, show, spread
from torch.utils.flop_counter import FlopCounterMode

from model import Captioner

COLD = {
    "seesay caption PHOTO": [sys.executable, "-m", "assistant", "caption", "{photo}"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    'python -c "import model"': [sys.executable, "-c", "import model"],
}


def per_photo(captioner: Captioner, photos: list[Path], beam: int, device: str) -> tuple[list, list, list]:
    """Encoder, decoder and total seconds of each photo at batch 1."""
    enc, dec, tot = [], [], []
    for photo in photos:
        t0 = time.perf_counter()
        feats = captioner.encode([photo])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        captioner.caption_features(feats, beam)
        t2 = time.perf_counter()
        enc.append(t1 - t0)
        dec.append(t2 - t1)
        tot.append(t2 - t0)
    return enc, dec, tot


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--device", default="cpu")
    p.add_argument("--photos", type=int, default=30)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--cold-runs", type=int, default=5)
    p.add_argument("--out")
    args = p.parse_args()
    device = args.device
    gpu = torch.cuda.get_device_name(device) if device.startswith("cuda") else None
    flickr = Path(args.data) / "flickr8k"
    names = (flickr / "test.txt").read_text().split()[: args.photos]
    photos = [flickr / "images" / n for n in names]
    torch.set_num_threads(os.cpu_count() or 1)

    start = time.perf_counter()
    captioner = Captioner.default(device)
    load_s = time.perf_counter() - start
    captioner.caption(photos[:2])  # warm-up: oneDNN primitives, the encoder's inference copy
    with FlopCounterMode(display=False) as counter:
        captioner.caption(photos[:4], 3)
    flops = counter.get_total_flops() / 4  # per photo, encoder + beam 3

    gflops, runs = [], {beam: {"encoder": [], "decoder": [], "total": [], "p95": []} for beam in (1, 3)}
    for _ in range(args.runs):
        gflops.append(matmul_gflops(device))
        for beam in (1, 3):
            enc, dec, tot = per_photo(captioner, photos, beam, device)
            r = runs[beam]
            r["encoder"].append(statistics.median(enc))
            r["decoder"].append(statistics.median(dec))
            r["total"].append(statistics.median(tot))
            r["p95"].append(sorted(tot)[int(0.95 * (len(tot) - 1))])
    peak_mb = peak_rss_mb()  # before the cold-start subprocesses
    bound = spread(gflops)
    rows = [{"beam": beam, **{f"{k}_s": spread(v) for k, v in r.items()}} for beam, r in runs.items()]
    beam3 = rows[1]["total_s"]["median"]
    fraction = flops / beam3 / 1e9 / bound["median"]

    cold: dict[str, list[float]] = {k: [] for k in COLD}
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for _ in range(args.cold_runs):  # interleaved, so load from elsewhere falls on each alike
        for label, argv in COLD.items():
            t0 = time.perf_counter()
            subprocess.run([a.format(photo=photos[0]) for a in argv], check=True, capture_output=True, env=env)
            cold[label].append(time.perf_counter() - t0)
    cold_s = {k: spread(v) for k, v in cold.items()}
    over_torch = [c - t for c, t in zip(cold["seesay caption PHOTO"], cold['python -c "import torch"'])]

    show(f"bundled captioner, batch 1, {len(photos)} Flickr8k test photos, {gpu or f'{os.cpu_count()} CPU cores'}; "
         f"median (min-max) of {args.runs} runs, each the median photo",
         ("beam", "encoder (ms)", "decoder (ms)", "total (ms)", "total p95 (ms)"),
         ([r["beam"], *(fmt({k: v * 1e3 for k, v in r[f"{x}_s"].items() if k != "runs"})
                        for x in ("encoder", "decoder", "total", "p95"))] for r in rows),
         f"beam 3: {1 / beam3:.1f} photos/s one at a time, {flops / 1e9:.2f} GFLOP/photo, "
         f"{100 * fraction:.1f}% of the matmul bound measured in this run ({fmt(bound)} GFLOP/s)",
         f"model load {load_s:.2f} s; peak RSS {peak_mb:.0f} MB",
         *(f"cold start, {k}: {fmt(v, 2)} s" for k, v in cold_s.items()),
         f"cold start of seesay caption beyond import torch: {fmt(spread(over_torch), 2)} s")
    save(args.out or f"benchmarks/results/caption_latency_{'gpu' if gpu else 'cpu'}.json", gpu=gpu, device=device,
         photos=len(photos), runs=args.runs, rows=rows, gflop_per_photo_beam3=flops / 1e9,
         matmul_gflops=bound, fraction_of_matmul_bound_beam3=fraction, model_load_s=load_s, cold_start_s=cold_s,
         cold_start_median_s=cold_s["seesay caption PHOTO"]["median"],
         cold_start_beyond_import_torch_s=spread(over_torch), peak_rss_mb_in_process=peak_mb)


if __name__ == "__main__":
    main()
