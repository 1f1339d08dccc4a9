"""Live description: camera frames in, a description out whenever what is in view changes, or on request.

`LiveDescriber` ties a camera (any `FrameSource`), the `SceneChange` test, the describer and a `Narrator`
together. Describing runs on its own thread so the camera never waits for the model; when frames arrive
faster than descriptions, only the newest waiting frame is described. Three things start a description:
a new scene (the whole view changed, e.g. the camera turned), something moving in view (people walking
by; checked at most every `min_interval` seconds) and, optionally, a clock (`every` seconds). The
narrator then decides what is said: a person at a street wants to hear when what is in view changes,
never the same sentence twice in a row (issue 13), and not a flip-flop between two sentences that say the
same thing ("A person." / "People." alternated for 80 s on the street video, issue 28): a change is told
as such ("Now: ..."), the number of a thing is not a change, and going back to a sentence said a moment
ago needs one more sighting. Both `seesay live` and the app use it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model import Caption
from model.describing.objects import changes

from .camera import Frame, FrameSource, SceneChange

ASKED, NEW, CHANGED, STILL = "asked", "new", "changed", "still"  # Observation.kind: why it is said


@dataclass(frozen=True)
class Observation:
    """A frame or photo file, described: what the describer made of it, where and when it came from."""

    description: object  # model.describer.Description: the caption, the objects recognised, the sentence
    source: str  # camera name or photo path
    image: np.ndarray | None  # RGB frame, for previews and attention maps
    seen_at: float  # when the frame was read or the file was noticed (time.time())
    done_at: float  # when the description was ready
    kind: str = NEW  # NEW: the first; CHANGED: what is in view changed; STILL: unchanged, on the clock; ASKED
    change: str = ""  # for CHANGED: what arrived and what left ("Now: a person on the left."), where known

    @property
    def caption(self) -> Caption:
        return self.description.caption

    @property
    def text(self) -> str:
        return self.description.caption.text

    @property
    def sentence(self) -> str:
        return self.description.sentence

    @property
    def said(self) -> str:
        """What is spoken and shown for it: a change told as what arrived and what left, where the detector's
        evidence says it (issue 26), else as the new sentence."""
        if self.kind == CHANGED and self.change:
            return self.change
        prefix = {STILL: "Still: ", CHANGED: "Now: "}.get(self.kind, "")
        return prefix + self.sentence

    @property
    def latency(self) -> float:
        """Seconds from the frame (or file) arriving to its description being ready."""
        return self.done_at - self.seen_at


def gist(sentence: str) -> tuple[str, ...]:
    """A sentence's words without case, punctuation or articles: "A dog." and "a dog" say the same."""
    return tuple(w for w in re.findall(r"[\w']+", sentence.lower()) if w not in {"a", "an", "the"})


_SINGULAR = {"people": "person", "men": "man", "women": "woman", "children": "child", "persons": "person"}
_COUNTS = {"two", "three", "four", "five", "several", "many", "some", "group", "of", "crowd"}


