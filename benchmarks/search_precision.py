"""Search precision: do the top results show what was asked for?

    python benchmarks/search_precision.py [--photos 1000] [--k 20] [--out benchmarks/results/search_precision.json]

Flickr8k's test photos are indexed with the bundled model's captions (`seesay index`'s own code), then
each of 20 common nouns is searched in text, semantic and hybrid mode. A result is relevant when one of
the photo's five human captions mentions the noun (singular or plural): what seesay stored is what is
searched, the human captions are the judge. Prints precision@k per noun and mode.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

import torch
from report import add_data_argument, link_or_copy, save, show

from assistant.indexer import index_folders
from model import Captioner
from model.describing.describer import Describer
from model.sentence_embedder import SentenceEmbedder
from store import Store

NOUNS = ["dog", "girl", "boy", "man", "woman", "beach", "bike", "snow", "water", "ball", "grass", "street",
         "car", "horse", "mountain", "child", "shirt", "pool", "rock", "football"]
IRREGULAR = {"man": ["men"], "woman": ["women"], "child": ["children"]}
MODES = ("text", "semantic", "hybrid")


def mentions(noun: str, captions: list[str]) -> bool:
    forms = {noun, noun + "s", noun + "es", *IRREGULAR.get(noun, [])}
    return any(forms & set(re.findall(r"[a-z]+", c.lower())) for c in captions)


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--photos", type=int, default=1000)
    p.add_argument("--k", type=int, default=20, help="results judged per query (20: 400 judgments in all; at 5, "
                   "differences of 0.1 in a mean were within what the choice of photos moves)")
    p.add_argument("--db", help="reuse this index (default: a fresh one in a temporary folder)")
    p.add_argument("--out", default="benchmarks/results/search_precision.json")
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    flickr = Path(args.data) / "flickr8k"
    coco = json.loads((flickr / "captions_flickr8k.json").read_text())
    names = set((flickr / "test.txt").read_text().split()[: args.photos])
    by_id = {im["id"]: im["file_name"] for im in coco["images"] if im["file_name"] in names}
    refs: dict[str, list[str]] = {n: [] for n in by_id.values()}
    for a in coco["annotations"]:
        if a["image_id"] in by_id:
            refs[by_id[a["image_id"]]].append(a["caption"])

    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name) / "photos"
    folder.mkdir()
    for n in refs:  # the test photos only (hard links: seesay does not follow symbolic links)
        link_or_copy(flickr / "images" / n, folder / n)
    db = args.db or str(Path(tmp.name) / "index.sqlite")
    embedder = SentenceEmbedder()
    t0 = time.perf_counter()
    with Store(db) as store:
        report = index_folders(store, Describer.for_captioner(Captioner.default()), [folder], embedder=embedder,
                               batch_size=32)
        index_s = time.perf_counter() - t0
        rows, per_mode = [], {m: [] for m in MODES}
        for noun in NOUNS:
            q = embedder.embed([noun])[0]
            hits = {"text": store.text_search(noun, args.k), "semantic": store.semantic_search(q, args.k),
                    "hybrid": store.hybrid_search(noun, q, args.k)}
            row = {"noun": noun, "relevant_photos": sum(mentions(noun, r) for r in refs.values())}
            for mode, found in hits.items():
                good = sum(mentions(noun, refs[Path(h.path).name]) for h in found)
                row[mode] = good / args.k  # missing results count as misses
                per_mode[mode].append(row[mode])
            rows.append(row)

    means = {m: sum(v) / len(v) for m, v in per_mode.items()}
    show(f"precision@{args.k} on {len(refs)} Flickr8k test photos, model captions searched",
         ("noun", "photos with it", *MODES),
         [*([r["noun"], r["relevant_photos"], *(f"{r[m]:.1f}" for m in MODES)] for r in rows),
          ["mean", "", *(f"{means[m]:.2f}" for m in MODES)]],
         f"indexed {report.described} photos in {index_s:.0f} s "
         f"({', '.join(f'{k} {v:.0f} s' for k, v in report.seconds.items())})")
    save(args.out, photos=len(refs), k=args.k, rows=rows, mean=means, index_seconds=index_s,
         index_split_seconds=report.seconds)

if __name__ == "__main__":
    main()
