"""Speech: one thread drives the text-to-speech engine; everyone else queues text.

pyttsx3 misbehaves when driven from several threads (and gives every caller in a process the same
engine), so one engine thread per process does all synthesis. Each `Speaker` has its own queue and
thread: it has its text synthesised to a WAV file and plays that with the platform's player in a
subprocess, which is what makes an utterance interruptible: a newer description stops a stale one
mid-sentence. With no speech engine or no audio player, the speaker says so once (through `on_status`)
and the rest of seesay carries on in text.
"""

from __future__ import annotations

import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import wave
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path


class SpeechError(RuntimeError):
    """Speech is unavailable or failed; the message says why."""


@dataclass
class Voice:
    """How seesay speaks."""

    rate: int = 175  # words per minute
    volume: float = 1.0  # 0..1
    voice: str = ""  # engine voice id; empty for the engine's default
    muted: bool = False


def audio_player() -> list[str] | None:
    """The command that plays a WAV file on this platform, or None when there is none."""
    if platform.system() == "Darwin":
        return ["afplay"]
    for cmd in (["paplay"], ["pw-play"], ["aplay", "-q"]):
        if shutil.which(cmd[0]):
            return cmd
    return None


def wav_seconds(path: str | os.PathLike) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


@dataclass
class _Job:
    text: str
    generation: int
    save_to: Path | None = None
    done: Future | None = None


class _Engine:
    """The process's one text-to-speech engine, and the one thread that drives it.

    pyttsx3 hands every caller in a process the same engine, and its property changes are queued commands:
    two threads driving it mix up each other's rate and voice (and can hang it). So every Speaker's
    synthesis goes through this thread, one utterance at a time.
    """

    _shared: dict[Callable[[], object], _Engine] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls, factory: Callable[[], object]) -> _Engine:
        with cls._shared_lock:
            if factory not in cls._shared:
                cls._shared[factory] = cls(factory)
            return cls._shared[factory]

    def __init__(self, factory: Callable[[], object]) -> None:
        self._factory = factory
        self._engine = None
        self._default_voice = None
        self.error: str | None = None
        self._queue: queue.Queue[tuple[tuple | None, Future]] = queue.Queue()
        threading.Thread(target=self._run, name="seesay-tts-engine", daemon=True).start()

    def check(self) -> None:
        """Start the engine if needed; SpeechError says why it cannot be."""
        self._call(None)

    def synthesise(self, text: str, path: Path, voice: Voice) -> str | None:
        """Write text as speech to path; returns a warning to pass on, if any. Raises SpeechError."""
        return self._call((text, path, voice))

    def _call(self, job: tuple | None):
        done: Future = Future()
        self._queue.put((job, done))
        return done.result()

    def _run(self) -> None:
        while True:
            job, done = self._queue.get()
            try:
                done.set_result(self._do(job))
            except Exception as exc:
                done.set_exception(exc if isinstance(exc, SpeechError) else SpeechError(str(exc)))

    def _do(self, job: tuple | None) -> str | None:
        if self._engine is None and self.error is None:
            try:
                self._engine = self._factory()
                self._default_voice = self._engine.getProperty("voice")
            except Exception as exc:  # no espeak-ng, no driver, no audio library...
                self.error = f"Speech is unavailable ({exc}); descriptions are shown as text only."
        if self.error:
            raise SpeechError(self.error)
        if job is None:
            return None
        text, path, voice = job
        engine, warning = self._engine, None
        engine.setProperty("rate", int(voice.rate))
        engine.setProperty("volume", float(voice.volume))
        try:
            engine.setProperty("voice", voice.voice or self._default_voice)
        except Exception:
            warning = f"Voice {voice.voice!r} is not installed; using the default voice."
            engine.setProperty("voice", self._default_voice)
        for _ in range(3):  # pyttsx3 fails to write about 1 file in 75 (measured on espeak-ng): try again
            path.unlink(missing_ok=True)
            engine.save_to_file(text, str(path))
            engine.runAndWait()
            if path.is_file() and path.stat().st_size > 44:  # more than a WAV header
                return warning
        raise SpeechError("the speech engine wrote no audio")


