"""The app's own widgets. Each says what it is when the keyboard reaches it, by posting `Announce`.

Textual is not read by terminal screen readers, so the widgets speak for themselves: a list says its name
and size when focused and each item under the arrow keys; the log keeps every announcement readable.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Footer, Input, Label, ListItem, ListView, RichLog, Static

from .camera import Frame
from .messages import Announce
from .speech_queue import ANSWER, INSTRUCTIONS


def fit(shape: tuple[int, ...], columns: int, rows: int) -> int:
    """The widest preview (in columns) of an image of this shape that fits columns x rows cells."""
    h, w = shape[:2]
    return max(2, min(columns, int(rows * 2 * w / h)))  # a cell shows two pixel rows (half blocks)


class KeyFooter(Footer):
    """The footer on two rows, every key with its word: one row of 80 columns held nine of the twelve
    (issue 30: colour, light and the light tone were in the menu only). The menu key stays on the right."""

    ROWS = 2
    DEFAULT_CSS = """
    KeyFooter { layout: grid; grid-size: 6 2; grid-columns: auto; grid-gutter: 0 1; height: 2; }
    KeyFooter.-compact FooterKey { margin-right: 0; }
    """

    def __init__(self) -> None:
        super().__init__(compact=True)

    def compose(self):
        yield from super().compose()  # which sets one grid column per key: a single row
        shown = {b.action for _, b, _, _ in self.screen.active_bindings.values() if b.show}
        self.styles.grid_size_columns = max(1, math.ceil(len(shown) / self.ROWS))


class TextItem(ListItem):
    """A list item showing, and saying, one piece of text."""

    def __init__(self, text: str, spoken: str | None = None) -> None:
        super().__init__(Label(text, markup=False))
        self.text, self.spoken = text, spoken or text


class SpokenList(ListView):
    """A list that says its name and size when focused, and each item under the arrow keys."""

    def __init__(self, title: str, *, id: str) -> None:
        super().__init__(id=id)
        self.title = title

    def on_focus(self) -> None:
        n = len(self.children)
        self.post_message(Announce(f"{self.title}, {n} item{'' if n == 1 else 's'}", status=False,
                                   kind=INSTRUCTIONS))

    def on_list_view_highlighted(self, event: ListView.Highlighted) -> None:
        if event.item is not None and self.has_focus and isinstance(event.item, TextItem):
            self.post_message(Announce(event.item.spoken, status=False, kind=ANSWER))


class SearchBox(Input):
    """The photo search box; says what to do when focused."""

    def on_focus(self) -> None:
        self.post_message(Announce("Search box: type words and press enter; escape goes back.", status=False,
                                   kind=INSTRUCTIONS))


class AnnouncementLog(RichLog):
    """Every announcement, in order, to scroll back through: what was only spoken stays readable, and
    each entry the arrow keys reach is said (it is not itself logged again)."""

    BINDINGS = [Binding("up", "entry(-1)", "Earlier", show=False), Binding("down", "entry(1)", "Later", show=False),
                Binding("pageup", "entry(-10)", show=False), Binding("pagedown", "entry(10)", show=False),
                Binding("home", "entry(-100000)", show=False), Binding("end", "entry(100000)", show=False)]

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id, wrap=True, markup=False, highlight=False, min_width=20, max_lines=5000)
        self.texts: list[str] = []  # every announcement, as said
        self.entry = 0  # the entry the keys reached

    def add(self, text: str) -> None:
        self.texts.append(text)
        self.write(Text(f"{time.strftime('%H:%M:%S')} {' '.join(text.split())}"))

    def on_focus(self) -> None:
        n = len(self.texts)
        self.entry = n
        self.post_message(Announce(f"Announcements log, {n} entr{'y' if n == 1 else 'ies'}; up, down, page up and "
                                   "page down move through it.", status=False, kind=INSTRUCTIONS))

    def action_entry(self, step: int) -> None:
        if not self.texts:
            return
        self.entry = min(len(self.texts) - 1, max(0, self.entry + step))
        self.scroll_to(y=self.entry * self.max_scroll_y / max(1, len(self.texts) - 1), animate=False)
        said = f"{self.entry + 1} of {len(self.texts)}: {self.texts[self.entry]}"
        self.post_message(Announce(said, status=False, kind=INSTRUCTIONS, log=False))


class Preview(Static):
    """The camera's latest frame in coloured blocks, as large as fits; a line of text without a camera."""

    def __init__(self, frames: Callable[[], Frame | None], draw, *, id: str) -> None:
        """frames: gives the latest frame; draw(rgb, columns): the picture (screens.blocks)."""
        super().__init__("", id=id)
        self.frames, self.draw = frames, draw
        self._shown: tuple[int, int, int] | None = None  # (frame index, width, height) last drawn

    def on_mount(self) -> None:
        self.set_interval(0.25, self.refresh_frame)

    def refresh_frame(self) -> None:
        frame = self.frames()
        if frame is None:
            return
        size = self.content_size
        key = (frame.index, size.width, size.height)
        if key == self._shown or size.width < 2 or size.height < 1:
            return
        self._shown = key
        rgb = np.asarray(frame.rgb)
        self.update(self.draw(rgb, fit(rgb.shape, size.width, size.height)))
