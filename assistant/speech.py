"""Speech: one thread drives the text-to-speech engine; everyone else queues text.

pyttsx3 misbehaves when driven from several threads (and gives every caller in a process the same
engine), so one engine thread per process does all synthesis. Each `Speaker` has its own queue and
thread: it has its text synthesised to a WAV file and plays that with the platform's player in a
subprocess, which is what makes an utterance interruptible. What is said next, and what may cut what, is
the policy of `speech_queue.SpeechQueue` (issue 28): a key press stops speech, a live line never cuts
anything, what the user asked for is never cut by what they did not. With no speech engine or no audio
player, the speaker says so once (through `on_status`) and the rest of seesay carries on in text.

Limits (issue 12: 32,000 characters crashed espeak-ng, 20,000 took 23 s, an unwritable `--to` hung):
text is spoken in sentence-sized chunks of at most CHUNK_CHARS (played one after another, or joined into
one WAV by `save`), every wait on the engine thread has a deadline that grows with the chunk, the engine
only ever writes into seesay's own scratch folder, and text longer than MAX_TEXT_CHARS is refused.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
import wave
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from .speech_engine import (
    Engine, SpeechError, Voice, check_writable, engine_timeout, join_wavs, pyttsx3_engine, wav_seconds, write_reason,
)
from .speech_queue import ANSWER, ASKED, LIVE, REPEATABLE, SpeechQueue, Utterance

__all__ = ["SpeechError", "Speaker", "Voice", "audio_player", "speech_seconds", "wav_seconds"]

# About 17,000 words, an hour and a half of speech and 250 MB of WAV: beyond that it is a document to be
# split by whoever sends it, not a description, so it is refused with a message rather than cut short.
MAX_TEXT_CHARS = 100_000
# espeak-ng works through pyttsx3 on one buffer per utterance, grown by copying (quadratic), and crashed
# on 32,000 characters; 500 characters (a few sentences, ~30 s of speech) synthesise in ~0.05 s.
CHUNK_CHARS = 500
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


def split_text(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Text as chunks of whole sentences, each at most limit characters (long sentences split at a comma
    or space, and a word longer than limit cut), so espeak-ng is never handed more than it copes with."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        while len(sentence) > limit:
            comma = sentence.rfind(", ", limit // 2, limit)  # a clause boundary in the second half, if any
            cut = comma + 1 if comma > 0 else sentence.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            pieces.append(sentence)
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 1 + len(piece) <= limit:
            chunks[-1] += " " + piece
        else:
            chunks.append(piece)
    return chunks


def speech_seconds(text: str, voice: Voice | None = None) -> float:
    """About how long text takes to say at the voice's rate (for callers that wait for playback)."""
    words = len(text.split())
    return 60.0 * words / max(40, (voice or Voice()).rate) + 0.5 * len(split_text(text))


