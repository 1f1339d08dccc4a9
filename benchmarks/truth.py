"""Saying only what is true (issue 16): hallucination and informativeness of today's raw caption and of the
spoken description, and the latency of describing a photo.

    python benchmarks/truth.py [--data ../shared/data] [--out benchmarks/results/truth.json]

Sets: COCO-mini (all 159 photos, and its val split of 79 alone: the train split is part of the describer's
calibration dev set, val is not) and Flickr8k test (1,000). Per description (training/hallucination.py):
hallucinated = names a COCO object none of the five references names; informative = names at least one
that they do. "today" is Captioner.caption at beam 3 without repeat blocking, as seesay spoke before the
describer; "spoken" is Describer.describe. Latency: batch 1, model loaded, photo file to sentence (decode,
encoder, beam search, recognition, people detectors, composition), median over COCO-mini val photos in
several rounds.
Details (training/hallucination.py detail_scores): the words that are neither objects nor function words,
per description, and the share of them for which no reference has a word of the same stem.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from report import add_data_argument, save, show

from model import Captioner, load_image
from model.describing.describer import Describer
from model.describing.people import PeopleDetector
from model.describing.recognition import Recognizer
from training.data import load_records, select_split
from training.hallucination import detail_scores, hallucination_scores


@dataclass
class Said:
    """What was said about a set of photos, beside their references."""

    records: list
    today: list[str] = field(default_factory=list)  # Captioner.caption at the beam size
    spoken: list[str] = field(default_factory=list)  # Describer sentences
    from_caption: list[str] = field(default_factory=list)  # the part of each sentence that comes from a caption

    def __add__(self, other: Said) -> Said:
        return Said(self.records + other.records, self.today + other.today, self.spoken + other.spoken,
                    self.from_caption + other.from_caption)


def describe_set(describer: Describer, records, beam: int, batch: int = 16) -> Said:
    """Today's captions and the spoken descriptions of records."""
    said = Said(list(records))
    for lo in range(0, len(records), batch):
        chunk = records[lo : lo + batch]
        pictures = [load_image(r.path) for r in chunk]
        features = describer.captioner.encode(pictures)  # (B, P, E)
        said.today += [c.text for c in describer.captioner.caption_features(features, beam, no_repeat_ngram=0)]
        described = describer.describe_features(pictures, features, beam)
        said.spoken += [d.sentence for d in described]
        said.from_caption += [d.from_caption for d in described]
    return said


def scores(said: Said, describer: Describer) -> dict:
    """Hallucination scores of today's captions and the spoken descriptions; details (what people do, where,
    colours, counts) in today's caption and in the part of the spoken description that comes from a caption
    (the rest of it names objects, which the hallucination scores cover)."""
    refs = [r.captions for r in said.records]
    objects = describer.concepts.lexicon
    return {
        "photos": len(said.records),
        "today": hallucination_scores(said.today, refs) | detail_scores(said.today, refs, objects),
        "spoken": hallucination_scores(said.spoken, refs) | detail_scores(said.from_caption, refs, objects),
        "examples": [{"image_id": r.image_id, "today": t, "spoken": s}
                     for r, t, s in list(zip(said.records, said.today, said.spoken))[:12]],
    }


def latency(describer: Describer, paths: list[Path], rounds: int, beam: int) -> dict:
    """Seconds per photo, batch 1: median and spread over rounds x photos."""
    describer.describe(paths[:2], beam)  # warm-up
    times, round_medians = [], []
    for _ in range(rounds):
        this = []
        for path in paths:
            t0 = time.perf_counter()
            describer.describe([path], beam)
            this.append(time.perf_counter() - t0)
        times += this
        round_medians.append(statistics.median(this))
    times.sort()
    return {
        "runs": len(times), "rounds": rounds, "median_s": statistics.median(times),
        "p10_s": times[int(0.1 * (len(times) - 1))], "p90_s": times[int(0.9 * (len(times) - 1))],
        "round_medians_s": round_medians,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--photos", type=int, default=20, help="photos per latency round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", default="1,2",
                   help="torch thread counts to time (the target is 2 cores; on a machine other jobs share, "
                        "2 threads can stall on each other and 1 is the fairer figure)")
    p.add_argument("--out", default="benchmarks/results/truth.json")
    args = p.parse_args()
    torch.set_num_threads(1)  # the hallucination sets: throughput, not latency
    data = Path(args.data)
    coco, flickr = data / "coco-mini", data / "flickr8k"
    coco_train = load_records(coco / "annotations" / "captions_train2017.json", coco / "train2017")
    coco_val = load_records(coco / "annotations" / "captions_val2017.json", coco / "val2017")
    flickr_test = select_split(load_records(flickr / "captions_flickr8k.json", flickr / "images"), "test")

    captioner = Captioner.default()
    describer = Describer(captioner, Recognizer.for_captioner(captioner), PeopleDetector())
    sets = {"coco-mini val (79)": coco_val, "coco-mini train (80, calibration dev)": coco_train,
            "flickr8k test (1000)": flickr_test}
    said = {name: describe_set(describer, recs, args.beam) for name, recs in sets.items()}
    said = {"coco-mini all (159)": said["coco-mini val (79)"] + said["coco-mini train (80, calibration dev)"], **said}
    results = {name: scores(s, describer) for name, s in said.items()}
    lat = {}
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        load_before = os.getloadavg()[0]
        lat[threads] = latency(describer, [r.path for r in coco_val[: args.photos]], args.rounds, args.beam)
        lat[threads]["load_average_1min"] = [load_before, os.getloadavg()[0]]

    rows = [[name, r["photos"], f"{r['today']['hallucinated']:.1%}", f"{r['spoken']['hallucinated']:.1%}",
             f"{r['today']['informative']:.1%}", f"{r['spoken']['informative']:.1%}",
             f"{r['spoken']['no_object']:.1%}",
             f"{r['today']['details_per_description']:.2f} / {r['spoken']['details_per_description']:.2f}",
             f"{r['today']['details_unfounded']:.1%} / {r['spoken']['details_unfounded']:.1%}"]
            for name, r in results.items()]
    show(f"saying only what is true: bundled captioner, beam {args.beam}",
         ("set", "photos", "hallucinated today", "hallucinated spoken", "informative today", "informative spoken",
          "spoken names no object", "details per description today / spoken",
          "details no reference has, today / spoken"), rows,
         *(f"describe latency, batch 1, {t} torch thread(s), {v['runs']} runs: median {v['median_s']:.3f} s "
           f"(p10 {v['p10_s']:.3f}, p90 {v['p90_s']:.3f}; round medians "
           f"{', '.join(f'{x:.3f}' for x in v['round_medians_s'])}; load average {v['load_average_1min'][0]:.1f})"
           for t, v in lat.items()),
         "targets (issue 16): COCO-mini spoken hallucinated <= 20%, informative >= 60%; latency <= 0.15 s median on 2 cores")
    save(args.out, beam=args.beam, calibration=describer.calibration.provenance, sets=results,
         latency_by_threads=lat, cpu_count=os.cpu_count())


if __name__ == "__main__":
    main()
