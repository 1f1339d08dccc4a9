"""Search latency at 1k, 10k and 100k captions: text (FTS5 BM25), semantic and hybrid, p50 and p95; and
`seesay search dog` as a whole process in every mode, at 100 and 100k photos (issue 29).

    python benchmarks/search_latency.py [--sizes 1000 10000 100000] [--process-sizes 100 100000] [--runs 7]
        [--out benchmarks/results/search_latency_cpu.json]

The stores are real SQLite files filled through `Store.add` with Flickr8k's human captions
(40k distinct sentences, reused past that) and their all-MiniLM-L6-v2 embeddings. Each query is timed as a
user meets it: semantic and hybrid include embedding the query. The one-time load of the embedding matrix
(mapping the cache file that `seesay index` writes beside the index) is reported on its own. A whole process is timed from its start to its exit, with its own peak resident
memory (wait4), the median of --runs with the spread, the modes interleaved.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from report import add_data_argument, fmt, peak_rss_mb, save, show, spread

from model.sentence_embedder import SentenceEmbedder, provenance
from store import Entry, FileInfo, Store

MODES = ("text", "semantic", "hybrid")
QUERIES = [
    "dog", "girl", "beach", "bike", "snow", "water", "ball", "grass", "street", "car", "kids at the beach",
    "dog running in the snow", "a man climbing a rock", "two children playing football", "puppy on sand",
    "woman in a red dress", "boy jumping into a pool", "people sitting on a bench", "a black and white dog",
    "mountain biker in the woods", '") OR 1=1 --', "NEAR(dog beach)", "surf*", "a", "🐶 on the beach",
]


def captions_and_embeddings(data: Path, embedder: SentenceEmbedder, cache_dir: Path) -> tuple[list[str], np.ndarray]:
    coco = json.loads((data / "flickr8k" / "captions_flickr8k.json").read_text())
    texts = sorted({a["caption"].strip() for a in coco["annotations"]})
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    graph = provenance()["graph_sha256"][:8]  # the vectors of the shipped graph
    path = cache_dir / f"minilm-onnx-{graph}-flickr8k-all-{len(texts)}-{key}.npy"
    if path.is_file():
        return texts, np.load(path)
    vectors = embedder.embed(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return texts, vectors


def fill(store: Store, n: int, texts: list[str], vectors: np.ndarray) -> float:
    start = time.perf_counter()
    model_id = store.model_id("benchmark", "0" * 64)
    for lo in range(0, n, 5000):
        store.add(model_id, [
            Entry(FileInfo(f"/photos/{i:06d}.jpg", 1000 + i, 0.0), hashlib.sha256(str(i).encode()).hexdigest(), 500,
                  375, texts[i % len(texts)], 0.5, embedding=vectors[i % len(texts)].tobytes())
            for i in range(lo, min(n, lo + 5000))
        ])
    return time.perf_counter() - start


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# Linux carries a process's peak resident memory across fork and exec, so each search is started by this
# small process rather than by the benchmark (which holds the embeddings): its child's peak is its own.
TIMER = """
import os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(child.pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))
print(child.stderr.read().decode()[-2000:], file=sys.stderr)
"""


def whole_process(db: Path, mode: str) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one `seesay search dog --mode MODE` process."""
    timed = subprocess.run([sys.executable, "-c", TIMER, sys.executable, "-m", "assistant", "search", "dog",
                            "--mode", mode, "--db", str(db)], capture_output=True, text=True, timeout=300, check=False)
    seconds, megabytes, code = timed.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"seesay search failed: {timed.stderr}")
    return float(seconds), float(megabytes)


def processes(db: Path, n: int, runs: int) -> list[dict]:
    """`seesay search dog` in each mode, runs times, interleaved: median seconds and peak MB with spreads."""
    seconds = {m: [] for m in MODES}
    megabytes = {m: [] for m in MODES}
    for _ in range(runs):
        for mode in MODES:
            s, mb = whole_process(db, mode)
            seconds[mode].append(s)
            megabytes[mode].append(mb)
    return [{"photos": n, "mode": m, "seconds": spread(seconds[m]), "peak_mb": spread(megabytes[m])} for m in MODES]


