"""The app's dialogs and the preview drawing: attention maps, settings, photos as coloured blocks.

Dialogs fit an 80x24 terminal: they are as large as the screen allows and scroll when their content does
not fit. They report through `Announce` messages and `dismiss`, never by calling into the app.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static, Switch, TextArea

from .live import Observation
from .messages import Announce
from .settings import Settings, problem
from .speech_queue import ANSWER, INSTRUCTIONS
from .widgets import fit


def blocks(rgb: np.ndarray, width: int = 48, heat: np.ndarray | None = None) -> Text:
    """An RGB image as coloured half-block characters, `width` columns wide; heat (h, w) in 0..1 tints it."""
    h, w = rgb.shape[:2]
    rows = max(2, round(width * h / w / 2) * 2)  # two pixels per character cell, cells about twice as tall
    small = np.asarray(Image.fromarray(rgb).resize((width, rows), Image.Resampling.BILINEAR), dtype=np.float32)
    if heat is not None:
        weight = np.asarray(Image.fromarray((heat / max(float(heat.max()), 1e-9) * 255).astype(np.uint8))
                            .resize((width, rows), Image.Resampling.BILINEAR), dtype=np.float32)[..., None] / 255
        small = small * (0.25 + 0.75 * weight) + np.array([255.0, 80.0, 0.0]) * 0.35 * weight
    small = np.clip(small, 0, 255).astype(np.uint8)
    text = Text()
    for y in range(0, rows, 2):
        for x in range(width):
            t, b = small[y, x], small[y + 1, x]
            text.append("▀", style=f"rgb({t[0]},{t[1]},{t[2]}) on rgb({b[0]},{b[1]},{b[2]})")
        text.append("\n")
    return text


class AttentionScreen(ModalScreen):
    """Where the model looked for each word of a caption; left and right move between words."""

    BINDINGS = [Binding("escape,q,a", "dismiss", "Close"), Binding("left", "move(-1)", "Previous word"),
                Binding("right", "move(1)", "Next word")]

    def __init__(self, description: Observation, image: np.ndarray) -> None:
        super().__init__()
        self.description, self.image, self.word = description, image, 0

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="attention", classes="dialog"):
            yield Label("", id="attention-word")
            yield Static("", id="attention-map")
            yield Label("left/right: previous/next word · escape: close")
        yield Footer(compact=True)  # the dialog's own keys, in place of the app's (issue 28)

    def on_mount(self) -> None:
        self.post_message(Announce(f"Attention map of: {self.description.caption.text}. Left and right move "
                                   "between words; escape closes.", status=False, kind=INSTRUCTIONS))
        self.show()

    def action_move(self, step: int) -> None:
        self.word = (self.word + step) % max(1, len(self.description.caption.words))
        self.show()

    def show(self) -> None:
        words = self.description.caption.words
        if not words:
            self.query_one("#attention-word", Label).update("This caption has no words.")
            return
        word = words[self.word]
        self.query_one("#attention-word", Label).update(f"Word {self.word + 1} of {len(words)}: {word}")
        # As large as the screen allows: the dialog's border, padding and two lines of text take 8 rows.
        width = fit(self.image.shape, max(8, self.app.size.width - 10), max(2, self.app.size.height - 8))
        self.query_one("#attention-map", Static).update(
            blocks(self.image, width, self.description.caption.attention[self.word]))
        self.post_message(Announce(word, status=False, kind=INSTRUCTIONS))


class SettingsScreen(ModalScreen[Settings | None]):
    """Edit and save the settings; ctrl+s saves, escape cancels."""

    BINDINGS = [Binding("ctrl+s", "save", "Save"), Binding("escape", "cancel", "Cancel")]
    FIELDS = [("rate", "Speech rate (words a minute)"), ("volume", "Volume (0 to 1)"),
              ("voice", "Voice (empty: default)"), ("camera", "Camera number (0: first)"),
              ("describe_every", "Describe every N s (0: off)"), ("min_interval", "Seconds between descriptions"),
              ("scene_threshold", "Scene change (0 to 255)"), ("beam_size", "Beam size (1 to 10)"),
              ("db", "Photo index file (empty: default)")]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="settings", classes="dialog"):
            yield Label("Settings: tab moves, ctrl+s saves, escape cancels")
            with Horizontal(classes="row"):
                yield Label("Speak descriptions", classes="name")
                yield Switch(self.settings.speech, id="speech", tooltip="Speak descriptions")
                yield Label(self._on_off(self.settings.speech), id="speech-state")
            for key, title in self.FIELDS:
                with Horizontal(classes="row"):
                    yield Label(title, classes="name")
                    yield Input(str(getattr(self.settings, key)), id=key, compact=True)
            yield Label("Watched folders, one a line:", classes="name")
            yield TextArea("\n".join(self.settings.watch), id="watch", compact=True, show_line_numbers=False)
            yield Label("", id="settings-error", markup=False)  # why it cannot be saved, inside the dialog
        yield Footer(compact=True)  # the dialog's own keys, in place of the app's (issue 28)

    @staticmethod
    def _on_off(value: bool) -> str:
        return "on" if value else "off"

    def on_mount(self) -> None:
        self.post_message(Announce("Settings. Tab moves between fields; control S saves; escape cancels.",
                                   status=False, kind=INSTRUCTIONS))
        self.query_one("#speech", Switch).focus()
        self.show_error("")

    def on_switch_changed(self, event: Switch.Changed) -> None:
        self.query_one("#speech-state", Label).update(self._on_off(event.value))
        self.post_message(Announce(f"Speak descriptions: {self._on_off(event.value)}", status=False, kind=INSTRUCTIONS))

    def on_descendant_focus(self, event) -> None:
        """Say the field the keyboard reached and its value, as a screen reader would."""
        widget = event.widget
        if isinstance(widget, Switch):
            said = f"Speak descriptions, switch, {self._on_off(widget.value)}; space toggles"
        elif isinstance(widget, Input):
            title = dict(self.FIELDS).get(widget.id or "", widget.id)
            said = f"{title}, edit, {widget.value or 'empty'}"
        elif isinstance(widget, TextArea):
            said = f"Watched folders, {widget.text.strip() or 'none'}"
        else:
            return
        self.post_message(Announce(said, status=False, kind=INSTRUCTIONS))

    def values(self) -> dict | str:
        """The edited values, or why they cannot be saved."""
        values: dict = {"speech": self.query_one("#speech", Switch).value}
        for key, title in self.FIELDS:
            raw = self.query_one(f"#{key}", Input).value.strip()
            kind = type(getattr(self.settings, key))
            try:
                values[key] = kind(raw)
            except ValueError:
                return f"{title}: {raw!r} is not a {'whole ' * (kind is int)}number; not saved."
            if why := problem(key, values[key]):
                return f"{title}: {raw} {why}; not saved."
        folders = [f.strip() for f in self.query_one("#watch", TextArea).text.splitlines() if f.strip()]
        for folder in folders:
            if not Path(folder).expanduser().is_dir():
                return f"Watched folder {folder} is not a folder; not saved."
        values["watch"] = folders
        if values["db"] and Path(values["db"]).expanduser().is_dir():
            return f"Photo index file {values['db']} is a folder; name a file; not saved."
        return values

    def action_save(self) -> None:
        values = self.values()
        if isinstance(values, str):
            self.show_error(values)
            self.post_message(Announce(values, status=False, kind=ANSWER))
            return
        self.dismiss(replace(self.settings, **values))

    def show_error(self, text: str) -> None:
        """Show why the settings cannot be saved in the dialog itself (empty: clear it)."""
        error = self.query_one("#settings-error", Label)
        error.update(text)
        error.display = bool(text)
        if text:
            error.scroll_visible(animate=False)

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.query_one("#settings-error", Label).display and isinstance(self.values(), dict):
            self.show_error("")  # fixed

    def action_cancel(self) -> None:
        self.show_error("")
        self.dismiss(None)
