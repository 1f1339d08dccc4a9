"""Line-by-line output for the commands without a screen: one tab-separated line per event.

A screen reader or braille display follows such output line by line; with --speak, each line is also said,
by the app's rules (speech_queue.py): statuses in order, new photos queued and summarised when they pile
up, live lines dropped when stale, nothing cut off.
"""

from __future__ import annotations

import threading
import time

from model.images import display_path as printable

from ..speech_queue import photo_subject


class LineOutput:
    """Prints status changes and descriptions as lines, and says them when a speaker is given."""

    def __init__(self) -> None:
        self.speaker = None
        self._lock = threading.Lock()  # lines come from the camera, describing and speech threads

    def line(self, *parts: str) -> None:
        with self._lock:
            print("\t".join([time.strftime("%H:%M:%S"), *parts]), flush=True)

    def status(self, message: str) -> None:
        self.line("status", message)
        if self.speaker is not None:
            self.speaker.say(message, kind="instructions")

    def describe(self, seen) -> None:
        """One observation: a camera frame or a photo file, described."""
        self.line(printable(seen.source), seen.said,
                  f"(confidence {seen.caption.confidence:.2f}, {seen.latency:.2f} s after arrival)")
        if self.speaker is not None:
            photo = seen.image is None  # a file from a watched folder, not a camera frame
            self.speaker.say(seen.said, kind="photo" if photo else "live", subject=photo_subject(seen.sentence))

    def close(self, finish: float = 0.0) -> None:
        """Stop speaking; finish: first let what is queued be said, for at most that many seconds."""
        if self.speaker is not None:
            self.speaker.close(finish=finish)
