"""Captioning latency of the bundled model on this machine: per photo (model loaded) and cold start.

    python benchmarks/caption_latency.py [--photos 30] [--out benchmarks/results/caption_latency_cpu.json]

Per-photo times are batch 1, as in live use: encoder, beam search, and total, for beam 1 and 3.
Cold start is the wall time of a whole `seesay caption PHOTO` process, model loading included.
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

from model import Captioner
from report import peak_rss_mb, save, show


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.environ.get("SEESAY_DATA", "../shared/data"))
    p.add_argument("--photos", type=int, default=30)
    p.add_argument("--cold-runs", type=int, default=3)
    p.add_argument("--out", default="benchmarks/results/caption_latency_cpu.json")
    args = p.parse_args()
    flickr = Path(args.data) / "flickr8k"
    names = (flickr / "test.txt").read_text().split()[: args.photos]
    photos = [flickr / "images" / n for n in names]
    torch.set_num_threads(os.cpu_count() or 1)

    start = time.perf_counter()
    captioner = Captioner.default()
    load_s = time.perf_counter() - start
    captioner.caption(photos[:2])  # warm-up
    rows = []
    for beam in (1, 3):
        enc, dec, tot = [], [], []
        for photo in photos:
            t0 = time.perf_counter()
            feats = captioner.encode([photo])
            t1 = time.perf_counter()
            captioner.caption_features(feats, beam)
            t2 = time.perf_counter()
            enc.append(t1 - t0)
            dec.append(t2 - t1)
            tot.append(t2 - t0)
        rows.append({"beam": beam, "encoder_median_s": statistics.median(enc),
                     "decoder_median_s": statistics.median(dec), "total_median_s": statistics.median(tot),
                     "total_p95_s": sorted(tot)[int(0.95 * (len(tot) - 1))]})
    peak_mb = peak_rss_mb()  # before the cold-start subprocesses

    cold = []
    for _ in range(args.cold_runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "assistant", "caption", str(photos[0])], check=True,
                       capture_output=True)
        cold.append(time.perf_counter() - t0)

    show(f"bundled captioner, batch 1, {len(photos)} Flickr8k test photos, {os.cpu_count()} CPU cores",
         ("beam", "encoder (s)", "decoder (s)", "total median (s)", "total p95 (s)"),
         ([r["beam"], f"{r['encoder_median_s']:.3f}", f"{r['decoder_median_s']:.3f}", f"{r['total_median_s']:.3f}",
           f"{r['total_p95_s']:.3f}"] for r in rows),
         f"model load {load_s:.2f} s; cold start of `seesay caption` median {statistics.median(cold):.2f} s "
         f"(runs: {', '.join(f'{c:.2f}' for c in cold)}); peak RSS {peak_mb:.0f} MB")
    save(args.out, photos=len(photos), rows=rows, model_load_s=load_s, cold_start_s=cold,
         cold_start_median_s=statistics.median(cold))

if __name__ == "__main__":
    main()
