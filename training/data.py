"""Caption data: COCO-format files through pycocotools, the Karpathy split file, and batching.

Shapes: B batch, T caption length with BOS and EOS, P regions, E channels.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from model import Vocabulary
from model.encoder import Encoder
from model.images import ImageError

TRAIN_SPLITS = {"train": ("train", "restval"), "val": ("val",), "test": ("test",)}


@dataclass(frozen=True)
class ImageRecord:
    """One photo and its reference captions."""

    image_id: int
    path: Path
    captions: tuple[str, ...]
    split: str | None = None


def load_records(annotations: str | os.PathLike, images: str | os.PathLike) -> list[ImageRecord]:
    """Photos and captions from a COCO caption file (read with pycocotools) or Karpathy's dataset_*.json.

    COCO: images are at images/file_name; an image's optional "split" field is kept (the Flickr8k file
    has one). Karpathy: images are at images/filepath/filename, and "restval" counts as training data.
    """
    annotations, images = Path(annotations), Path(images)
    if not annotations.is_file():
        raise FileNotFoundError(f"annotation file not found: {annotations}")
    if not images.is_dir():
        raise FileNotFoundError(f"image folder not found: {images}")
    with annotations.open() as f:
        head = json.load(f)
    if "annotations" not in head and "images" in head and head["images"] and "sentences" in head["images"][0]:
        return _karpathy_records(head, images)
    return _coco_records(annotations, images)


def _coco_records(annotations: Path, images: Path) -> list[ImageRecord]:
    from pycocotools.coco import COCO

    import contextlib, io

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
        coco = COCO(str(annotations))
    records = []
    for image_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(image_id)[0]
        caps = tuple(a["caption"].strip() for a in coco.loadAnns(coco.getAnnIds(imgIds=image_id)))
        if caps:
            records.append(ImageRecord(image_id, images / info["file_name"], caps, info.get("split")))
    return records


def _karpathy_records(data: dict, images: Path) -> list[ImageRecord]:
    records = []
    for i, img in enumerate(data["images"]):
        split = "train" if img.get("split") == "restval" else img.get("split")
        caps = tuple(s["raw"].strip() for s in img["sentences"])
        image_id = int(img.get("cocoid", img.get("imgid", i)))
        records.append(ImageRecord(image_id, images / img.get("filepath", "") / img["filename"], caps, split))
    return records


def select_split(records: Sequence[ImageRecord], split: str) -> list[ImageRecord]:
    """The records of one split; files without split fields are all 'train' unless split is 'all'."""
    if split == "all":
        return list(records)
    if not any(r.split for r in records):
        return list(records) if split == "train" else []
    wanted = TRAIN_SPLITS.get(split, (split,))
    return [r for r in records if r.split in wanted]


def records_digest(records: Sequence[ImageRecord]) -> str:
    """A short fingerprint of which files are in a list of records (for cache names)."""
    h = hashlib.sha1()
    for r in records:
        st = r.path.stat() if r.path.exists() else None
        h.update(f"{r.path.parent.name}/{r.path.name}|{st.st_size if st else -1}|{int(st.st_mtime) if st else -1}\n".encode())
    return h.hexdigest()[:16]


class ImageFiles(Dataset):
    """Preprocessed photos for an encoder; an unreadable photo becomes zeros with ok=False."""

    def __init__(self, records: Sequence[ImageRecord], encoder: Encoder) -> None:
        self.records = list(records)
        self.encoder = encoder

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, bool]:
        try:
            return self.encoder.preprocess(self.records[i].path), True
        except ImageError:
            s = self.encoder.image_size
            return torch.zeros(3, s, s), False


class CaptionPairs(Dataset):
    """One sample per (photo, caption) pair: the photo's index and its encoded caption."""

    def __init__(self, records: Sequence[ImageRecord], vocabulary: Vocabulary, max_words: int) -> None:
        self.pairs = [
            (i, torch.tensor(vocabulary.encode(c, max_words), dtype=torch.long))
            for i, r in enumerate(records)
            for c in r.captions
        ]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor]:
        return self.pairs[i]


def pad_captions(batch: Sequence[tuple[int, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Collate pairs into image indices (B,) and zero-padded captions (B, T)."""
    idx = torch.tensor([i for i, _ in batch], dtype=torch.long)
    caps = torch.nn.utils.rnn.pad_sequence([c for _, c in batch], batch_first=True, padding_value=0)
    return idx, caps