def subject(sentence: str) -> tuple[str, ...]:
    """What a sentence names, without how many: "People." and "A person." name the same, so that a change
    of the describer's near-threshold count of people alone needs more sightings to be said."""
    words = []
    for w in gist(sentence):
        if w in _COUNTS:
            continue
        w = _SINGULAR.get(w, w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
        words.append(w)
    return tuple(words)


class Narrator:
    """Decides which descriptions are said: what changed, once it is seen `confirm` times in a row.

    A caption model is noisy from frame to frame ("walking down a street", "standing on a sidewalk"), so a
    change noticed by motion is said once consecutive descriptions agree on it; a new scene is said at once.
    Hysteresis: a change of how many alone (`subject` unchanged: "A person." / "People.") needs `recount`
    more sightings, and a change back to one of the last `recent` things said one more. The same sentence
    is never said twice in a row, except when asked for ("describe now") or on the clock, which says
    "Still: ..." so that a listener hears that nothing changed.
    """

    def __init__(self, confirm: int = 2, recent: int = 3, recount: int = 1) -> None:
        self.confirm, self.recent, self.recount = confirm, recent, recount
        self.last: tuple[str, ...] | None = None
        self.said: list[tuple[str, ...]] = []  # what was said (gist), newest last
        self._candidate: tuple[str, ...] | None = None
        self._seen = 0

    @property
    def pending(self) -> bool:
        """A change was seen once and waits to be confirmed by another description."""
        return self._candidate is not None

    def judge(self, sentence: str, reason: str) -> str | None:
        """The kind to say it as (ASKED, NEW, STILL), or None to keep quiet; reason: "asked", "scene",
        "change" or "every"."""
        words = gist(sentence)
        change = NEW if self.last is None else CHANGED
        if reason == "asked":
            kind = ASKED
        elif reason == "every":
            kind = STILL if words == self.last else change
        elif words == self.last:
            self._candidate, self._seen = None, 0
            return None
        elif reason == "scene":
            kind = change
        else:
            self._seen = self._seen + 1 if words == self._candidate else 1
            self._candidate = words
            recount = self.last is not None and subject(sentence) == subject(" ".join(self.last))
            back = words in self.said[-self.recent:]  # a flip back to what was just said: be surer
            if self._seen < self.confirm + self.recount * recount + back:
                return None
            kind = change
        self.last, self._candidate, self._seen = words, None, 0
        self.said = [*self.said[-self.recent:], words]
        return kind


class LiveDescriber:
    """Describes what a camera sees when it changes, and any frame on request."""

    def __init__(
        self, camera: FrameSource, describer=None, *, on_description: Callable[[Observation], None],
        on_status: Callable[[str], None] | None = None, scene: SceneChange | None = None,
        narrator: Narrator | None = None, beam_size: int = 3, every: float = 0.0,
    ) -> None:
        """describer None: frames and statuses flow, descriptions start with `use(describer)`."""
        self.describer = describer
        self.on_description = on_description
        self.on_status = on_status or (lambda message: None)
        self._camera = camera
        self._scene = scene or SceneChange()
        self._narrator = narrator or Narrator()
        self.beam_size = beam_size
        self.every = every  # seconds; 0: only when what is in view changes
        self.paused = False
        self._wanted: tuple[Frame, str] | None = None
        self._wake = threading.Condition()
        self._stop = False
        self._busy = False
        self._last_said = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="seesay-describe", daemon=True)
        self.described = 0  # frames described
        self.said = 0  # descriptions passed on to be said
        self._found: tuple = ()  # what the last description said was in view (model.describing.objects.Found)

    # --- the public side -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._camera.name

    @property
    def ended(self) -> threading.Event:
        return self._camera.ended

    @property
    def busy(self) -> bool:
        """Whether a frame is being described or waits to be."""
        return self._busy or self._wanted is not None

    def latest(self) -> Frame | None:
        return self._camera.latest()

    def start(self) -> LiveDescriber:
        self._thread.start()
        self._camera.start(on_frame=self._frame, on_status=self.on_status)
        return self

    def use(self, describer) -> None:
        """Start describing with this describer (once the model has loaded): the current view first."""
        self.describer = describer
        if (frame := self.latest()) is not None and not self.paused:
            self._scene.mark_described(frame.thumb)
            self._request(frame, "scene")

    def tune(self, *, threshold: float, min_interval: float, every: float, beam_size: int) -> None:
        """Apply changed settings while running."""
        self._scene.threshold, self._scene.min_interval = threshold, min_interval
        self.every, self.beam_size = every, beam_size

    def stop(self) -> None:
        self._camera.stop()
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def describe_now(self) -> bool:
        """Describe the latest frame whatever the scene test says; False when there is no frame yet."""
        frame = self.latest()
        if frame is None:
            return False
        self._scene.mark_described(frame.thumb)
        self._request(frame, "asked")
        return True

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until the camera has ended and every requested frame is described."""
        deadline = time.monotonic() + timeout
        self.ended.wait(timeout)
        with self._wake:
            while (self._wanted is not None or self._busy) and time.monotonic() < deadline:
                self._wake.wait(0.1)

    # --- the camera thread -----------------------------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        if self.paused or self.describer is None:
            return
        if self._scene.is_new(frame.thumb):
            self._request(frame, "scene")
        elif self.every and time.monotonic() - self._last_said >= self.every and not self._busy:
            self._scene.mark_described(frame.thumb)
            self._request(frame, "every")
        elif not self._busy and self._wanted is None and self._scene.moved(frame.thumb):
            self._request(frame, "change")
        elif not self._busy and self._wanted is None and self._narrator.pending and self._scene.due(frame.thumb):
            self._request(frame, "change")  # a change seen once: look again, even if nothing moves any more

    def _request(self, frame: Frame, reason: str) -> None:
        if self.paused and reason != "asked":
            return
        with self._wake:
            self._wanted = (frame, reason)  # replaces an older waiting frame: it is stale now
            self._wake.notify_all()

    # --- the describing thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._wanted is None and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                (frame, reason), self._wanted, self._busy = self._wanted, None, True
            try:
                self._describe(frame, reason)
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()

    def _describe(self, frame: Frame, reason: str) -> None:
        try:
            description = self.describer.describe([frame.rgb], beam_size=self.beam_size)[0]
        except Exception as exc:  # a model failure must not end live mode
            self.on_status(f"Could not describe the frame: {exc}")
            return
        self.described += 1
        if self.paused and reason != "asked":
            return  # paused while it was being described: pausing means quiet from now on
        kind = self._narrator.judge(description.sentence, reason)
        if kind is None:
            return
        self.said += 1
        self._last_said = time.monotonic()
        found = getattr(description, "found", ())
        change = changes(self._found, found) if kind == CHANGED and (found or self._found) else ""
        self._found = found
        self.on_description(Observation(description, self.name, frame.rgb, frame.time, time.time(), kind, change))