def in_process(store: Store, embedder: SentenceEmbedder, n: int, fill_s: float, repeats: int) -> list[dict]:
    """Each query timed inside one process as the user meets it (semantic and hybrid embed the query)."""
    t = time.perf_counter()
    store.embedding_index()
    load_s = time.perf_counter() - t
    timings = {"text": [], "semantic": [], "hybrid": []}
    for _ in range(repeats):
        for q in QUERIES:
            t = time.perf_counter()
            store.text_search(q, 10)
            timings["text"].append(time.perf_counter() - t)
            t = time.perf_counter()
            store.semantic_search(embedder.embed([q])[0], 10)
            timings["semantic"].append(time.perf_counter() - t)
            t = time.perf_counter()
            store.hybrid_search(q, embedder.embed([q])[0], 10)
            timings["hybrid"].append(time.perf_counter() - t)
    rows = []
    for mode, samples in timings.items():
        p50, p95 = percentiles(samples)
        rows.append({"captions": n, "mode": mode, "p50_ms": 1000 * p50, "p95_ms": 1000 * p95,
                     "queries": len(samples), "fill_s": fill_s, "embedding_matrix_load_s": load_s})
    print(f"{n} captions: filled in {fill_s:.1f} s, embedding matrix loaded in {load_s:.2f} s", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--sizes", nargs="+", type=int, default=[1000, 10000, 100000])
    p.add_argument("--repeats", type=int, default=4, help="times each query is run")
    p.add_argument("--process-sizes", nargs="+", type=int, default=[100, 100000],
                   help="index sizes at which whole `seesay search` processes are timed")
    p.add_argument("--runs", type=int, default=7, help="whole processes per mode and size")
    p.add_argument("--cache-dir", default="cache")
    p.add_argument("--out", default="benchmarks/results/search_latency_cpu.json")
    args = p.parse_args()
    embedder = SentenceEmbedder()
    texts, vectors = captions_and_embeddings(Path(args.data), embedder, Path(args.cache_dir))
    embedder.embed(["warm up"])
    rows, whole = [], []
    tmp = tempfile.TemporaryDirectory()
    for n in sorted(set(args.sizes) | set(args.process_sizes)):
        db = Path(tmp.name) / f"index-{n}.sqlite"
        with Store(db) as store:
            fill_s = fill(store, n, texts, vectors)
            t = time.perf_counter()
            store.embedding_index()  # as `seesay index` does at its end: the cache file a search maps
            print(f"{n} captions: embedding cache written in {time.perf_counter() - t:.2f} s", flush=True)
        with Store(db) as store:  # a new Store, as a search process meets the index
            if n in args.sizes:
                rows += in_process(store, embedder, n, fill_s, args.repeats)
        if n in args.process_sizes:
            whole += processes(db, n, args.runs)
    show(f"search latency, {len(QUERIES)} queries x {args.repeats}, {os.cpu_count()} CPU cores",
         ("captions", "mode", "p50 (ms)", "p95 (ms)"),
         ([f"{r['captions']:,}", r["mode"], f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}"] for r in rows),
         f"peak RSS {peak_rss_mb():.0f} MB")
    show(f"`seesay search dog`, whole processes, median (min-max) of {args.runs}, {os.cpu_count()} CPU cores",
         ("photos", "mode", "seconds", "peak MB"),
         ([f"{r['photos']:,}", r["mode"], fmt(r["seconds"], 2), fmt(r["peak_mb"], 0)] for r in whole),
         "load average (1 min) at the end: " + f"{os.getloadavg()[0]:.1f}")
    save(args.out, rows=rows, whole_process=whole)


if __name__ == "__main__":
    main()
