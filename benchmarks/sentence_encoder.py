"""The sentence embedder on ONNX Runtime against sentence-transformers on PyTorch, at three storages (issue 29).

    python benchmarks/sentence_encoder.py [--photos 1000] [--runs 5] [--out results/sentence_encoder_cpu.json]

Flickr8k's test photos are indexed once with seesay's own code and the PyTorch model (what seesay did
before); each storage of the compiled graph (fp32, fp16, int8: `training/export_sentence_encoder.py`) then
re-embeds the very texts that were embedded, into a copy of that index. For each storage: file size, load
time, one query's latency, indexing-sized batches (16 descriptions), the largest difference from PyTorch's
vectors, and how the top 10 of text, semantic and hybrid search change over 35 queries (the 25 of
search_latency.py and those of search_precision.py's 20 nouns not among them): mean overlap of the top 10,
the share of queries whose top 10 is the same list in the same order, and the share whose top 10 says the
same descriptions in the same order (photos described alike tie, and may swap). Timings are medians of
--runs with their spread.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
from report import add_data_argument, fmt, link_or_copy, save, show, spread
from search_latency import QUERIES
from search_precision import NOUNS

from assistant.indexer import index_folders
from model.sentence_embedder import SentenceEmbedder
from store import Store
from training.export_sentence_encoder import STORAGES, export_fp32, export_sentence_encoder, reference_texts
from training.sentence_model import load_sentence_encoder

MODES = ("text", "semantic", "hybrid")


class TorchEmbedder:
    """sentence-transformers on PyTorch, as seesay embedded before; remembers the text of each vector."""

    def __init__(self) -> None:
        self.model = load_sentence_encoder("cpu")
        self.text_of: dict[bytes, str] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                                    show_progress_bar=False).astype(np.float32)  # (N, 384)
        self.text_of.update((v.tobytes(), t) for v, t in zip(vectors, texts))
        return vectors


def index_before(data: Path, photos: int, db: Path, embedder: TorchEmbedder) -> None:
    from assistant.runtime import Runtime

    flickr = data / "flickr8k"
    folder = db.parent / "photos"
    folder.mkdir()
    for n in (flickr / "test.txt").read_text().split()[:photos]:
        link_or_copy(flickr / "images" / n, folder / n)
    describer = Runtime.load(read_text=False).describer
    with Store(db) as store:
        index_folders(store, describer, [folder], embedder=embedder, batch_size=32)


def reembed(before: Path, after: Path, text_of: dict[bytes, str], embedder: SentenceEmbedder) -> None:
    shutil.copyfile(before, after)
    con = sqlite3.connect(after)
    rows = con.execute("SELECT id, embedding FROM captions WHERE embedding IS NOT NULL").fetchall()
    texts = [text_of[bytes(blob)] for _, blob in rows]
    vectors = embedder.embed(texts)
    with con:
        con.executemany("UPDATE captions SET embedding = ? WHERE id = ?",
                        [(v.tobytes(), i) for (i, _), v in zip(rows, vectors)])
    con.close()


def top10(db: Path, embed, queries: list[str]) -> dict[str, list[list[str]]]:
    out = {m: [] for m in MODES}
    with Store(db, writable=False, create=False) as store:
        for q in queries:
            vector = embed([q])[0]
            out["text"].append([(h.path, h.caption) for h in store.text_search(q, 10)])
            out["semantic"].append([(h.path, h.caption) for h in store.semantic_search(vector, 10)])
            out["hybrid"].append([(h.path, h.caption) for h in store.hybrid_search(q, vector, 10)])
    return out


def compare(before: dict, after: dict) -> dict:
    row = {}
    for m in MODES:
        pairs = list(zip(before[m], after[m]))
        row[f"{m}_overlap"] = float(np.mean([len(set(a) & set(b)) / len(a) if a else float(not b) for a, b in pairs]))
        row[f"{m}_same_list"] = float(np.mean([a == b for a, b in pairs]))
        # The same descriptions in the same order: any change is then among photos described alike (ties).
        row[f"{m}_same_descriptions"] = float(np.mean([[c for _, c in a] == [c for _, c in b] for a, b in pairs]))
    return row


def timings(graph: Path, tokenizer: Path, texts: list[str], runs: int) -> dict:
    load, query, batch = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        e = SentenceEmbedder(graph=graph, tokenizer=tokenizer, remember=0)
        e.embed(["warm"])
        load.append(time.perf_counter() - t)
        t = time.perf_counter()
        for q in QUERIES:
            e.embed([q])
        query.append((time.perf_counter() - t) / len(QUERIES))
        t = time.perf_counter()
        for lo in range(0, len(texts), 16):
            e.embed(texts[lo:lo + 16])
        batch.append(len(texts) / (time.perf_counter() - t))
    return {"load_s": spread(load), "query_s": spread(query), "texts_per_s_batch16": spread(batch)}


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--photos", type=int, default=1000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--storages", nargs="+", choices=STORAGES, default=list(STORAGES))
    p.add_argument("--out", default="benchmarks/results/sentence_encoder_cpu.json")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="seesay-sentence-bench-"))
    torch_embedder = TorchEmbedder()
    index_before(Path(args.data), args.photos, tmp / "before.sqlite", torch_embedder)
    texts = sorted(set(torch_embedder.text_of.values()))
    queries = list(dict.fromkeys(QUERIES + NOUNS))
    before = top10(tmp / "before.sqlite", torch_embedder.embed, queries)
    rows = []
    fp32 = tmp / "exported-fp32.onnx"
    export_fp32(fp32, torch_embedder.model.max_seq_length)
    for storage in args.storages:
        graph, tokenizer = tmp / f"{storage}.onnx", tmp / f"{storage}.tokenizer.json"
        made = export_sentence_encoder(graph, tokenizer, storage, reference_texts() + texts + queries, fp32)
        embedder = SentenceEmbedder(graph=graph, tokenizer=tokenizer)
        reembed(tmp / "before.sqlite", tmp / f"{storage}.sqlite", torch_embedder.text_of, embedder)
        after = top10(tmp / f"{storage}.sqlite", embedder.embed, queries)
        rows.append({"storage": storage, "megabytes": graph.stat().st_size / 1e6, "top10": after,
                     **made["against_sentence_transformers"], **compare(before, after),
                     **timings(graph, tokenizer, texts, args.runs)})
    show(f"sentence embedder: ONNX Runtime storages against PyTorch, Flickr8k test ({args.photos} photos, "
         f"{len(texts)} distinct descriptions, {len(queries)} queries), {os.cpu_count()} CPU cores",
         ("storage", "MB", "max |diff|", "min cos", "top-10 overlap sem / hyb", "same top 10 sem / hyb",
          "same descriptions sem / hyb",
          "load s", "query ms", "texts/s (16)"),
         ([r["storage"], f"{r['megabytes']:.1f}", f"{r['max_abs_difference']:.1e}", f"{r['min_cosine']:.5f}",
           f"{r['semantic_overlap']:.3f} / {r['hybrid_overlap']:.3f}",
           f"{r['semantic_same_list']:.2f} / {r['hybrid_same_list']:.2f}",
           f"{r['semantic_same_descriptions']:.2f} / {r['hybrid_same_descriptions']:.2f}", fmt(r["load_s"], 2),
           f"{1000 * r['query_s']['median']:.1f}", fmt(r["texts_per_s_batch16"], 0)] for r in rows))
    save(args.out, photos=args.photos, distinct_texts=len(texts), queries=queries, top10_before=before, rows=rows,
         load_average_1min=os.getloadavg()[0])
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
