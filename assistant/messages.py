"""The messages the app's threads, workers, widgets and dialogs post to the app.

Textual delivers a posted message on the app's own thread (`post_message` is safe from any thread), so
the camera, describing, watching, speech and search threads report this way and never touch a widget.
"""

from __future__ import annotations

from textual.message import Message


class Announce(Message):
    """Something to say and to keep readable: every announcement lands in the announcements log."""

    def __init__(self, text: str, *, status: bool = True, speak: bool = True, interrupt: bool = False,
                 problem: bool = False) -> None:
        """status: also show it on the status line; problem: keep it shown until another problem replaces it."""
        super().__init__()
        self.text, self.status, self.speak, self.interrupt, self.problem = text, status, speak, interrupt, problem


class Described(Message):
    """A camera frame or a new photo, described (an `Observation`)."""

    def __init__(self, observation) -> None:
        super().__init__()
        self.observation = observation


class ModelLoaded(Message):
    """The describer is ready."""

    def __init__(self, describer) -> None:
        super().__init__()
        self.describer = describer


class ModelFailed(Message):
    """No describer can be had; the text says why."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class SearchFinished(Message):
    """The photos found for a query, best first."""

    def __init__(self, query: str, hits: list) -> None:
        super().__init__()
        self.query, self.hits = query, hits
