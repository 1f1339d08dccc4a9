"""What is read in a photo, as parts of what is said: its text lines and its codes (issues 14 and 30).

`said_text` is the one phrasing of text found in a photo ("It says: A; B and 1 more line."): the describer's
sentence and any other summary use it (issue 25); reading a text out line by line (the app's `t`, `seesay
read --speak`) is assistant/reading.py's `Document`."""

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


def said_text(texts: Sequence[str], max_lines: int = 2) -> str:
    """Text read, phrased to be said: 'It says: FIRST; SECOND and 5 more lines.'; '' for no text."""
    if max_lines < 1:
        raise ValueError(f"max_lines must be at least 1, got {max_lines!r}")
    texts = [t.strip() for t in texts if t.strip()]
    if not texts:
        return ""
    rest = len(texts) - max_lines
    more = f" and {rest} more line{'s' if rest > 1 else ''}" if rest > 0 else ""
    return f"It says: {'; '.join(texts[:max_lines])}{more}."


def text_part(lines: Sequence[TextLine]) -> tuple[tuple[str, ...], Part | None]:
    """The text lines read, and the part that says them (the first two, and how many more), if any."""
    texts = tuple(line.text.strip() for line in lines if line.text.strip())
    return texts, Part(said_text(texts), "text") if texts else None


def code_parts(found: CodesSeen) -> list[Part]:
    """A part for each code decoded; with none decoded, where an unread code lies (so the aim can move)."""
    if found.codes:
        return [Part(f"{c.said[0].upper()}{c.said[1:]}", "code") for c in found.codes]
    return [Part(found.unread[0].said, "code")] if found.unread else []

