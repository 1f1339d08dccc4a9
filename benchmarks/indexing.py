"""Indexing throughput of `seesay index` on a folder of real photos, split into where the time goes.

    python benchmarks/indexing.py [--photos 300] [--out benchmarks/results/indexing_cpu.json]

Runs the command itself (`assistant.cli.main`) on Flickr8k test photos (hard-linked into a temporary folder,
so nothing is copied), twice: the first run decodes, describes (caption, recognition, text), embeds and stores
every photo; the second finds them all unchanged. The split comes from the indexer's own timers, from the
first run's output line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import tempfile
import time
from pathlib import Path

import torch
from report import add_data_argument, link_or_copy, peak_rss_mb, save, show

from assistant.cli import main as seesay


def run(argv: list[str]) -> tuple[float, str]:
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = seesay(argv)
    if code != 0:
        raise SystemExit(f"seesay {' '.join(argv)} failed with exit code {code}")
    return time.perf_counter() - start, out.getvalue()


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--photos", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--no-text", action="store_true", help="index without reading text (what reading costs)")
    p.add_argument("--out", default="benchmarks/results/indexing_cpu.json")
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    flickr = Path(args.data) / "flickr8k"
    names = (flickr / "test.txt").read_text().split()[: args.photos]
    tmp = Path(tempfile.mkdtemp(prefix="seesay-index-bench-"))
    folder = tmp / "photos"
    folder.mkdir()
    for n in names:  # hard links: seesay does not follow symbolic links out of a folder
        link_or_copy(flickr / "images" / n, folder / n)
    megabytes = sum((flickr / "images" / n).stat().st_size for n in names) / 1e6
    argv = ["index", str(folder), "--db", str(tmp / "index.sqlite"), "--quiet", "--batch-size", str(args.batch_size),
            *(["--no-text"] if args.no_text else [])]
    first_s, first_out = run(argv)
    second_s, _ = run(argv)
    split = {k: float(v) for k, v in re.findall(r"(decode|describe|embed|database) ([\d.]+)s", first_out)}
    other = first_s - sum(split.values())  # model and sentence-model loading, file walking, hashing
    rows = [{"stage": k, "seconds": v, "share": v / first_s} for k, v in split.items()]
    rows.append({"stage": "other (loading models, walking, hashing)", "seconds": other, "share": other / first_s})
    show(f"seesay index: {len(names)} Flickr8k photos ({megabytes:.0f} MB), {os.cpu_count()} CPU cores",
         ("stage", "seconds", "share"),
         [*([r["stage"], f"{r['seconds']:.1f}", f"{100 * r['share']:.0f}%"] for r in rows),
          ["total", f"{first_s:.1f}", "100%"]],
         f"{len(names) / first_s:.1f} photos/s on the first run; rerun with nothing changed: {second_s:.2f} s; "
         f"peak RSS {peak_rss_mb():.0f} MB")
    save(args.out, photos=len(names), megabytes=megabytes, first_run_s=first_s, photos_per_s=len(names) / first_s,
         unchanged_rerun_s=second_s, split=rows)

if __name__ == "__main__":
    main()
