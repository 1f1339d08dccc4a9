"""A person probe: logistic regression on the encoder's pooled features, trained on Flickr8k train captions.

    python -m training.person_probe [--data ../shared/data] [--l2 0.016]

ImageNet has no person class, and OpenCV's HOG and face detectors separate photos with people from photos
without them only weakly on everyday COCO scenes (ROC AUC about 0.56 and 0.51 on COCO-mini train). The
encoder's average-pooled features (the very vector the ImageNet head reads) know much more: a linear probe
on them, labelled by the captions alone ("a person" when at least two of a photo's five Flickr8k train
captions name one, in the describer's own people words), costs one (B, 1280) x (1280,) product per batch.

The probe's logit is one more input of the calibrated people model (model/people.py), whose weights and
thresholds `python -m training.calibrate_recognition` fits afterwards on the dev photos. The probe never
sees those dev photos, nor COCO-mini val or Flickr8k test. Output: model/data/person_probe.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from model import Captioner, load_image
from model.describer import PERSON, Concepts
from model.recognition import PROBE_FILE

from .calibrate_recognition import auc, dev_sources, fit_logistic
from .data import ImageRecord, data_root, load_records, select_split

MIN_MENTIONS = 2  # of a photo's five captions, how many must name a person for the label


def pooled_features(captioner: Captioner, records: Sequence[ImageRecord], batch_size: int = 32) -> np.ndarray:
    """The encoder's average-pooled features (N, C) of each photo, as the recognizer's head reads them."""
    out = []
    for lo in range(0, len(records), batch_size):
        pictures = [load_image(r.path) for r in records[lo : lo + batch_size]]
        out.append(captioner.encode(pictures).float().mean(dim=1).numpy())  # (B, C)
    return np.concatenate(out).astype(np.float64)


def person_labels(records: Sequence[ImageRecord], concepts: Concepts, min_mentions: int) -> np.ndarray:
    """True where at least min_mentions of a photo's captions name a person."""
    return np.array([sum(PERSON in concepts.lexicon.find(c) for c in r.captions) >= min_mentions for r in records])


def cached_features(captioner: Captioner, records: Sequence[ImageRecord], path: Path) -> np.ndarray:
    """pooled_features, kept in path between runs (keyed by the photos' ids)."""
    ids = np.array([r.image_id for r in records])
    if path.is_file():
        saved = np.load(path)
        if np.array_equal(saved["ids"], ids):
            return saved["features"]
    features = pooled_features(captioner, records)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, ids=ids, features=features)
    return features


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.person_probe")
    p.add_argument("--data", default=str(data_root()), help="the shared data folder (default: %(default)s)")
    p.add_argument("--l2", type=float, default=0.15, help="L2 penalty on standardised features (0.15: the best dev AUC of 0.016-1.5)")
    p.add_argument("--cache", default="cache", help="where pooled features are kept between runs")
    p.add_argument("--out", default=str(PROBE_FILE))
    args = p.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    captioner = Captioner.default()
    concepts = Concepts.load()
    data, cache = Path(args.data), Path(args.cache)
    flickr = data / "flickr8k"
    train = select_split(load_records(flickr / "captions_flickr8k.json", flickr / "images"), "train")
    x = cached_features(captioner, train, cache / "pooled_flickr8k-train.npz")
    y = person_labels(train, concepts, MIN_MENTIONS)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    w, b = fit_logistic((x - mean) / scale, y.astype(float), l2=args.l2)
    weights, bias = w / scale, b - float((mean / scale) @ w)  # so the probe reads raw pooled features
    checks = {}
    for source, records in dev_sources(data).items():
        xs = cached_features(captioner, records, cache / f"pooled_{source}.npz")
        checks[source] = round(auc(xs @ weights + bias, person_labels(records, concepts, 1)), 4)
    result = {
        "what": "logit of a person in the photo = pooled encoder features . weights + bias",
        "encoder": captioner.config.encoder,
        "written_by": "python -m training.person_probe",
        "date": datetime.date.today().isoformat(),
        "trained_on": f"Flickr8k train ({len(train)} photos); label: a person named in >= {MIN_MENTIONS} of 5 "
                      "captions",
        "l2": args.l2,
        "train_positive_rate": round(float(y.mean()), 4),
        "dev_auc (a person named in any reference)": checks,
        "bias": round(bias, 6),
        "weights": [round(float(v), 6) for v in weights],
    }
    Path(args.out).write_text(json.dumps(result) + "\n")
    print(f"person probe: dev AUC {checks}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
