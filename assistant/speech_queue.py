"""What waits to be said, and which of it comes next: the speech policy (issue 28).

A last-wins queue lost most of what the app meant to say: a live scene line cut a new-photo
announcement, a field's name cut the dialog's instructions, three new photos became one. Here every
utterance carries a kind, and the kinds decide:

- What the user asked for (ANSWER, READING, RESULTS, INSTRUCTIONS) is never cut by anything they did not
  ask for. Only a key press stops speech (`key`), and it drops what waits of the user's earlier requests.
- PROBLEM, then PHOTO, then LIVE follow, in that order of priority; within a kind, first in, first out.
- LIVE lines never cut anything and wait their turn; a newer one replaces a waiting one, and one older
  than `stale_after` seconds when its turn comes is dropped. While an answer is awaited (`expect`), live
  lines are held back, so that "Reading." is not followed by a live "People." before the text.
- PHOTO announcements queue and, when more than one waits, are said as one summary:
  "3 new photos: a dog, a cat, and a person on a bike."

The queue only decides; `speech.Speaker` plays. The clock is an argument, so the policy is tested without
waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

ANSWER, READING, RESULTS, INSTRUCTIONS = "answer", "reading", "results", "instructions"
PROBLEM, PHOTO, LIVE = "problem", "photo", "live"
ASKED = frozenset({ANSWER, READING, RESULTS, INSTRUCTIONS})  # said because the user pressed a key
KINDS = (ANSWER, READING, RESULTS, INSTRUCTIONS, PROBLEM, PHOTO, LIVE)
PRIORITY = {ANSWER: 3, READING: 3, RESULTS: 3, INSTRUCTIONS: 3, PROBLEM: 2, PHOTO: 1, LIVE: 0}
REPEATABLE = frozenset({ANSWER, READING, RESULTS})  # what `r` says again
EXPECT_AT_MOST = 30.0  # seconds live lines wait for an answer that was asked for


@dataclass
class Utterance:
    """One thing to say: its text, kind, and for a new photo the short words a summary uses."""

    text: str
    kind: str = ANSWER
    subject: str = ""  # PHOTO: "a dog" for "3 new photos: a dog, ..."
    force: bool = False  # said even when muted ("Speech muted." itself)
    at: float = 0.0  # when it was queued (the queue's clock)
    cut: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.kind not in PRIORITY:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")


def photo_subject(sentence: str) -> str:
    """A description as words inside a list: "A dog." -> "a dog"."""
    words = sentence.strip().rstrip(".!?")
    acronym = len(words) > 1 and words[1].isupper()  # "TV on a table" keeps its capitals
    return words if acronym else words[:1].lower() + words[1:]


def summary(photos: list[Utterance]) -> Utterance:
    """Several new photos as one utterance: "3 new photos: a dog, a cat, and a person on a bike."."""
    subjects = [p.subject or photo_subject(p.text) for p in photos]
    listed = " and ".join(subjects) if len(subjects) <= 2 else f"{', '.join(subjects[:-1])}, and {subjects[-1]}"
    return Utterance(f"{len(photos)} new photos: {listed}.", PHOTO, at=photos[-1].at)


class SpeechQueue:
    """Utterances waiting to be said; `next` gives them in the policy's order. Thread-safe."""

    def __init__(self, stale_after: float = 4.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.stale_after, self.clock = stale_after, clock
        self._waiting: list[Utterance] = []
        self._expected = 0  # answers asked for and not yet given: live lines wait for them
        self._expected_at = 0.0
        self._control: list[tuple[object, bool]] = []  # (job, last): saves first, probes once all is said
        self._closed = False
        self._out: Utterance | None = None  # taken by `next` and not yet `done`
        self._ready = threading.Condition()
        self.dropped: list[Utterance] = []  # stale or replaced live lines, for tests and counts

    def put(self, u: Utterance) -> None:
        with self._ready:
            u.at = u.at or self.clock()
            if u.kind == LIVE:  # only the newest scene is worth saying
                self.dropped += [w for w in self._waiting if w.kind == LIVE]
                self._waiting = [w for w in self._waiting if w.kind != LIVE]
            if u.kind in ASKED and self._expected:
                self._expected -= 1
            self._waiting.append(u)
            self._ready.notify_all()

    def expect(self) -> None:
        """An answer is on its way (a read or a description was asked for): hold live lines until it comes."""
        with self._ready:
            self._expected += 1
            self._expected_at = self.clock()

    def put_control(self, job: object, last: bool = False) -> None:
        """Queue a job for the speaker itself (a WAV to save, a probe): first, or with last once nothing
        that can be said waits."""
        with self._ready:
            self._control.append((job, last))
            self._ready.notify_all()

    def key(self) -> None:
        """A key was pressed: forget what waits of earlier requests and scenes (photos and problems stay)."""
        with self._ready:
            self.dropped += [w for w in self._waiting if w.kind == LIVE]
            self._waiting = [w for w in self._waiting if w.kind not in ASKED and w.kind != LIVE]
            self._expected = 0

    def clear(self) -> None:
        with self._ready:
            self.dropped += self._waiting
            self._waiting.clear()
            self._expected = 0

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def idle(self) -> bool:
        """Nothing waits, and what was last taken has been said (`done`)."""
        with self._ready:
            return not self._waiting and not self._control and self._out is None

    def done(self) -> None:
        """What was last taken has been said (or cut)."""
        with self._ready:
            self._out = None

    def next(self, timeout: float | None = None) -> Utterance | object | None:
        """The next utterance to say (or control job), waiting for one; None once closed (or after timeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while not self._closed:
                if (u := self._take()) is not None:
                    return u
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._ready.wait(left if left is not None else 0.5 if self._held() else None)
            return None

    def _held(self) -> bool:
        return any(w.kind == LIVE for w in self._waiting)

    def _take(self) -> Utterance | object | None:
        if first := next((c for c in self._control if not c[1]), None):
            self._control.remove(first)
            return first[0]
        if (u := self._take_utterance()) is not None:
            self._out = u
            return u
        if self._control:
            return self._control.pop(0)[0]
        return None

    def _take_utterance(self) -> Utterance | None:
        now = self.clock()
        if self._expected and now - self._expected_at > EXPECT_AT_MOST:
            self._expected = 0  # the answer never came (it failed without a word): live lines go on
        stale = [w for w in self._waiting if w.kind == LIVE and now - w.at > self.stale_after]
        self.dropped += stale
        self._waiting = [w for w in self._waiting if w not in stale]
        ready = [w for w in self._waiting if w.kind != LIVE or not self._expected]
        if not ready:
            return None
        best = max(PRIORITY[w.kind] for w in ready)
        first = next(w for w in ready if PRIORITY[w.kind] == best)
        if first.kind != PHOTO:
            self._waiting.remove(first)
            return first
        photos = [w for w in self._waiting if w.kind == PHOTO]
        self._waiting = [w for w in self._waiting if w.kind != PHOTO]
        return photos[0] if len(photos) == 1 else summary(photos)

    def cuts(self, new: Utterance, current: Utterance | None) -> bool:
        """Whether new should cut what is being said now: only a live line gives way, and only to speech
        that is not another live line."""
        return current is not None and current.kind == LIVE and new.kind != LIVE
