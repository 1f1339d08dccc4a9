"""Saying what is there (issue 26): on held-out labelled COCO photos, how often the objects and people said
are present, whether the number of people said is right, and how many of the large things present are
said; the describer with the object detector beside the one without it (recognition and the people model).

    python benchmarks/objects_truth.py [--data ../shared/data] [--out benchmarks/results/objects_truth.json]

Photos: COCO-mini val (79) and COCO-tiny val (78), never used by any calibration; their truth is the official
boxes (training/object_truth.py). Also the dev photos (COCO-mini and COCO-tiny train, which the object
calibration was fitted on), marked as such. And Flickr8k test (1,000), with its five references as truth
(CHAIR: training/hallucination.py), as `seesay evaluate` measures it. Both describers run on ONNX Runtime.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from report import add_data_argument, save, show

from model.captioner.onnx_engine import OnnxCaptioner
from model.describing.describer import Describer
from model.describing.detection import ObjectDetector
from model.images import load_image
from training.data import load_records, select_split
from training.hallucination import hallucination_scores
from training.object_truth import labelled_photos, truth_scores


def sentences(describer: Describer, paths, batch: int = 16) -> list[str]:
    """The describer's sentences for photo files, in order."""
    out = []
    for lo in range(0, len(paths), batch):
        out += [d.sentence for d in describer.describe([load_image(p) for p in paths[lo : lo + batch]])]
    return out


def people_counts(scores: dict) -> str:
    """How the photos with people not counted right went wrong: "5 high, 12 low, 0 no number, 20 unsaid"."""
    return ", ".join(f"{n} {kind.removeprefix('too_').replace('_', ' ')}"
                     for kind, n in scores["people_counts"].items() if kind != "exact")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(p)
    p.add_argument("--out", default="benchmarks/results/objects_truth.json")
    p.add_argument("--flickr", type=int, default=1000, help="Flickr8k test photos (default: all 1,000)")
    args = p.parse_args()
    data = Path(args.data)
    captioner = OnnxCaptioner.default()
    describers = {"without detector": Describer.for_captioner(captioner),
                  "with detector": Describer.for_captioner(captioner, detector=ObjectDetector.default())}
    results: dict[str, dict] = {}
    rows = []
    for split in ("held-out", "dev"):
        photos = labelled_photos(data, split)
        for name, describer in describers.items():
            said = sentences(describer, [ph.path for ph in photos])
            scores = truth_scores(said, photos, describer.said_counts)
            results.setdefault(split, {})[name] = {**scores, "examples": dict(zip([ph.path.name for ph in photos[:12]], said))}
            rows.append([split, name, scores["photos"], f"{scores['objects_present']:.1%} of {scores['objects_said']}",
                         f"{scores['people_present']:.1%} of {scores['people_said']}",
                         f"{scores['count_right']:.1%} of {scores['photos_with_people']} ({people_counts(scores)})",
                         f"{scores['large_said']:.1%} of {scores['large_categories']}",
                         f"{scores['chair_absent']:.1%}", f"{scores['chair_present']:.1%}",
                         f"{scores['object_counts_right']:.1%} / {scores['object_counts_too_high']:.1%} of "
                         f"{scores['object_counts']}"])
    flickr = data / "flickr8k"
    records = select_split(load_records(flickr / "captions_flickr8k.json", flickr / "images"), "test")[: args.flickr]
    for name, describer in describers.items():
        said = sentences(describer, [r.path for r in records])
        scores = hallucination_scores(said, [r.captions for r in records])
        results.setdefault("flickr8k-test", {})[name] = {"photos": len(records), **scores}
        rows.append(["flickr8k test", name, len(records), "", "", "", "", f"{scores['hallucinated']:.1%}",
                     f"{scores['informative']:.1%}", ""])
    show("Saying what is there", ["photos", "describer", "n", "objects present", "people present",
                                  "people counted right", "large things said", "names an absent object",
                                  "names a present object", "other counts right / too high"], rows,
         "held-out: COCO-mini val + COCO-tiny val (boxes as truth); dev: their train halves (fitted on); "
         "Flickr8k test: references as truth (CHAIR)")
    save(args.out, results=results)


if __name__ == "__main__":
    main()
