"""Tables of the index (schema version 3, see migrations.py): photos by content hash, the files that hold
them, their descriptions, the models that wrote them."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import ForeignKey, LargeBinary, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Photo(Base):
    """A photo, identified by the SHA-256 of its bytes: moved, renamed or copied it stays the same photo."""

    __tablename__ = "photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    width: Mapped[int | None]
    height: Mapped[int | None]
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    files: Mapped[list[File]] = relationship(back_populates="photo", cascade="all, delete-orphan")
    captions: Mapped[list[CaptionRecord]] = relationship(back_populates="photo", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"Photo(id={self.id}, sha256={self.sha256[:12]}...)"


class File(Base):
    """A file on disk that holds a photo; copies of one photo are several files."""

    __tablename__ = "files"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(unique=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    size: Mapped[int]
    mtime: Mapped[float]
    source: Mapped[str] = mapped_column(String(16), default="folder")  # folder, camera, manual
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    photo: Mapped[Photo] = relationship(back_populates="files")

    def __repr__(self) -> str:
        return f"File(id={self.id}, path={self.path!r}, photo_id={self.photo_id})"


class ModelVersion(Base):
    """A captioning model that wrote captions, by checkpoint name and content hash."""

    __tablename__ = "models"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"ModelVersion(id={self.id}, name={self.name!r})"


class CaptionRecord(Base):
    """One model's description of one photo: the caption, what was said, the objects recognised and the
    text read, with the caption's confidence and a sentence embedding for semantic search."""

    __tablename__ = "captions"
    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    text: Mapped[str]  # the caption as the model wrote it
    confidence: Mapped[float]
    sentence: Mapped[str] = mapped_column(default="")  # what seesay said about the photo
    objects: Mapped[str] = mapped_column(default="")  # recognised objects, "; "-separated
    reading: Mapped[str] = mapped_column(default="")  # text read from the photo, one line per line
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32 sentence embedding
    created: Mapped[datetime] = mapped_column(default=utcnow)
    photo: Mapped[Photo] = relationship(back_populates="captions")
    model: Mapped[ModelVersion] = relationship()
    __table_args__ = (UniqueConstraint("photo_id", "model_id"),)

    def __repr__(self) -> str:
        return f"CaptionRecord(id={self.id}, photo_id={self.photo_id}, text={self.text!r})"


class Failure(Base):
    """A file that could not be indexed, and why; retried when the file changes."""

    __tablename__ = "failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(unique=True)
    size: Mapped[int]
    mtime: Mapped[float]
    reason: Mapped[str]
    seen: Mapped[datetime] = mapped_column(default=utcnow)


class SchemaInfo(Base):
    """The schema version of this file, for migrations."""

    __tablename__ = "schema_info"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int]


class EmbeddingVersion(Base):
    """A random token renewed by triggers whenever a caption's embedding is added, removed or changed: the
    embedding cache beside the index is current while it holds the same one (store/embedding_cache.py)."""

    __tablename__ = "embedding_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[bytes] = mapped_column(LargeBinary)
