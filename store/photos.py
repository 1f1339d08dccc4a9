"""Writing to the index: photos by content hash, captions, models, failures. Each call is one transaction."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .schema import Caption, Failure, ModelVersion, Photo, utcnow


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class NewCaption:
    """A caption ready to store."""

    path: str
    sha256: str
    size: int
    mtime: float
    width: int | None
    height: int | None
    text: str
    confidence: float
    embedding: bytes | None
    source: str = "folder"


def get_or_add_model(session: Session, name: str, sha256: str) -> ModelVersion:
    model = session.scalar(select(ModelVersion).where(ModelVersion.sha256 == sha256))
    if model is None:
        model = ModelVersion(name=name, sha256=sha256)
        session.add(model)
        session.flush()
    return model


def is_unchanged(session: Session, path: str, size: int, mtime: float) -> bool:
    """True when a photo or a failure was recorded at this path with this size and mtime."""
    photo = session.scalar(select(Photo.id).where(Photo.path == path, Photo.size == size, Photo.mtime == mtime))
    if photo is not None:
        return True
    return session.scalar(
        select(Failure.id).where(Failure.path == path, Failure.size == size, Failure.mtime == mtime)
    ) is not None


def has_caption(session: Session, sha256: str, model_id: int) -> bool:
    return session.scalar(
        select(Caption.id).join(Photo).where(Photo.sha256 == sha256, Caption.model_id == model_id)
    ) is not None


def touch_photo(session: Session, sha256: str, path: str, size: int, mtime: float) -> None:
    """A known photo seen again, maybe under a new name."""
    photo = session.scalar(select(Photo).where(Photo.sha256 == sha256))
    if photo is not None:
        photo.path, photo.size, photo.mtime, photo.last_seen = path, size, mtime, utcnow()


def add_captions(session: Session, model_id: int, items: list[NewCaption]) -> int:
    """Store captions (and their photos); a photo that already has this model's caption is left alone."""
    added = 0
    for item in items:
        photo = session.scalar(select(Photo).where(Photo.sha256 == item.sha256))
        if photo is None:
            photo = Photo(sha256=item.sha256, path=item.path, size=item.size, mtime=item.mtime, width=item.width,
                          height=item.height, source=item.source)
            session.add(photo)
            session.flush()
        else:
            photo.path, photo.size, photo.mtime, photo.last_seen = item.path, item.size, item.mtime, utcnow()
        if session.scalar(select(Caption.id).where(Caption.photo_id == photo.id, Caption.model_id == model_id)):
            continue
        session.add(Caption(photo_id=photo.id, model_id=model_id, text=item.text, confidence=item.confidence,
                            embedding=item.embedding))
        session.execute(delete(Failure).where(Failure.path == item.path))
        added += 1
    return added


def record_failure(session: Session, path: str, size: int, mtime: float, reason: str) -> None:
    failure = session.scalar(select(Failure).where(Failure.path == path))
    if failure is None:
        session.add(Failure(path=path, size=size, mtime=mtime, reason=reason))
    else:
        failure.size, failure.mtime, failure.reason, failure.seen = size, mtime, reason, utcnow()


PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
TEMPORARY_SUFFIXES = ("~", ".tmp", ".part", ".crdownload", ".swp")


def is_photo_name(name: str) -> bool:
    """A file name worth reading as a photo: a photo suffix, not hidden, not a temporary file."""
    if name.startswith(".") or name.endswith(TEMPORARY_SUFFIXES):
        return False
    return Path(name).suffix.lower() in PHOTO_SUFFIXES


def image_files(folders: list[str | os.PathLike]) -> list[Path]:
    """Photo files under folders, sorted; hidden files and folders and temporary files are skipped."""
    out = []
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            out += [Path(root) / name for name in sorted(files) if is_photo_name(name)]
    return out
