"""A text read from the camera, to be listened to whole, line by line or sentence by sentence (issue 28).

Before, reading a seven-line letter said the first two lines "and 5 more lines", so its date, time and
phone number were never heard. A `Document` keeps every line (already phrased for speech by
`model.text_reader.spoken_lines`) and a place in it, which the next and previous keys move.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class Document:
    """The lines of a text and where the listener is in it; each move returns what to say."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = [line for line in lines if line.strip()]
        self.sentences = [s for s in _SENTENCE_END.split(" ".join(self.lines)) if s.strip()]
        self.line = -1  # none said yet: next says the first
        self.sentence = -1

    def intro(self) -> str:
        """What is said before the lines: how many there are."""
        n = len(self.lines)
        return f"It says, in {n} line{'s' * (n != 1)}:" if n else "No text in view."

    def everything(self) -> list[str]:
        """Every line, in reading order (the place moves to the end)."""
        self.line, self.sentence = len(self.lines) - 1, len(self.sentences) - 1
        return list(self.lines)

    def move_line(self, step: int) -> str:
        """The next (step 1) or previous (step -1) line, or where the text ends."""
        return self._move("line", self.lines, step)

    def move_sentence(self, step: int) -> str:
        """The next (step 1) or previous (step -1) sentence, or where the text ends."""
        return self._move("sentence", self.sentences, step)

    def _move(self, unit: str, items: list[str], step: int) -> str:
        if not items:
            return "No text has been read; t reads the text in view."
        at = getattr(self, unit) + step
        if at < 0:
            setattr(self, unit, 0)
            return f"Start of the text: {items[0]}"
        if at >= len(items):
            setattr(self, unit, len(items))
            return f"End of the text, {len(items)} {unit}s."
        setattr(self, unit, at)
        return items[at]
