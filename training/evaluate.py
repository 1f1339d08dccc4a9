"""Scoring a checkpoint on a held-out split with beam search: the only source of reported scores."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from model import Captioner, ImageError, load_image
from model.describing.concepts import Concepts
from model.describing.describer import Describer
from model.describing.people import PeopleDetector
from model.describing.recognition import Recognizer

from .data import ImageRecord, load_records, select_split
from .feature_cache import build_feature_cache
from .hallucination import detail_scores, hallucination_scores
from .metrics import METRICS, java_available
from .validation import validate

# The truth measures (training/hallucination.py) as they appear beside BLEU and CIDEr in the scores.
TRUTH_METRICS = ("hallucinated (caption)", "informative (caption)", "hallucinated (spoken)", "informative (spoken)",
                 "unfounded details (caption)", "unfounded details (spoken)")


@dataclass(frozen=True)
class Evaluation:
    """Scores of one checkpoint on one split, and the captions behind them."""

    scores: dict[str, float]
    captions: dict[int, str]
    split: str
    images: int
    beam_size: int
    tokenizer: str
    descriptions: dict[int, str] | None = None  # the spoken sentences, when the truth measures were taken
    no_repeat_ngram: int = 0  # the repeat blocking of the search that wrote the captions


def evaluate_checkpoint(
    model: str | Path | None, annotations: str | Path, images: str | Path, *, split: str = "test", beam_size: int = 3,
    cache_dir: str | Path | None = "cache", device: str = "cpu", results: str | Path | None = None,
    max_images: int = 0, truth: bool = True,
) -> Evaluation:
    """Caption every photo of split with beam search and score against all its references.

    The captions scored are the ones seesay says: beam search with the repeat blocking the describer is
    calibrated for (model/data/calibration.json), which is also what `seesay caption --json` gives as the
    caption and what the ONNX Runtime engine compiles. model None: the bundled captioner. split "all" takes
    every photo of the file (for a file with no split field, such as COCO val2017). Region features are cached when the checkpoint's encoder is the frozen
    packaged one. results: where to write the captions in COCO results format ([{"image_id", "caption"}]).
    truth: also measure object hallucination and informativeness (CHAIR-style, training/hallucination.py)
    of the raw captions and of the describer's spoken descriptions, and the share of their details (what
    people do, where, colours, counts) that no reference founds.
    """
    captioner = Captioner.from_checkpoint(model, device=device) if model else Captioner.default(device=device)
    records = select_split(load_records(annotations, images), split)
    if not records:
        raise ValueError(f"split {split!r} of {annotations} has no images (use --split all for a file without splits)")
    if max_images:
        records = records[:max_images]
    features = None
    if cache_dir and captioner.encoder.packaged_weights and not captioner.metadata.get("fine_tuned_encoder"):
        features = build_feature_cache(records, captioner.encoder, cache_dir, device=torch.device(device),
                                       progress=False)
    describer = Describer(captioner, Recognizer.for_captioner(captioner), PeopleDetector(), detector=bundled_detector())
    boxes = box_categories(annotations)
    scores, hyps = validate(captioner, records, features, beam_size=beam_size, metrics=METRICS,
                            no_repeat_ngram=describer.no_repeat_ngram)
    spoken = None
    if truth:
        refs = [r.captions for r in records]
        present = [boxes.get(r.image_id, ()) for r in records] if boxes else None
        raw = hallucination_scores([hyps[r.image_id] for r in records], refs, present)
        scores["hallucinated (caption)"], scores["informative (caption)"] = raw["hallucinated"], raw["informative"]
        spoken, from_caption = describe_records(describer, records, beam_size)
        said = hallucination_scores([spoken[r.image_id] for r in records], refs, present)
        scores["hallucinated (spoken)"], scores["informative (spoken)"] = said["hallucinated"], said["informative"]
        objects = Concepts.load().lexicon
        for name, texts in (("caption", hyps), ("spoken", from_caption)):
            scores[f"unfounded details ({name})"] = detail_scores(
                [texts[r.image_id] for r in records], refs, objects)["details_unfounded"]
    if results:
        Path(results).parent.mkdir(parents=True, exist_ok=True)
        Path(results).write_text(json.dumps([{"image_id": k, "caption": v} for k, v in hyps.items()], indent=0))
    tokenizer = "PTB (Java)" if java_available() else "seesay (no Java)"
    return Evaluation(scores, hyps, split, len(records), beam_size, tokenizer, spoken, describer.no_repeat_ngram)


def bundled_detector():
    """The object detector seesay describes with (model/describing/detection.py), or None when its graph is missing."""
    from model.describing.detection import ObjectDetector

    try:
        return ObjectDetector.default()
    except FileNotFoundError:
        return None


def box_categories(annotations: str | Path) -> dict[int, frozenset[str]]:
    """The categories with a box in each photo, from the COCO instances file beside a captions file
    (captions_X.json -> instances_X.json); empty when there is none (Flickr8k). The truth measures then
    count an object as present when a reference names it or it has a box, as CHAIR does."""
    path = Path(annotations)
    instances = path.with_name(path.name.replace("captions_", "instances_", 1))
    if instances == path or not instances.is_file():
        return {}
    data = json.loads(instances.read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    out: dict[int, set[str]] = {}
    for a in data["annotations"]:
        out.setdefault(a["image_id"], set()).add(names[a["category_id"]])
    return {k: frozenset(v) for k, v in out.items()}


def describe_records(describer: Describer, records: list[ImageRecord], beam_size: int,
                     batch_size: int = 16) -> tuple[dict[int, str], dict[int, str]]:
    """The describer's spoken sentence for each photo and the part of it taken from a caption ("" where
    none is)."""
    out: dict[int, str] = {}
    from_caption: dict[int, str] = {}
    for lo in range(0, len(records), batch_size):
        chunk, pictures = [], []
        for r in records[lo : lo + batch_size]:
            try:
                pictures.append(load_image(r.path))
                chunk.append(r)
            except ImageError:  # validate() scored it from zeros; here it simply says nothing
                out[r.image_id] = from_caption[r.image_id] = ""
        descriptions = describer.describe(pictures, beam_size)
        out.update({r.image_id: d.sentence for r, d in zip(chunk, descriptions)})
        from_caption.update({r.image_id: d.from_caption for r, d in zip(chunk, descriptions)})
    return out, from_caption
