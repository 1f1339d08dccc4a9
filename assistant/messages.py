"""The messages the app's threads, workers, widgets and dialogs post to the app.

Textual delivers a posted message on the app's own thread (`post_message` is safe from any thread), so
the camera, describing, watching, speech and search threads report this way and never touch a widget.
"""

from __future__ import annotations

from textual.message import Message


class Announce(Message):
    """Something to say and to keep readable: every announcement lands in the announcements log."""

    def __init__(self, text: str, *, status: bool = True, speak: bool = True, interrupt: bool = False,
                 problem: bool = False, kind: str = "", subject: str = "", force: bool = False,
                 log: bool = True) -> None:
        """status: also show it on the status line; problem: keep it shown until another problem replaces it;
        kind: how it is spoken (speech_queue's kinds; default: a problem or an answer); subject: a new
        photo's words for a summary; force: spoken even when muted; log: False for what only
        reads the log back. interrupt is kept for callers but
        stops nothing: only a key press stops speech (issue 28)."""
        super().__init__()
        self.text, self.status, self.speak, self.interrupt, self.problem = text, status, speak, interrupt, problem
        self.kind, self.subject, self.force, self.log = kind, subject, force, log


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
