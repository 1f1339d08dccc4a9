"""The small interfaces the app is handed: tests pass a fake or a video file where these are expected.

The camera's is `camera.FrameSource`; live description's is `LiveDescriber` itself, built on a FrameSource.
"""

from __future__ import annotations

from typing import Protocol


class VoiceSettings(Protocol):
    rate: int
    volume: float
    voice: str
    muted: bool


class Speech(Protocol):
    """What the app needs from a speaker (`speech.Speaker`)."""

    voice: VoiceSettings
    last_text: str

    def say(self, text: str, interrupt: bool = False, *, kind: str = "answer", subject: str = "",
            force: bool = False) -> None: ...

    def stop(self, everything: bool = False) -> None: ...

    def expect(self) -> None: ...

    def set_muted(self, muted: bool) -> None: ...

    def close(self, finish: float = 0.0) -> None: ...


class Watcher(Protocol):
    """What the app needs from a folder watcher (`watcher.FolderWatcher`)."""

    def start(self) -> Watcher: ...

    def stop(self, everything: bool = False) -> None: ...
