"""The seesay terminal app: a live camera panel, history, photo search, settings and attention maps.

Terminal screen readers cannot follow a Textual screen, so the app says its own state changes: every
change goes to the status line and, unless muted, to speech. Everything works from the keyboard; the
footer lists the keys and the command palette (ctrl+p) lists every action.

Threads: the camera, the describer, the folder watcher and speech each run on their own thread and reach
the UI only through `call_from_thread`; searches and model loading run in Textual thread workers.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, Label, ListItem, ListView, Static, Switch

from .live import Description
from .settings import Settings, load_settings, save_settings
from .speech import Speaker, Voice


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

    def __init__(self, description: Description, image: np.ndarray) -> None:
        super().__init__()
        self.description, self.image, self.word = description, image, 0

    def compose(self) -> ComposeResult:
        with Vertical(id="attention"):
            yield Label("", id="attention-word")
            yield Static("", id="attention-map")
            yield Label("left/right: previous/next word · escape: close")

    def on_mount(self) -> None:
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
        self.query_one("#attention-map", Static).update(
            blocks(self.image, 56, self.description.caption.attention[self.word]))
        self.app.announce(word, log=False)


class SettingsScreen(ModalScreen[Settings | None]):
    """Edit and save the settings; ctrl+s saves, escape cancels."""

    BINDINGS = [Binding("ctrl+s", "save", "Save"), Binding("escape", "cancel", "Cancel")]
    FIELDS = [("rate", "Speech rate (words per minute)"), ("volume", "Volume (0 to 1)"),
              ("voice", "Voice (empty for the default)"), ("scene_threshold", "Scene change threshold (0 to 255)"),
              ("min_interval", "Seconds between automatic descriptions"), ("beam_size", "Beam size")]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        with Vertical(id="settings"):
            yield Label("Settings (ctrl+s to save, escape to cancel)")
            with Horizontal(classes="row"):
                yield Label("Speak descriptions", classes="name")
                yield Switch(self.settings.speech, id="speech")
            for key, title in self.FIELDS:
                with Horizontal(classes="row"):
                    yield Label(title, classes="name")
                    yield Input(str(getattr(self.settings, key)), id=key)

    def on_mount(self) -> None:
        self.app.announce("Settings. Tab moves between fields; control S saves; escape cancels.", log=False)

    def action_save(self) -> None:
        values = {"speech": self.query_one("#speech", Switch).value}
        for key, title in self.FIELDS:
            raw = self.query_one(f"#{key}", Input).value.strip()
            kind = type(getattr(self.settings, key))
            try:
                values[key] = kind(raw)
            except ValueError:
                self.app.announce(f"{title}: {raw!r} is not a {kind.__name__}; not saved.")
                return
        self.dismiss(replace(self.settings, **values))

    def action_cancel(self) -> None:
        self.dismiss(None)


class SeesayApp(App):
    """The seesay terminal app."""

    TITLE = "seesay"
    CSS = """
    #main { height: 1fr; }
    #live { width: 60%; border: round $accent; padding: 0 1; }
    #side { width: 40%; border: round $secondary; }
    #preview { height: auto; }
    #caption { text-style: bold; width: 1fr; }
    #status { margin: 1 0; color: $text-muted; width: 1fr; }
    #history Label { width: 1fr; }
    #history, #results { height: 1fr; }
    #search { dock: bottom; }
    #results-box { height: 12; border: round $secondary; }
    AttentionScreen, SettingsScreen { align: center middle; }
    #attention, #settings { width: 80%; height: auto; border: thick $accent; background: $surface; padding: 1; }
    .row { height: 3; } .name { width: 40; padding: 1 1; }
    """
    BINDINGS = [
        Binding("d", "describe", "Describe now"), Binding("r", "repeat", "Repeat"), Binding("m", "mute", "Mute"),
        Binding("slash", "search", "Search"), Binding("p", "pause", "Pause live"),
        Binding("a", "attention", "Attention"), Binding("s", "settings", "Settings"), Binding("q", "quit", "Quit"),
        Binding("escape", "leave_search", "Back", show=False),
    ]

    def __init__(
        self, *, source: int | str | None = None, watch: Iterable[str | Path] = (), db: str | Path | None = None,
        model: str | None = None, settings: Settings | None = None, speaker: Speaker | None = None,
        semantic: bool = True, device: str = "cpu", loop_video: bool = True, settings_warnings: Iterable[str] = (),
    ) -> None:
        super().__init__()
        self.settings, self._settings_warnings = (settings, list(settings_warnings)) if settings else load_settings()
        self.source, self.watch_folders, self.db_path = source, [Path(w) for w in watch], db
        self.model_path, self.device, self.semantic, self.loop_video = model, device, semantic, loop_video
        s = self.settings
        self.speaker = speaker or Speaker(Voice(s.rate, s.volume, s.voice, muted=not s.speech),
                                          on_status=lambda m: self._from_thread(self.announce, m, speak=False))
        self.captioner = self.store = self.embedder = self.describer = self.watcher = None
        self.descriptions: list[Description] = []
        self.messages: list[str] = []  # every state change announced, in order
        self.model_error: str | None = None
        self.latencies: list[float] = []  # seconds from frame (or file) to caption on screen

    # --- layout ------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="live"):
                yield Label("", id="caption")
                yield Label("Starting.", id="status")
                yield Static("", id="preview")
            with Vertical(id="side"):
                yield Label("History (enter: say again, a: attention map)")
                yield ListView(id="history")
        with Vertical(id="results-box"):
            yield Label("Search results", id="results-title")
            yield ListView(id="results")
        yield Input(placeholder="Search your photos: type words and press enter (/ to come here)", id="search")
        yield Footer()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action, title, helptext in [
            ("describe", "Describe now", "Describe the camera's current view"),
            ("repeat", "Repeat last", "Say the last description again"),
            ("mute", "Mute or unmute speech", "Toggle speech"), ("pause", "Pause or resume live", "Toggle live mode"),
            ("search", "Search photos", "Go to the search box"), ("attention", "Show attention map", "Where it looked"),
            ("settings", "Settings", "Speech, camera and description settings"),
        ]:
            yield SystemCommand(title, helptext, getattr(self, f"action_{action}"))

    # --- saying things --------------------------------------------------------------------------------------

    def announce(self, message: str, speak: bool = True, log: bool = True) -> None:
        """Show a state change on the status line and say it (unless muted)."""
        self.messages.append(message)
        if log:
            self.query_one("#status", Label).update(message)
        if speak:
            self.speaker.say(message, interrupt=False)
        self.log(message)

    def _from_thread(self, fn, *args, **kwargs) -> None:
        """Run fn on the UI thread from a worker thread; quietly nothing once the app is closing."""
        try:
            self.call_from_thread(fn, *args, **kwargs)
        except RuntimeError:
            pass

    # --- start and stop -------------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.title = "seesay"
        self.sub_title = "offline descriptions of what the camera sees"
        for w in self._settings_warnings:
            self.announce(w)
        self._open_store()
        self.announce("Loading the captioning model.")
        self.load_model()
        self.set_interval(0.25, self._refresh_preview)
        self.query_one("#history", ListView).focus()

    def _open_store(self) -> None:
        from store import Store, StoreError, default_db_path

        path = Path(self.db_path or self.settings.db or default_db_path())
        try:
            self.store = Store(path)
        except StoreError as exc:
            self.announce(f"The photo index cannot be opened: {exc}. Search and folder watching are off.")

    @work(thread=True, exclusive=True, group="model")
    def load_model(self) -> None:
        from model import Captioner, CheckpointError, MissingWeightsError, NoModelError

        try:
            captioner = (Captioner.from_checkpoint(self.model_path, self.device) if self.model_path
                         else Captioner.default(self.device))
        except (NoModelError, CheckpointError, MissingWeightsError) as exc:
            self.model_error = str(exc)
            self._from_thread(self.announce, f"No captions: {exc}")
            return
        self._from_thread(self._model_ready, captioner)
        if self.semantic and self.store is not None:
            from .embedder import SentenceEmbedder

            embedder = SentenceEmbedder()
            try:
                embedder.embed(["warm up"])
                self.embedder = embedder
            except Exception as exc:  # search falls back to text only
                self._from_thread(self.announce, f"Semantic search is off: {exc}", speak=False)

    def _model_ready(self, captioner) -> None:
        from .camera import SceneChange
        from .live import LiveDescriber
        from .watcher import FolderWatcher

        self.captioner = captioner
        parts = ["Ready."]
        if self.source is not None:
            scene = SceneChange(self.settings.scene_threshold, min_interval=self.settings.min_interval)
            self.describer = LiveDescriber(
                captioner, self.source, scene=scene, beam_size=self.settings.beam_size, loop=self.loop_video,
                on_description=lambda d: self._from_thread(self.show_description, d),
                on_status=lambda m: self._from_thread(self.announce, m),
            ).start()
            parts.append(f"Describing {self.describer.camera.name}; press d to describe now.")
        else:
            parts.append("No camera.")
        folders = self.watch_folders or [Path(f) for f in self.settings.watch]
        if folders and self.store is not None:
            self.watcher = FolderWatcher(
                self.store, captioner, folders, beam_size=self.settings.beam_size,
                on_description=lambda d: self._from_thread(self.show_description, d),
                on_status=lambda m: self._from_thread(self.announce, m),
            ).start()
            parts.append(f"Watching {len(folders)} folder{'s' * (len(folders) > 1)}.")
        self.announce(" ".join(parts))

    def on_unmount(self) -> None:
        for part in (self.describer, self.watcher):
            if part is not None:
                part.stop()
        self.speaker.close()
        if self.store is not None:
            self.store.close()

    # --- what the camera and the watcher deliver -------------------------------------------------------

    def _refresh_preview(self) -> None:
        if self.describer is not None and (frame := self.describer.camera.latest()) is not None:
            self.query_one("#preview", Static).update(blocks(frame.rgb, 40))

    def show_description(self, d: Description) -> None:
        self.latencies.append(time.time() - d.seen_at)
        self.descriptions.append(d)
        name = Path(d.source).name
        self.query_one("#caption", Label).update(f"{d.sentence}  (confidence {d.caption.confidence:.2f})")
        history = self.query_one("#history", ListView)
        history.insert(0, [ListItem(Label(f"{time.strftime('%H:%M:%S')}  {name}: {d.sentence}"))])
        self.speaker.say(d.sentence if d.image is not None else f"New photo {name}: {d.sentence}")

    # --- actions -----------------------------------------------------------------------------------------

    def action_describe(self) -> None:
        if self.describer is None:
            if self.captioner is None:
                self.announce("No captioning model is available." if self.model_error else "The model is still loading.")
            else:
                self.announce("There is no camera to describe.")
        elif not self.describer.describe_now():
            self.announce("No frame from the camera yet.")

    def action_repeat(self) -> None:
        if self.descriptions:
            self.query_one("#status", Label).update(f"Repeating: {self.speaker.last_text}")
            self.speaker.repeat()
        else:
            self.announce("Nothing has been described yet.")

    def action_mute(self) -> None:
        if self.speaker.voice.muted:
            self.speaker.set_muted(False)
            self.announce("Speech on.")
        else:
            self.announce("Speech muted.", speak=False)
            self.speaker.set_muted(True)

    def action_pause(self) -> None:
        if self.describer is None:
            self.announce("There is no camera.")
            return
        self.describer.paused = not self.describer.paused
        self.announce("Live description paused; d still describes." if self.describer.paused
                      else "Live description resumed.")

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()
        self.announce("Search: type words and press enter.")

    def action_leave_search(self) -> None:
        self.query_one("#history", ListView).focus()

    def _selected_description(self) -> Description | None:
        history = self.query_one("#history", ListView)
        if not self.descriptions:
            return None
        index = history.index if history.index is not None else 0
        return self.descriptions[len(self.descriptions) - 1 - index]  # the list shows the newest first

    def action_attention(self) -> None:
        d = self._selected_description()
        if d is None:
            self.announce("Nothing has been described yet.")
            return
        image = d.image
        if image is None:
            from model import ImageError, load_image

            try:
                image = np.asarray(load_image(d.source))
            except ImageError as exc:
                self.announce(f"Cannot show the photo: {exc}")
                return
        self.push_screen(AttentionScreen(d, image))

    def action_settings(self) -> None:
        self.push_screen(SettingsScreen(self.settings), self._settings_saved)

    def _settings_saved(self, settings: Settings | None) -> None:
        if settings is None:
            self.announce("Settings unchanged.")
            return
        self.settings = settings
        self.speaker.voice = Voice(settings.rate, settings.volume, settings.voice, muted=not settings.speech)
        if self.describer is not None:
            self.describer.scene.threshold = settings.scene_threshold
            self.describer.scene.min_interval = settings.min_interval
            self.describer.beam_size = settings.beam_size
        try:
            path = save_settings(settings)
            self.announce(f"Settings saved to {path}.")
        except OSError as exc:
            self.announce(f"Settings apply now but could not be saved: {exc}")

    # --- saying where the keyboard is ----------------------------------------------------------------------

    FOCUS_NAMES: ClassVar[dict[str, str]] = {"history": "History", "results": "Search results",
                                             "search": "Search box"}

    def on_descendant_focus(self, event) -> None:
        """Say which part of the screen the keyboard is in, and how many items it holds."""
        widget = event.widget
        name = self.FOCUS_NAMES.get(widget.id or "")
        if name is None:
            return
        if isinstance(widget, ListView):
            name += f", {len(widget.children)} item{'' if len(widget.children) == 1 else 's'}"
        self.speaker.say(name)

    @on(ListView.Highlighted)
    def _say_highlighted(self, event: ListView.Highlighted) -> None:
        """Arrow keys through a list read each item, as a screen reader would."""
        if event.item is not None and event.list_view.has_focus:
            label = event.item.query_one(Label)
            self.speaker.say(str(label.render()))

    @on(ListView.Selected, "#history")
    def _say_again(self, event: ListView.Selected) -> None:
        d = self._selected_description()
        if d is not None:
            self.speaker.say(d.sentence)

    @on(ListView.Selected, "#results")
    def _say_result(self, event: ListView.Selected) -> None:
        self.speaker.say(str(event.item.name or ""))

    # --- search ----------------------------------------------------------------------------------------

    @on(Input.Submitted, "#search")
    def _submitted(self, event: Input.Submitted) -> None:
        if self.store is None:
            self.announce("There is no photo index to search.")
            return
        self.run_search(event.value)

    @work(thread=True, exclusive=True, group="search")
    def run_search(self, query: str) -> None:
        from store import StoreError

        try:
            if self.embedder is not None:
                hits = self.store.hybrid_search(query, self.embedder.embed([query])[0], 10)
            else:
                hits = self.store.text_search(query, 10)
        except StoreError as exc:
            self._from_thread(self.announce, f"Search failed: {exc}")
            return
        self._from_thread(self._show_results, query, hits)

    def _show_results(self, query: str, hits) -> None:
        results = self.query_one("#results", ListView)
        results.clear()
        items = [ListItem(Label(f"{Path(h.path).name}: {h.caption}"), name=f"{Path(h.path).name}: {h.caption}")
                 for h in hits]
        if items:
            results.extend(items)
        plural = "" if len(hits) == 1 else "s"
        self.query_one("#results-title", Label).update(f"{len(hits)} result{plural} for {query!r}")
        if hits:
            self.announce(f"{len(hits)} photo{plural} found for {query}. First: {hits[0].caption}.")
        else:
            self.announce(f"No photos match {query}." if query.strip() else "Type words to search for.")


def run_app(args: argparse.Namespace) -> int:
    settings, warnings = load_settings()
    if args.no_camera:
        source = None
    else:
        source = args.video if args.video else (args.camera if args.camera is not None else settings.camera)
    app = SeesayApp(source=source, watch=args.watch or [], db=args.db, model=args.model, settings=settings,
                    settings_warnings=warnings, device=args.device)
    app.run()
    return 0
