"""Camera frames through OpenCV, read on a worker thread, and the test for "this is a new scene".

A `Camera` opens a device index (a webcam), a video file or a stream URL with `cv2.VideoCapture` and keeps
the latest frame, converted to RGB by `model.from_bgr_frame`, the one place that does it. A camera that is missing or unplugged mid-stream is reported
through `on_status` and reopened with growing pauses, never raised to the caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from model import from_bgr_frame


@dataclass(frozen=True)
class Frame:
    """One camera frame: RGB pixels (H, W, 3) uint8, its number and when it was read."""

    rgb: np.ndarray
    index: int
    time: float


class Camera:
    """Reads frames on its own thread. `latest()` gives the newest; `on_frame` is called for each."""

    def __init__(
        self, source: int | str, *, on_frame: Callable[[Frame], None] | None = None,
        on_status: Callable[[str], None] | None = None, fps: float | None = None, loop: bool = False,
        retry_seconds: tuple[float, ...] = (1, 2, 5, 10),
    ) -> None:
        self.source = source
        self.on_frame = on_frame or (lambda frame: None)
        self.on_status = on_status or (lambda message: None)
        self.loop = loop  # a video file starts again at its end (for demos); otherwise it ends
        self.retry_seconds = retry_seconds
        self.fps = fps  # frames per second to read a file at; None: its own rate
        self.is_file = isinstance(source, str) and "://" not in source
        self._latest: Frame | None = None
        self._stop = threading.Event()
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._run, name="seesay-camera", daemon=True)
        self.frames = 0

    @property
    def name(self) -> str:
        return f"camera {self.source}" if isinstance(self.source, int) else str(self.source)

    def start(self) -> Camera:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def latest(self) -> Frame | None:
        return self._latest

    def _open(self) -> cv2.VideoCapture | None:
        cap = cv2.VideoCapture(self.source)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            cap = self._open()
            if cap is None:
                wait = self.retry_seconds[min(attempt, len(self.retry_seconds) - 1)]
                if attempt == 0:  # said once; the retries that follow are silent until it comes back
                    self.on_status(f"{self.name} is not available; seesay keeps trying to open it.")
                attempt += 1
                if self._stop.wait(wait):
                    break
                continue
            if attempt:
                self.on_status(f"{self.name} is back.")
            attempt = 0
            # Pace a file at its own frame rate, as a camera would deliver it.
            delay = 1.0 / self.fps if self.fps else (1.0 / (cap.get(cv2.CAP_PROP_FPS) or 25) if self.is_file else 0)
            lost = self._read(cap, delay)
            cap.release()
            if not lost:  # a file reached its end
                if self.loop:
                    continue
                self.on_status(f"{self.name} ended.")
                break
            self.on_status(f"{self.name} stopped sending frames; reconnecting.")
        self.ended.set()

    def _read(self, cap: cv2.VideoCapture, delay: float) -> bool:
        """Read until stopped or out of frames; True when the camera was lost rather than a file ending."""
        failures = 0
        while not self._stop.is_set():
            t = time.perf_counter()
            ok, bgr = cap.read()
            if not ok or bgr is None:
                if self.is_file:
                    return False
                failures += 1
                if failures >= 10:
                    return True
                time.sleep(0.05)
                continue
            failures = 0
            frame = Frame(np.asarray(from_bgr_frame(bgr)), self.frames, time.time())  # OpenCV reads BGR
            self.frames += 1
            self._latest = frame
            self.on_frame(frame)
            if delay:
                self._stop.wait(max(0.0, delay - (time.perf_counter() - t)))
        return False


class SceneChange:
    """Decides when a frame shows a new scene worth describing.

    Frames are compared as 32x32 greyscale thumbnails (mean absolute difference, 0..255), which ignores
    sensor noise and small motion. A frame is described when it differs from the last described frame by
    more than `threshold` and the view has settled (it differs from the previous frame by less than
    `settle`), so a camera swinging round is described once it stops, not on every blurred frame.
    """

    def __init__(self, threshold: float = 18.0, settle: float = 6.0, min_interval: float = 2.0) -> None:
        self.threshold = threshold
        self.settle = settle
        self.min_interval = min_interval
        self._described: np.ndarray | None = None
        self._previous: np.ndarray | None = None
        self._last_time = -float("inf")

    @staticmethod
    def thumbnail(rgb: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)

    def difference(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).mean())

    def is_new(self, rgb: np.ndarray, now: float | None = None) -> bool:
        """Whether this frame should be described; if so, it becomes the reference."""
        now = time.monotonic() if now is None else now
        thumb = self.thumbnail(rgb)
        previous, self._previous = self._previous, thumb
        if self._described is None:
            settled = True
        else:
            if now - self._last_time < self.min_interval:
                return False
            if self.difference(thumb, self._described) <= self.threshold:
                return False
            settled = previous is not None and self.difference(thumb, previous) < self.settle
        if settled:
            self.mark_described(thumb, now)
        return settled

    def mark_described(self, thumb_or_rgb: np.ndarray, now: float | None = None) -> None:
        """Make this frame the reference (e.g. after a manual "describe now")."""
        thumb = thumb_or_rgb if thumb_or_rgb.ndim == 2 else self.thumbnail(thumb_or_rgb)
        self._described = thumb
        self._last_time = time.monotonic() if now is None else now