class Speaker:
    """A queue of things to say, spoken on one thread. All methods return at once unless stated."""

    def __init__(
        self, voice: Voice | None = None, on_status: Callable[[str], None] | None = None,
        engine_factory: Callable[[], object] | None = None, player: list[str] | None | bool = True,
    ) -> None:
        self.voice = voice or Voice()
        self.on_status = on_status or (lambda message: None)
        self._engine = _Engine.shared(engine_factory or _pyttsx3_engine)
        self._player = audio_player() if player is True else (player or None)
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._generation = 0
        self._lock = threading.Lock()
        self._playing: subprocess.Popen | None = None
        self._told: set[str] = set()
        self.last_text = ""
        self.spoken = 0  # utterances synthesised for playback
        self.played = 0  # utterances played to the end
        self._thread = threading.Thread(target=self._run, name="seesay-speech", daemon=True)
        self._thread.start()

    # --- the public side -------------------------------------------------------------------------------

    def say(self, text: str, interrupt: bool = True) -> None:
        """Speak text; with interrupt, stop what is being said and drop what is waiting."""
        text = " ".join(str(text).split())
        if not text:
            return
        self.last_text = text
        if self.voice.muted:
            return
        with self._lock:
            if interrupt:
                self._generation += 1
                self._stop_playback()
            self._queue.put(_Job(text, self._generation))

    def repeat(self) -> None:
        """Say the last thing again."""
        if self.last_text:
            self.say(self.last_text)

    def stop(self) -> None:
        """Stop speaking now and forget what is waiting."""
        with self._lock:
            self._generation += 1
            self._stop_playback()

    def set_muted(self, muted: bool) -> None:
        self.voice.muted = muted
        if muted:
            self.stop()

    def save(self, text: str, path: str | os.PathLike, timeout: float = 60.0) -> Path:
        """Write text as speech to a WAV file, waiting for it. Raises SpeechError."""
        job = _Job(" ".join(str(text).split()), self._generation, Path(path), Future())
        if not job.text:
            raise SpeechError("there is nothing to say")
        self._queue.put(job)
        try:
            return job.done.result(timeout)
        except TimeoutError:
            raise SpeechError(f"speech synthesis took longer than {timeout:.0f} s") from None

    def available(self, timeout: float = 30.0) -> bool:
        """Whether a speech engine could be started (starting it if needed; waits for the speech thread)."""
        probe = _Job("", self._generation, None, Future())
        self._queue.put(probe)
        return bool(probe.done.result(timeout))

    def close(self) -> None:
        self.stop()
        self._queue.put(None)
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
        try:
            warning = self._engine.synthesise(text, path, self.voice)
        except SpeechError as exc:
            self._tell_once(str(exc))
            raise
        if warning:
            self._tell_once(warning)

    def _run(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="seesay-speech-")
        scratch = Path(tmp.name) / "utterance.wav"
        while (job := self._queue.get()) is not None:
            if job.done is not None and job.save_to is None:  # availability probe
                job.done.set_result(self._check())
                continue
            if job.save_to is not None:
                try:
                    self._synthesise(job.text, job.save_to)
                    job.done.set_result(job.save_to)
                except Exception as exc:
                    job.done.set_exception(exc if isinstance(exc, SpeechError) else SpeechError(str(exc)))
                continue
            if job.generation != self._generation or self.voice.muted:
                continue  # interrupted before its turn
            try:
                self._synthesise(job.text, scratch)
            except SpeechError:
                continue  # already reported once
            self.spoken += 1
            self._play(scratch, job.generation)
        tmp.cleanup()

    def _play(self, path: Path, generation: int) -> None:
        if self._player is None:
            self._tell_once("No audio player was found (install pulseaudio-utils or alsa-utils); "
                            "descriptions are shown as text only.")
            return
        with self._lock:
            if generation != self._generation:
                return
            try:
                self._playing = subprocess.Popen([*self._player, str(path)], stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.PIPE)
            except OSError as exc:
                self._tell_once(f"Cannot play audio ({exc}); descriptions are shown as text only.")
                self._player = None
                return
        proc = self._playing
        _, err = proc.communicate()
        self.played += proc.returncode == 0
        if proc.returncode not in (0, -15) and generation == self._generation:
            reason = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            self._tell_once(f"Audio output failed ({reason[0]}); descriptions are shown as text only.")


def _quiet(*args, **kwargs) -> None:
    pass


def _pyttsx3_engine():
    import pyttsx3

    engine = pyttsx3.init()
    # pyttsx3's espeak driver prints "Audio saved to ..." for every file, which would land in the middle
    # of the terminal app. Shadowing `print` in that one module silences it without touching sys.stdout,
    # which other threads are using.
    driver = sys.modules.get(type(engine.proxy._driver).__module__)
    if driver is not None and driver.__name__.endswith(".espeak"):
        driver.print = _quiet
    return engine
