"""The process's one text-to-speech engine (pyttsx3, espeak-ng on Linux) and the one thread that drives it.

Split from speech.py, which queues and plays what this thread synthesises.
"""

from __future__ import annotations

import errno
import os
import queue
import sys
import threading
import time
import wave
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

# Deadline for one chunk on the engine thread: measured ~10,000 characters/s, so this is 200x slack.
ENGINE_BASE_S = 20.0
ENGINE_S_PER_CHAR = 0.02


class SpeechError(RuntimeError):
    """Speech is unavailable or failed; the message says why."""

@dataclass
class Voice:
    """How seesay speaks."""

    rate: int = 175  # words per minute
    volume: float = 1.0  # 0..1
    voice: str = ""  # engine voice id; empty for the engine's default
    muted: bool = False

def engine_timeout(text: str) -> float:
    """How long one chunk may take on the engine thread before it is declared stuck, in seconds."""
    return ENGINE_BASE_S + ENGINE_S_PER_CHAR * len(text)

class Engine:
    """The process's one text-to-speech engine, and the one thread that drives it.

    pyttsx3 hands every caller in a process the same engine, and its property changes are queued commands:
    two threads driving it mix up each other's rate and voice (and can hang it). So every Speaker's
    synthesis goes through this thread, one utterance at a time.
    """

    _shared: dict[Callable[[], object], Engine] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls, factory: Callable[[], object]) -> Engine:
        with cls._shared_lock:
            if factory not in cls._shared:
                cls._shared[factory] = cls(factory)
            return cls._shared[factory]

    def __init__(self, factory: Callable[[], object]) -> None:
        self._factory = factory
        self._engine = None
        self._default_voice = None
        self.error: str | None = None
        self.stuck: str | None = None  # set when a call ran past its deadline: later calls fail at once
        self._queue: queue.Queue[tuple[tuple | None, Future]] = queue.Queue()
        threading.Thread(target=self._run, name="seesay-tts-engine", daemon=True).start()

    def check(self, timeout: float = 60.0) -> None:
        """Start the engine if needed; SpeechError says why it cannot be."""
        self.wait(self.submit(None), timeout)

    def synthesise(self, text: str, path: Path, voice: Voice) -> str | None:
        """Write text (one chunk) as speech to path; returns a warning to pass on, if any. Raises SpeechError."""
        return self.wait(self.submit((text, path, voice)), engine_timeout(text))

    def submit(self, job: tuple | None) -> Future:
        """Queue a job (None: start the engine; or (text, path, voice)) without waiting for it."""
        done: Future = Future()
        if self.stuck:
            done.set_exception(SpeechError(self.stuck))
        else:
            self._queue.put((job, done))
        return done

    def wait(self, done: Future, timeout: float):
        """The result of a submitted job, or SpeechError if the engine has not answered within timeout.

        A pyttsx3 run loop that never ends cannot be interrupted from outside, so past the deadline the
        engine is written off for this process: every later call fails at once with the same message.
        """
        try:
            return done.result(timeout)
        except TimeoutError:
            self.stuck = self.stuck or (f"the speech engine stopped responding (nothing after {timeout:.0f} s); "
                                        "restart seesay to use speech")
            raise SpeechError(self.stuck) from None

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
        _let_espeak_apply_properties(engine)
        for _ in range(3):  # pyttsx3 fails to write about 1 file in 75 (measured on espeak-ng): try again
            path.unlink(missing_ok=True)
            engine.save_to_file(text, str(path))
            if failed := _run_catching_callback_errors(engine):
                path.unlink(missing_ok=True)
                raise SpeechError(f"the speech engine could not write its audio ({failed})")
            if path.is_file() and path.stat().st_size > 44:  # more than a WAV header
                return warning
        raise SpeechError("the speech engine wrote no audio")


def _run_catching_callback_errors(engine) -> str | None:
    """engine.runAndWait(); the error raised inside one of its ctypes callbacks, if any, as one line.

    pyttsx3's espeak driver raises inside a ctypes callback when it cannot write the WAV file (a full disk:
    issue 27), where Python prints a traceback and carries on with a cut-off file. Such errors are taken
    here instead, for as long as the run loop lasts (only this thread runs the engine).
    """
    caught: list[str] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda u: caught.append(str(u.exc_value) or type(u.exc_value).__name__)
    try:
        engine.runAndWait()
    finally:
        sys.unraisablehook = previous
    return caught[0] if caught else None

def _quiet(*args, **kwargs) -> None:
    pass


def _let_espeak_apply_properties(engine, timeout: float = 2.0) -> None:
    """Wait until espeak-ng has applied the property changes it has queued (no-op for other engines).

    espeak-ng applies rate, volume and voice changes through its command queue, and pyttsx3's espeak driver
    starts every run loop by calling stop(), which cancels whatever is still queued: a rate set just after
    the previous utterance ended was lost whenever utterances followed each other closely (measured on
    espeak-ng 1.51 with pyttsx3 2.99: four rate changes in a row, all four lost).
    """
    driver = sys.modules.get(type(getattr(getattr(engine, "proxy", None), "_driver", None)).__module__)
    espeak = getattr(driver, "_espeak", None)
    if espeak is None or not hasattr(espeak, "IsPlaying"):
        return
    deadline = time.monotonic() + timeout
    while espeak.IsPlaying() and time.monotonic() < deadline:
        time.sleep(0.005)


def pyttsx3_engine():
    import pyttsx3

    engine = pyttsx3.init()
    # pyttsx3's espeak driver prints "Audio saved to ..." for every file, which would land in the middle
    # of the terminal app. Shadowing `print` in that one module silences it without touching sys.stdout,
    # which other threads are using.
    driver = sys.modules.get(type(engine.proxy._driver).__module__)
    if driver is not None and driver.__name__.endswith(".espeak"):
        driver.print = _quiet
    return engine


def check_writable(path: Path) -> None:
    """SpeechError("cannot write PATH: why") unless a file can be written at path (checked before the
    synthesis, which can take a while; a file created for the check is removed again)."""
    if path.is_dir():
        raise SpeechError(f"cannot write {path}: it is a directory")
    existed = os.path.lexists(path)
    try:
        # O_NONBLOCK: a FIFO with no reader fails at once (ENXIO) instead of blocking here.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NONBLOCK", 0), 0o666))
    except OSError as exc:
        raise SpeechError(f"cannot write {path}: {write_reason(exc, path)}") from None
    if not existed:
        path.unlink(missing_ok=True)


def write_reason(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ENOENT and not path.parent.is_dir():
        return f"there is no folder {path.parent}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno == errno.ENOSPC:
        return "no space left on the disk"
    if exc.errno == errno.ENXIO:
        return "it is a named pipe or device that nothing is reading from"
    return exc.strerror or str(exc)


def join_wavs(parts: list[Path], out: Path) -> None:
    """Concatenate WAV files with the same format into one (streamed, a part at a time)."""
    with wave.open(str(out), "wb") as joined:
        for i, part in enumerate(parts):
            with wave.open(str(part), "rb") as w:
                if i == 0:
                    joined.setparams(w.getparams())
                elif w.getparams()[:3] != joined.getparams()[:3]:
                    raise SpeechError(f"the speech engine wrote parts in different formats ({part.name})")
                while frames := w.readframes(1 << 20):
                    joined.writeframes(frames)


def wav_seconds(path: str | os.PathLike) -> float:
    """The duration of a WAV file in seconds."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())
