"""Consensus re-ranking of the beam's captions by the captions of similar training photos (issue 16).

    python benchmarks/consensus.py [--data ../shared/data] [--cache-dir cache] [--out benchmarks/results/consensus.json]

Devlin et al. (2015, "Exploring nearest neighbor approaches for image captioning") re-rank a captioner's
candidates by how much they agree with the captions of the photo's nearest training photos. Here: the beam's
three finished captions (beam 3, the describer's repeat blocking), each scored by its mean log-probability
per word (EOS included) plus `weight` times its CIDEr-D (pycocoevalcap) against the five captions of each of
the `k` Flickr8k training photos nearest in the encoder's pooled features (cosine). The rule, fixed before
the test split is scored: on val, the (k, weight) with the highest CIDEr whose BLEU-4 is not below today's
ranking; test is then scored for today's ranking and that setting only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from report import add_data_argument, save, show

from model import Captioner
from model.describing.calibration import spoken_decoding
from training.data import load_records, select_split
from training.feature_cache import build_feature_cache
from training.metrics import score_captions

METRICS = ("BLEU-4", "CIDEr")
NEIGHBOURS = (10, 30, 45, 60)
WEIGHTS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)


def candidates(captioner: Captioner, features, batch: int = 50) -> tuple[list[list[tuple[str, float]]], np.ndarray]:
    """Each photo's n-best (text, mean log-probability per word and EOS), and its pooled features (N, C)."""
    out, pooled = [], []
    n = len(features)
    beam, repeat = spoken_decoding()
    for lo in range(0, n, batch):
        f = features.batch(torch.arange(lo, min(lo + batch, n)))  # (B, P, C)
        pooled.append(f.mean(1).numpy())
        for per in captioner.n_best(f, beam, no_repeat_ngram=repeat):
            out.append([(" ".join(c.words), c.log_prob / (len(c.words) + 1)) for c in per])
    return out, np.concatenate(pooled)


def consensus(nbest, pooled: np.ndarray, train_pooled: np.ndarray, train_captions, k: int) -> list[list[float]]:
    """CIDEr-D of each candidate against the captions of the photo's k nearest training photos."""
    from pycocoevalcap.cider.cider_scorer import CiderScorer

    cosine = (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)) @ (
        train_pooled / np.linalg.norm(train_pooled, axis=1, keepdims=True)).T  # (N, 6091)
    nearest = np.argsort(-cosine, axis=1)[:, :k]  # (N, k)
    scorer = CiderScorer(n=4, sigma=6.0)
    for per, near in zip(nbest, nearest):
        refs = [c.lower() for j in near for c in train_captions[j]]
        for text, _ in per:
            scorer += (text, refs)
    _, flat = scorer.compute_score()
    out, i = [], 0
    for per in nbest:
        out.append([float(s) for s in flat[i : i + len(per)]])
        i += len(per)
    return out


def choose(nbest, agreement, weight: float) -> dict[int, str]:
    return {i: per[max(range(len(per)), key=lambda c: per[c][1] + weight * agree[c])][0]
            for i, (per, agree) in enumerate(zip(nbest, agreement))}


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--cache-dir", default="cache")
    p.add_argument("--out", default="benchmarks/results/consensus.json")
    args = p.parse_args()
    torch.set_num_threads(2)
    flickr = Path(args.data) / "flickr8k"
    records = load_records(flickr / "captions_flickr8k.json", flickr / "images")
    captioner = Captioner.default()
    split = {s: select_split(records, s) for s in ("train", "val", "test")}
    feats = {s: build_feature_cache(r, captioner.encoder, args.cache_dir, device=torch.device("cpu"), progress=False)
             for s, r in split.items()}
    train_pooled = np.concatenate([feats["train"].batch(torch.arange(lo, min(lo + 256, len(split["train"]))))
                                   .mean(1).numpy() for lo in range(0, len(split["train"]), 256)])
    train_captions = [r.captions for r in split["train"]]

    def run(name: str, settings) -> dict[str, dict]:
        nbest, pooled = candidates(captioner, feats[name])
        refs = {i: list(r.captions) for i, r in enumerate(split[name])}
        first = {i: per[0][0] for i, per in enumerate(nbest)}
        out = {"today (beam's own ranking)": score_captions(refs, first, metrics=METRICS)}
        for k in sorted({k for k, _ in settings}):
            agreement = consensus(nbest, pooled, train_pooled, train_captions, k)
            for kk, w in settings:
                if kk == k:
                    out[f"k={k} weight={w:g}"] = score_captions(refs, choose(nbest, agreement, w), metrics=METRICS)
        return out

    val = run("val", [(k, w) for k in NEIGHBOURS for w in WEIGHTS])
    today = val["today (beam's own ranking)"]
    ok = {s: v for s, v in val.items() if not s.startswith("today") and v["BLEU-4"] >= today["BLEU-4"]}
    chosen = max(ok, key=lambda s: ok[s]["CIDEr"])
    k, w = (float(part.split("=")[1]) for part in chosen.split())
    test = run("test", [(int(k), w)])
    show("Consensus re-ranking, Flickr8k, beam 3 (BLEU-4 / CIDEr)", ["setting", "val", "test"],
         [[s, f"{v['BLEU-4']:.4f} / {v['CIDEr']:.4f}",
           (f"{test[s]['BLEU-4']:.4f} / {test[s]['CIDEr']:.4f}" if s in test else "")] for s, v in val.items()],
         f"chosen on val: {chosen}")
    save(args.out, rule="on val, the highest CIDEr whose BLEU-4 is not below today's ranking; test scored once",
         chosen=chosen, val=val, test=test)


if __name__ == "__main__":
    main()
