"""Caption data: where it lives, COCO-format files through pycocotools, the Karpathy split file, and batching.

Shapes: B batch, T caption length with BOS and EOS, P regions, E channels.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from model import Vocabulary
from model.captioner.encoder import Encoder
from model.images import ImageError

from .config import TrainConfig
from .distributed import Dist

TRAIN_SPLITS = {"train": ("train", "restval"), "val": ("val",), "test": ("test",)}
DATA_ROOT_ENV = "SEESAY_DATA"


def data_root() -> Path:
    """The shared data folder: $SEESAY_DATA, else ../shared/data beside the repository (not the current
    directory). It may not exist; saying so is the caller's job."""
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "shared" / "data"  # training/data.py -> repo -> its parent


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
        size, mtime = (st.st_size, int(st.st_mtime)) if st else (-1, -1)
        h.update(f"{r.path.parent.name}/{r.path.name}|{size}|{mtime}\n".encode())
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


def train_and_val_records(cfg: TrainConfig) -> tuple[list[ImageRecord], list[ImageRecord], str]:
    """Training and validation records for a run, and the name of the training annotation file.

    Validation is cfg.val_annotations (official COCO layout) or the "val" split; a file without splits
    holds out every tenth photo, deterministically.
    """
    records = load_records(cfg.annotations, cfg.images)
    train = select_split(records, "train")
    if cfg.val_annotations:
        val = load_records(cfg.val_annotations, cfg.val_images or cfg.images)
        val = select_split(val, "val") or val
    else:
        val = select_split(records, "val")
    if not train:
        raise ValueError(f"no training images in {cfg.annotations}")
    if not val:
        val, train = train[::10], [r for i, r in enumerate(train) if i % 10]
    if cfg.eval_max_images:
        val = val[: cfg.eval_max_images]
    return train, val, Path(cfg.annotations).name


class PhotosWithCaptions(Dataset):
    """(preprocessed photo, caption) pairs, for when region features are not cached."""

    def __init__(self, pairs: CaptionPairs, records: Sequence[ImageRecord], encoder: Encoder) -> None:
        self.pairs, self.records, self.encoder = pairs, records, encoder

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx, cap = self.pairs[i]
        return self.encoder.preprocess(self.records[idx].path), cap


def collate_photos(batch: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Collate (photo, caption) pairs into photos (B, 3, H, W) and zero-padded captions (B, T)."""
    images = torch.stack([b[0] for b in batch])
    return images, pad_captions([(0, b[1]) for b in batch])[1]


def train_loader(
    cfg: TrainConfig, d: Dist, records: Sequence[ImageRecord], vocabulary: Vocabulary, encoder: Encoder,
    cached_ok: np.ndarray | None,
) -> tuple[DataLoader, DistributedSampler]:
    """This rank's batches: (photo indices, captions) when features are cached (cached_ok says which
    photos could be read), else (photos, captions) preprocessed by the encoder."""
    pairs = CaptionPairs(records, vocabulary, cfg.model.max_length)
    if cached_ok is not None:
        pairs.pairs = [p for p in pairs.pairs if cached_ok[p[0]]]
        dataset, collate = pairs, pad_captions
    else:
        dataset, collate = PhotosWithCaptions(pairs, records, encoder), collate_photos
    sampler = DistributedSampler(dataset, num_replicas=d.world_size, rank=d.rank, shuffle=True, seed=cfg.seed)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, collate_fn=collate, drop_last=True,
                        num_workers=0 if cached_ok is not None else cfg.num_workers)
    return loader, sampler
