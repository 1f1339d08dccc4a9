"""What is read in a photo, as parts of what is said: its text lines and its codes (issues 14 and 30)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from .codes import CodesSeen


@dataclass(frozen=True)
class Part:
    """A piece of the spoken sentence and where it came from."""

    text: str
    source: str  # "caption", "recognition", "people", "text", "code", "image" (too dark, blank) or "none"


class TextLine(Protocol):
    """A line of text found in a photo (model/describing/text_reader.py)."""

    text: str
    confidence: float


class TextReader(Protocol):
    """Anything that reads the text in a photo."""

    def read(self, image: Image.Image) -> Sequence[TextLine]: ...


def text_part(lines: Sequence[TextLine]) -> tuple[tuple[str, ...], Part | None]:
    """The text lines read, and the part that says them (the first two, and how many more), if any."""
    texts = tuple(line.text.strip() for line in lines if line.text.strip())
    if not texts:
        return texts, None
    rest = len(texts) - 2
    more = f" and {rest} more line{'s' if rest > 1 else ''}" if rest > 0 else ""
    return texts, Part(f"It says: {'; '.join(texts[:2])}{more}.", "text")


def code_parts(found: CodesSeen) -> list[Part]:
    """A part for each code decoded; with none decoded, where an unread code lies (so the aim can move)."""
    if found.codes:
        return [Part(f"{c.said[0].upper()}{c.said[1:]}", "code") for c in found.codes]
    return [Part(found.unread[0].said, "code")] if found.unread else []


def spoken_reading(text: str, found: CodesSeen, nothing: str) -> str:
    """What reading aloud says: the text (model.describing.text_reader.spoken_text), then the codes, or nothing."""
    return " ".join([text, *(p.text for p in code_parts(found))]).strip() or nothing
