"""Live description: camera frames in, a description out whenever the scene changes or on request.

`LiveDescriber` ties a `Camera`, the `SceneChange` test and the captioner together. Captioning runs on
its own thread so the camera never waits for the model; when frames arrive faster than captions, only
the newest waiting frame is described. Both `seesay live` and the app use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model import Caption, Captioner

from .camera import Camera, Frame, SceneChange


@dataclass(frozen=True)
class Description:
    """A caption of a frame or photo, ready to show and to say."""

    caption: Caption
    source: str  # camera name or photo path
    image: np.ndarray | None  # RGB frame, for previews and attention maps
    seen_at: float  # when the frame was read or the file was noticed (time.time())
    done_at: float  # when the caption was ready

    @property
    def text(self) -> str:
        return self.caption.text

    @property
    def sentence(self) -> str:
        return self.caption.sentence

    @property
    def latency(self) -> float:
        """Seconds from the frame (or file) arriving to its caption being ready."""
        return self.done_at - self.seen_at


class LiveDescriber:
    """Describes new scenes from a camera, and any frame on request."""

    def __init__(
        self, captioner: Captioner, source: int | str, *, on_description: Callable[[Description], None],
        on_status: Callable[[str], None] | None = None, on_frame: Callable[[Frame], None] | None = None,
        scene: SceneChange | None = None, beam_size: int = 3, loop: bool = False, fps: float | None = None,
    ) -> None:
        self.captioner = captioner
        self.on_description = on_description
        self.on_status = on_status or (lambda message: None)
        self.on_frame = on_frame or (lambda frame: None)
        self.scene = scene or SceneChange()
        self.beam_size = beam_size
        self.paused = False
        self.camera = Camera(source, on_frame=self._frame, on_status=self.on_status, loop=loop, fps=fps)
        self._wanted: Frame | None = None
        self._wake = threading.Condition()
        self._stop = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="seesay-describe", daemon=True)
        self.described = 0

    def start(self) -> LiveDescriber:
        self._thread.start()
        self.camera.start()
        return self

    def stop(self) -> None:
        self.camera.stop()
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        self._thread.join(timeout=10)

    def describe_now(self) -> bool:
        """Describe the latest frame whatever the scene test says; False when there is no frame yet."""
        frame = self.camera.latest()
        if frame is None:
            return False
        self.scene.mark_described(frame.rgb)
        self._request(frame)
        return True

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until the camera has ended and every requested frame is described."""
        deadline = time.monotonic() + timeout
        self.camera.ended.wait(timeout)
        with self._wake:
            while (self._wanted is not None or self._busy) and time.monotonic() < deadline:
                self._wake.wait(0.1)

    def _frame(self, frame: Frame) -> None:
        self.on_frame(frame)
        if not self.paused and self.scene.is_new(frame.rgb):
            self._request(frame)

    def _request(self, frame: Frame) -> None:
        with self._wake:
            self._wanted = frame  # replaces an older waiting frame: it is stale now
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._wanted is None and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                frame, self._wanted, self._busy = self._wanted, None, True
            try:
                caption = self.captioner.caption([frame.rgb], beam_size=self.beam_size)[0]
            except Exception as exc:  # a model failure must not end live mode
                self.on_status(f"Could not describe the frame: {exc}")
            else:
                self.described += 1
                self.on_description(Description(caption, self.camera.name, frame.rgb, frame.time, time.time()))
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()
