"""Decoding settings of the bundled captioner, chosen on Flickr8k val and then scored once on test (issue 16).

    python benchmarks/decoding.py [--data ../shared/data] [--cache-dir cache] [--out benchmarks/results/decoding.json]

Beam 3 with and without repeat blocking (no two-word run said twice: what the describer is calibrated
for and the ONNX Runtime engine compiles) and length penalties from 0 (finished beams ranked by total log
probability) to 2 (by log probability / length ** 2). The rule, fixed before the test split is scored: on
val, the setting with the highest CIDEr whose BLEU-4 is not below today's decoding; test is then scored for
today's decoding and that setting only. Changing the decoding changes the describer's candidates, so a
setting is adopted only with the describer recalibrated and the truth figures measured again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from report import add_data_argument, save, show

from model import Captioner
from model.describing.calibration import spoken_decoding
from training.data import load_records, select_split
from training.feature_cache import build_feature_cache
from training.validation import validate

METRICS = ("BLEU-4", "CIDEr")
SETTINGS = [(0, 0.0), (0, 0.5), (0, 1.0), (2, 0.0), (2, 0.25), (2, 0.5), (2, 0.75), (2, 1.0), (2, 1.25), (2, 1.5),
            (2, 2.0)]  # (no_repeat_ngram, length_penalty)


def key(setting: tuple[int, float]) -> str:
    return f"no_repeat_ngram={setting[0]} length_penalty={setting[1]:g}"


def score(captioner: Captioner, records, features, repeat: int, penalty: float) -> dict[str, float]:
    """BLEU-4, CIDEr and mean caption length of one decoding setting at beam 3."""
    captioner.metadata["length_penalty"] = penalty  # the ranking of finished beams reads it from here
    scores, hyps = validate(captioner, records, features, beam_size=3, metrics=METRICS, no_repeat_ngram=repeat)
    return {**scores, "words": sum(len(h.split()) for h in hyps.values()) / len(hyps)}


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--cache-dir", default="cache")
    p.add_argument("--out", default="benchmarks/results/decoding.json")
    args = p.parse_args()
    flickr = Path(args.data) / "flickr8k"
    records = load_records(flickr / "captions_flickr8k.json", flickr / "images")
    captioner = Captioner.default()
    today = (spoken_decoding()[1], float(captioner.metadata.get("length_penalty", 0.0)))

    def run(split: str, settings) -> dict[tuple[int, float], dict[str, float]]:
        recs = select_split(records, split)
        feats = build_feature_cache(recs, captioner.encoder, args.cache_dir, device=torch.device("cpu"), progress=False)
        return {s: score(captioner, recs, feats, *s) for s in settings}

    val = run("val", SETTINGS)
    floor = val[today]["BLEU-4"]
    chosen = max((s for s in SETTINGS if val[s]["BLEU-4"] >= floor), key=lambda s: val[s]["CIDEr"])
    test = run("test", dict.fromkeys([today, chosen]))
    rows = [[f"{'on' if r else 'off'}", f"{lp:g}", f"{v['BLEU-4']:.4f}", f"{v['CIDEr']:.4f}", f"{v['words']:.2f}",
             "today" if (r, lp) == today else ("chosen" if (r, lp) == chosen else "")]
            for (r, lp), v in val.items()]
    show("decoding on Flickr8k val (1,000 photos), beam 3", ("repeat blocking", "length penalty", "BLEU-4", "CIDEr",
                                                              "words", ""), rows,
         *(f"test, {'today' if s == today else 'chosen'} (blocking {s[0]}, penalty {s[1]:g}): BLEU-4 "
           f"{v['BLEU-4']:.4f}, CIDEr {v['CIDEr']:.4f}, {v['words']:.2f} words" for s, v in test.items()))
    save(args.out, beam=3, rule="on val, the highest CIDEr whose BLEU-4 is not below today's decoding",
         today=key(today), chosen=key(chosen), val={key(s): v for s, v in val.items()},
         test={key(s): v for s, v in test.items()})


if __name__ == "__main__":
    main()
