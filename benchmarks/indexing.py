"""Indexing throughput of `seesay index` on a folder of real photos, split into where the time goes.

    python benchmarks/indexing.py [--photos 300] [--runs 3] [--out benchmarks/results/indexing_cpu.json]

Runs the command itself, each time as a whole new process (`seesay index`: start-up, model loading and
the sentence model included), on Flickr8k test photos hard-linked into a temporary folder (nothing is
copied). Each of --runs runs indexes into a new database: decodes, describes (caption, recognition, text),
embeds and stores every photo; the figure is the median run with the spread. Then one more run finds them
all unchanged. The split comes from the indexer's own timers, from the median run's output line.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import add_data_argument, fmt, link_or_copy, save, show, spread


def run(argv: list[str]) -> tuple[float, str]:
    """Wall seconds and output of one whole `seesay ARGV` process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "from assistant.cli import main; raise SystemExit(main())", *argv],
                          check=False, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"seesay {' '.join(argv)} failed with exit code {done.returncode}: {done.stderr[-2000:]}")
    return time.perf_counter() - start, done.stdout


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--photos", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--no-text", action="store_true", help="index without reading text (what reading costs)")
    p.add_argument("--runs", type=int, default=3, help="whole indexing runs, each into a new database")
    p.add_argument("--out", default="benchmarks/results/indexing_cpu.json")
    args = p.parse_args()
    if args.runs < 1:
        p.error(f"--runs must be at least 1, got {args.runs}")
    flickr = Path(args.data) / "flickr8k"
    names = (flickr / "test.txt").read_text().split()[: args.photos]
    tmp = Path(tempfile.mkdtemp(prefix="seesay-index-bench-"))
    folder = tmp / "photos"
    folder.mkdir()
    for n in names:  # hard links: seesay does not follow symbolic links out of a folder
        link_or_copy(flickr / "images" / n, folder / n)
    megabytes = sum((flickr / "images" / n).stat().st_size for n in names) / 1e6
    def argv(db: Path) -> list[str]:
        return ["index", str(folder), "--db", str(db), "--quiet", "--batch-size", str(args.batch_size),
                *(["--no-text"] if args.no_text else [])]

    runs = []
    for i in range(args.runs):
        load = os.getloadavg()[0]
        seconds, out = run(argv(tmp / f"index-{i}.sqlite"))
        runs.append({"seconds": seconds, "photos_per_s": len(names) / seconds, "load_average_1min": load, "out": out})
    runs.sort(key=lambda r: r["seconds"])
    median = runs[len(runs) // 2]
    second_s, _ = run(argv(tmp / f"index-{args.runs - 1}.sqlite"))
    first_s = median["seconds"]
    split = {k: float(v) for k, v in re.findall(r"(decode|describe|embed|database) ([\d.]+)s", median["out"])}
    other = first_s - sum(split.values())  # start-up, model and sentence-model loading, file walking, hashing
    rows = [{"stage": k, "seconds": v, "share": v / first_s} for k, v in split.items()]
    rows.append({"stage": "other (start-up, loading models, walking, hashing)", "seconds": other,
                 "share": other / first_s})
    rate = spread([r["photos_per_s"] for r in runs])
    show(f"seesay index: {len(names)} Flickr8k photos ({megabytes:.0f} MB), {os.cpu_count()} CPU cores, "
         f"median of {args.runs} whole runs", ("stage", "seconds", "share"),
         [*([r["stage"], f"{r['seconds']:.1f}", f"{100 * r['share']:.0f}%"] for r in rows),
          ["total", f"{first_s:.1f}", "100%"]],
         f"{fmt(rate)} photos/s per run (median (min-max)); rerun with nothing changed: {second_s:.2f} s; "
         "load averages before the runs: " + ", ".join(f"{r['load_average_1min']:.1f}" for r in runs))
    save(args.out, photos=len(names), megabytes=megabytes, runs=args.runs, first_run_s=first_s,
         photos_per_s=rate["median"], photos_per_s_spread=rate, run_seconds=[r["seconds"] for r in runs],
         load_average_1min=[r["load_average_1min"] for r in runs], unchanged_rerun_s=second_s, split=rows,
         whole_process=True)


if __name__ == "__main__":
    main()
