"""Camera frames through OpenCV, read on a worker thread, and the test for "this is a new scene".

A `Camera` opens a device index (a webcam), a video file or a stream URL with `cv2.VideoCapture` and keeps
the latest frame, converted to an RGB array by `model.from_bgr_frame`, the one place that does it. A device or a
stream that is missing or unplugged mid-stream is reported once through `on_status` and reopened with
growing pauses (cameras get plugged in); a video file that is missing or is not a video is reported once
and ends. Nothing is ever raised to the caller, and OpenCV and FFmpeg are told to keep quiet: their
warnings go to the terminal directly and would be drawn over the app (issue 13).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

# OpenCV reads its log level when it is imported, and FFmpeg's when a video is first opened, so these are
# set before either (issue 13: their warnings were drawn over the app); a user's own values are kept.
os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
os.environ.setdefault("OPENCV_VIDEOIO_DEBUG", "0")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from model import from_bgr_frame  # noqa: E402
from model.images import grey_thumbnail  # noqa: E402

CHOOSE = ("To use another camera, a video file or none, start seesay with --camera N, --video FILE or "
          "--no-camera, or change camera in the settings.")


def quiet_opencv() -> None:
    """Silence OpenCV's own logging, which writes straight to the terminal, also where OpenCV was imported
    before this module (the environment above no longer counts then)."""
    if os.environ.get("OPENCV_LOG_LEVEL") == "SILENT":
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


@dataclass(frozen=True)
class Frame:
    """One camera frame: RGB pixels (H, W, 3) uint8, its number and when it was read."""

    rgb: np.ndarray
    index: int
    time: float

    @cached_property
    def thumb(self) -> np.ndarray:
        """Its grey thumbnail (32, 32), made once: every scene test of the frame compares it."""
        return grey_thumbnail(self.rgb)


class FrameSource(Protocol):
    """What live description needs from a camera; tests pass a video file or a fake."""

    name: str
    ended: threading.Event  # set when the source has no more frames to give

    def start(self, on_frame: Callable[[Frame], None] | None = None,
              on_status: Callable[[str], None] | None = None) -> FrameSource: ...

    def stop(self) -> None: ...

    def latest(self) -> Frame | None: ...


class Camera:
    """Reads frames on its own thread. `latest()` gives the newest; `on_frame` is called for each."""

    def __init__(
        self, source: int | str, *, fps: float | None = None, loop: bool = False,
        retry_seconds: tuple[float, ...] = (1, 2, 5, 10),
    ) -> None:
        self.source = source
        self.on_frame: Callable[[Frame], None] = lambda frame: None
        self.on_status: Callable[[str], None] = lambda message: None
        self.loop = loop  # a video file starts again at its end (for demos); otherwise it ends
        self.retry_seconds = retry_seconds
        self.fps = fps  # frames per second to read a file at; None: its own rate
        self.is_file = isinstance(source, str) and "://" not in source
        self._latest: Frame | None = None
        self._stop = threading.Event()
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._run, name="seesay-camera", daemon=True)
        self.frames = 0

    @classmethod
    def of(cls, source: int | str | None, *, loop: bool = False) -> Camera | None:
        """The camera for a source from the runtime (`Runtime.camera_source`); None for no camera."""
        return None if source is None else cls(source, loop=loop)

    @property
    def name(self) -> str:
        return f"camera {self.source}" if isinstance(self.source, int) else str(self.source)

    def start(self, on_frame: Callable[[Frame], None] | None = None,
              on_status: Callable[[str], None] | None = None) -> Camera:
        """Start reading; on_frame gets every frame and on_status every change, both on the camera thread."""
        self.on_frame = on_frame or self.on_frame
        self.on_status = on_status or self.on_status
        quiet_opencv()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def latest(self) -> Frame | None:
        return self._latest

    def _open(self) -> cv2.VideoCapture | None:
        cap = cv2.VideoCapture(self.source)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _unreadable_file(self) -> str | None:
        """Why a video file can never be opened (so it is not retried), or None when it may be."""
        path = Path(self.source).expanduser()
        if not path.exists():
            return f"The video file {path} does not exist. {CHOOSE}"
        if path.is_dir():
            return f"{path} is a folder, not a video file. {CHOOSE}"
        return f"{path} is not a video seesay can read. {CHOOSE}"

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            cap = self._open()
            if cap is None and self.is_file and not attempt:
                self.on_status(self._unreadable_file())
                break
            if cap is None:
                wait = self.retry_seconds[min(attempt, len(self.retry_seconds) - 1)]
                if attempt == 0:  # said once; the retries that follow are silent until it comes back
                    self.on_status(f"{self.name.capitalize()} is not available; seesay keeps trying to open it. "
                                   f"{CHOOSE}")
                attempt += 1
                if self._stop.wait(wait):
                    break
                continue
            if attempt:
                self.on_status(f"{self.name.capitalize()} is back.")
            attempt = 0
            # Pace a file at its own frame rate, as a camera would deliver it.
            delay = 1.0 / self.fps if self.fps else (1.0 / (cap.get(cv2.CAP_PROP_FPS) or 25) if self.is_file else 0)
            lost = self._read(cap, delay)
            cap.release()
            if not lost:  # a file reached its end
                if self.loop and self.frames:
                    continue
                if not self._stop.is_set():
                    self.on_status(f"{self.name} ended." if self.frames else
                                   f"{self.name} holds no frames seesay can read. {CHOOSE}")
                break
            self.on_status(f"{self.name.capitalize()} stopped sending frames; reconnecting.")
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
            frame = Frame(from_bgr_frame(bgr), self.frames, time.time())  # OpenCV reads BGR
            self.frames += 1
            self._latest = frame
            self.on_frame(frame)
            if delay:
                self._stop.wait(max(0.0, delay - (time.perf_counter() - t)))
        return False


class SceneChange:
    """Decides when a frame shows a new scene worth describing.

    Frames are compared by their grey thumbnails (`Frame.thumb`, the 32 x 32 one `model.images.tone` measures;
    mean absolute difference, 0..255), which ignores
    sensor noise and small motion. A frame is described when it differs from the last described frame by
    more than `threshold` and the view has settled (it differs from the previous frame by less than
    `settle`), so a camera swinging round is described once it stops, not on every blurred frame.
    `moved()` is the smaller test: something in view moved since the last description (people walking
    by), worth checking whether what is in view has changed.
    """

    def __init__(self, threshold: float = 18.0, settle: float = 6.0, min_interval: float = 2.0,
                 motion: float = 1.5) -> None:
        self.threshold = threshold
        self.settle = settle
        self.min_interval = min_interval
        self.motion = motion
        self._described: np.ndarray | None = None
        self._previous: np.ndarray | None = None
        self._last_time = -float("inf")

    def difference(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).mean())

    def is_new(self, thumb: np.ndarray, now: float | None = None) -> bool:
        """Whether this frame (its Frame.thumb) should be described; if so, it becomes the reference."""
        now = time.monotonic() if now is None else now
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

    def moved(self, thumb: np.ndarray, now: float | None = None) -> bool:
        """Whether something moved since the last description, and min_interval has passed; if so, this
        frame becomes the reference."""
        now = time.monotonic() if now is None else now
        if self._described is None or now - self._last_time < self.min_interval:
            return False
        if self.difference(thumb, self._described) <= self.motion:
            return False
        self.mark_described(thumb, now)
        return True

    def due(self, thumb: np.ndarray, now: float | None = None) -> bool:
        """Whether min_interval has passed since the last description; if so, this frame becomes the reference."""
        now = time.monotonic() if now is None else now
        if self._described is None or now - self._last_time < self.min_interval:
            return False
        self.mark_described(thumb, now)
        return True

    def mark_described(self, thumb: np.ndarray, now: float | None = None) -> None:
        """Make this frame (its Frame.thumb) the reference (e.g. after a manual "describe now")."""
        self._described = thumb
        self._last_time = time.monotonic() if now is None else now
