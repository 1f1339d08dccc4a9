"""Line-by-line output for the commands without a screen: one tab-separated line per event.

A screen reader or braille display follows such output line by line; with --speak, each line is also said.
"""

from __future__ import annotations

import threading
import time

from model.images import display_path as printable


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
            self.speaker.say(message, interrupt=False)

    def describe(self, seen) -> None:
        """One observation: a camera frame or a photo file, described."""
        self.line(printable(seen.source), seen.said,
                  f"(confidence {seen.caption.confidence:.2f}, {seen.latency:.2f} s after arrival)")
        if self.speaker is not None:
            self.speaker.say(seen.said)

    def close(self) -> None:
        if self.speaker is not None:
            self.speaker.close()