def _check_length(text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise SpeechError(f"the text is too long to speak ({len(text):,} characters; the limit is "
                          f"{MAX_TEXT_CHARS:,}): split it into smaller parts")


def audio_player() -> list[str] | None:
    """The command that plays a WAV file on this platform, or None when there is none."""
    if platform.system() == "Darwin":
        return ["afplay"]
    for cmd in (["paplay"], ["pw-play"], ["aplay", "-q"]):
        if shutil.which(cmd[0]):
            return cmd
    return None


@dataclass
class _Job:
    """A job for the speech thread itself: a WAV file to save, or (save_to None) a probe."""

    text: str
    save_to: Path | None = None
    done: Future | None = None


class Speaker:
    """A queue of things to say, spoken on one thread. All methods return at once unless stated."""

    def __init__(
        self, voice: Voice | None = None, on_status: Callable[[str], None] | None = None,
        engine_factory: Callable[[], object] | None = None, player: list[str] | None | bool = True,
    ) -> None:
        self.voice = voice or Voice()
        self.on_status = on_status or (lambda message: None)
        self._engine = Engine.shared(engine_factory or pyttsx3_engine)
        self._player = audio_player() if player is True else (player or None)
        self.queue = SpeechQueue()
        self._lock = threading.Lock()
        self._current: Utterance | None = None  # being synthesised or played
        self._key_at = float("-inf")  # when a key last stopped speech (the queue's clock)
        self._playing: subprocess.Popen | None = None
        self._told: set[str] = set()
        self.last_text = ""
        self.last_answer: Utterance | None = None  # what `repeat` says again: never a live line
        self.spoken = 0  # utterances synthesised for playback
        self.played = 0  # utterances played to the end
        self.history: list[tuple[str, str, bool]] = []  # (kind, text, played whole) of each one played
        self._thread = threading.Thread(target=self._run, name="seesay-speech", daemon=True)
        self._thread.start()

    # --- the public side -------------------------------------------------------------------------------

    def say(self, text: str, interrupt: bool = False, *, kind: str = ANSWER, subject: str = "",
            force: bool = False) -> None:
        """Queue text to be said as kind (speech_queue's kinds); interrupt: as a key press does, stop what
        is being said first; force: say it even when muted."""
        text = " ".join(str(text).split())
        if not text:
            return
        u = Utterance(text, kind, subject, force)
        self.last_text = text
        if kind in REPEATABLE:
            self.last_answer = u
        if self.voice.muted and not force:
            return
        try:
            _check_length(text)
        except SpeechError as exc:
            self.on_status(str(exc))
            return
        with self._lock:
            if interrupt:
                self._key()
            elif self.queue.cuts(u, self._current):
                self._cut()
            self.queue.put(u)

    def repeat(self) -> bool:
        """Say the last answer again (never a live line); False when there has been none."""
        if self.last_answer is None:
            return False
        self.say(self.last_answer.text, interrupt=True, kind=self.last_answer.kind)
        return True

    def stop(self, everything: bool = False) -> None:
        """A key was pressed: stop speaking now, and forget the earlier requests and scenes that wait
        (with everything, the new photos and problems that wait too: seesay is quitting)."""
        with self._lock:
            self._key()
            if everything:
                self.queue.clear()

    @property
    def idle(self) -> bool:
        """Nothing is being said and nothing waits that could be said now."""
        return self.queue.idle()

    def expect(self) -> None:
        """An answer was asked for and is on its way: live lines wait for it."""
        self.queue.expect()

    def set_muted(self, muted: bool) -> None:
        self.voice.muted = muted
        if muted:
            with self._lock:
                self.queue.clear()
                self._cut()

    def _key(self) -> None:
        self._key_at = self.queue.clock()
        self.queue.key()
        self._cut()

    def _cut(self) -> None:
        if self._current is not None:
            self._current.cut.set()
        self._stop_playback()

    def save(self, text: str, path: str | os.PathLike, timeout: float | None = None) -> Path:
        """Write text as speech to one WAV file, waiting for it. Raises SpeechError.

        The path is checked for writing first; long text is synthesised a chunk at a time and joined. The
        default timeout grows with the text (each chunk also has its own deadline on the engine thread).
        """
        job = _Job(" ".join(str(text).split()), Path(path), Future())
        if not job.text:
            raise SpeechError("there is nothing to say")
        _check_length(job.text)
        check_writable(job.save_to)
        if timeout is None:
            timeout = 60.0 + sum(engine_timeout(chunk) for chunk in split_text(job.text))
        self.queue.put_control(job)
        try:
            return job.done.result(timeout)
        except TimeoutError:
            raise SpeechError(f"speech synthesis took longer than {timeout:.0f} s") from None

    def available(self, timeout: float = 30.0) -> bool:
        """Whether a speech engine could be started (starting it if needed; waits until everything queued
        has been said: SpeechError if that takes longer than timeout)."""
        probe = _Job("", None, Future())
        self.queue.put_control(probe, last=True)
        try:
            return bool(probe.done.result(timeout))
        except TimeoutError:
            raise SpeechError(f"speech was still busy after {timeout:.0f} s") from None

    def close(self, finish: float = 0.0) -> None:
        """Stop speaking and end the speech thread; finish: first let what is queued be said, for at
        most that many seconds ("Quitting." is heard)."""
        if finish > 0:
            try:
                self.available(finish)
            except SpeechError:
                pass
        with self._lock:
            self.queue.clear()
            self._cut()
        self.queue.close()
        self._thread.join(timeout=5)

    # --- the speech thread -----------------------------------------------------------------------------

    def _tell_once(self, message: str) -> None:
        if message not in self._told:
            self._told.add(message)
            self.on_status(message)

    def _stop_playback(self) -> None:
        if self._playing is not None and self._playing.poll() is None:
            self._playing.terminate()

    def _check(self) -> bool:
        try:
            self._engine.check()
            return True
        except SpeechError as exc:
            self._tell_once(str(exc))
            return False

    def _synthesise(self, text: str, path: Path) -> None:
        self._finish(text, self._engine.submit((text, path, self.voice)))

    def _finish(self, text: str, done: Future) -> None:
        """Wait for one chunk's synthesis (within its deadline), passing on its warning or error once."""
        try:
            warning = self._engine.wait(done, engine_timeout(text))
        except SpeechError as exc:
            self._tell_once(str(exc))
            raise
        if warning:
            self._tell_once(warning)

    def _run(self) -> None:
        try:
            tmp = tempfile.TemporaryDirectory(prefix="seesay-speech-")
        except OSError as exc:  # no temporary folder can be written (issue 27): every job is told so
            self._refuse_all(f"Speech has no room in the temporary folder ({exc.strerror or exc}); "
                             "descriptions are shown as text only.")
            return
        scratch = Path(tmp.name)
        while (job := self.queue.next()) is not None:
            if isinstance(job, _Job) and job.save_to is None:  # availability probe
                job.done.set_result(self._check())
            elif isinstance(job, _Job):
                try:
                    self._save(job.text, job.save_to, scratch)
                    job.done.set_result(job.save_to)
                except Exception as exc:
                    job.done.set_exception(exc if isinstance(exc, SpeechError) else SpeechError(str(exc)))
            else:
                with self._lock:
                    stopped = (job.kind in ASKED or job.kind == LIVE) and job.at < self._key_at
                    skip = stopped or (self.voice.muted and not job.force)  # a key or mute as it was taken
                    self._current = None if skip else job
                try:
                    if not skip:
                        self._speak(job, scratch)
                finally:
                    with self._lock:
                        self._current = None
                    self.queue.done()
        tmp.cleanup()

    def _refuse_all(self, message: str) -> None:
        """Answer every job with message until closed: probes with False, saves with SpeechError."""
        self._tell_once(message)
        while (job := self.queue.next()) is not None:
            if not isinstance(job, _Job):  # an utterance: nothing waits on it
                self.queue.done()
            elif job.save_to is None:
                job.done.set_result(False)
            else:
                job.done.set_exception(SpeechError(message))

    def _save(self, text: str, path: Path, scratch: Path) -> None:
        """Synthesise text chunk by chunk into the scratch folder, join the chunks, then write path.

        The engine never writes the user's path itself: when pyttsx3 cannot write its file, the error is
        raised inside a ctypes callback, swallowed, and its run loop never ends (issue 12).
        """
        chunks = split_text(text)
        parts = [scratch / f"part{i}.wav" for i in range(len(chunks))]
        try:
            for chunk, part in zip(chunks, parts):
                self._synthesise(chunk, part)
            joined = parts[0]
            if len(parts) > 1:
                joined = scratch / "joined.wav"
                try:
                    join_wavs(parts, joined)
                except (wave.Error, EOFError) as exc:
                    raise SpeechError(f"cannot join the speech engine's audio parts ({exc})") from None
            created = not os.path.lexists(path)
            try:
                with open(joined, "rb") as src, open(path, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            except OSError as exc:
                if created:
                    path.unlink(missing_ok=True)
                raise SpeechError(f"cannot write {path}: {write_reason(exc, path)}") from None
        finally:
            for part in [*parts, scratch / "joined.wav"]:
                part.unlink(missing_ok=True)

    def _interrupted(self, job: Utterance) -> bool:
        return job.cut.is_set() or (self.voice.muted and not job.force)

    def _speak(self, job: Utterance, scratch: Path) -> None:
        """Say a job's text chunk by chunk: each chunk is synthesised while the one before it plays."""
        chunks = split_text(job.text)
        files = [scratch / "utterance-a.wav", scratch / "utterance-b.wav"]
        pending = self._engine.submit((chunks[0], files[0], self.voice))
        played = 0
        for i, chunk in enumerate(chunks):
            try:
                self._finish(chunk, pending)
            except SpeechError:
                return  # already reported once
            if i == 0:
                self.spoken += 1
            if self._interrupted(job):
                return
            if i + 1 < len(chunks):
                pending = self._engine.submit((chunks[i + 1], files[(i + 1) % 2], self.voice))
            played += self._play(files[i % 2], job)
            if i + 1 < len(chunks) and self._interrupted(job):
                try:  # let the next chunk's synthesis finish before its file is reused
                    self._engine.wait(pending, engine_timeout(chunks[i + 1]))
                except SpeechError:
                    pass
                self.history.append((job.kind, job.text, False))
                return
        self.played += played == len(chunks)
        self.history.append((job.kind, job.text, played == len(chunks)))

    def _play(self, path: Path, job: Utterance) -> bool:
        """Play a WAV file to the end (unless interrupted); whether it played to the end."""
        if self._player is None:
            self._tell_once("No audio player was found (install pulseaudio-utils or alsa-utils); "
                            "descriptions are shown as text only.")
            return False
        with self._lock:
            if job.cut.is_set():
                return False
            try:
                self._playing = subprocess.Popen([*self._player, str(path)], stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.PIPE)
            except OSError as exc:
                self._tell_once(f"Cannot play audio ({exc}); descriptions are shown as text only.")
                self._player = None
                return False
        proc = self._playing
        _, err = proc.communicate()
        if proc.returncode not in (0, -15) and not job.cut.is_set():
            reason = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            self._tell_once(f"Audio output failed ({reason[0]}); descriptions are shown as text only.")
        return proc.returncode == 0


