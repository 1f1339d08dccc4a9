"""The seesay terminal app: a live camera panel, history, photo search, an announcements log, settings.

Terminal screen readers cannot follow a Textual screen, so the app says its own state changes and keeps
them readable: every announcement goes to the announcements log (l), problems stay on a line of their
own, and, unless muted, everything is spoken, by the rules of `speaking.py` (what each key and screen
says) and `speech_queue.py` (what may cut what). Everything works from the keyboard; the footer lists the
keys and the command palette (ctrl+p) lists every action.

The app is handed its parts by a `Runtime` (the composition root); the camera (a `FrameSource`) and the
speaker (a `Speech`) may be given instead, so tests pass a video file or a fake. State lives in reactives;
threads and workers report with messages (messages.py); the model loads and searches run in workers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive, var
from textual.screen import Screen
from textual.widgets import Header, Label, ListView

from . import channels
from .camera import FrameSource
from .layout import APP_CSS
from .live import LiveDescriber, Observation
from .messages import Announce, Described, ModelFailed, ModelLoaded, SearchFinished
from .parts import NO_CAMERA, Parts
from .reading import Document
from .runtime import Runtime, SetupError
from .screens import AttentionScreen, SettingsScreen, blocks
from .services import Speech
from .settings import Settings, save_settings
from .speaking import Speaking
from .speech import Voice, speech_seconds
from .speech_queue import ANSWER, INSTRUCTIONS, LIVE, PHOTO, RESULTS, photo_subject
from .spoken import file_words, relevant, results_summary, spoken_result
from .widgets import AnnouncementLog, KeyFooter, Preview, SearchBox, SpokenList, TextItem


class SeesayApp(channels.ChannelActions, Speaking, App):
    """The seesay terminal app."""

    TITLE = "seesay"
    AUTO_FOCUS = "#history"
    CSS = APP_CSS
    BINDINGS = [
        Binding("d", "describe", "Describe"), Binding("r", "repeat", "Repeat"), Binding("m", "mute", "Mute"),
        Binding("m", "unmute", "Unmute"), Binding("slash", "search", "Find"), Binding("p", "pause", "Pause"),
        Binding("p", "resume", "Resume"),
        Binding("a", "attention", "Map", show=False),  # in the menu (ctrl+p): a picture, of least use unseen
        Binding("t", "read", "Read"), *channels.BINDINGS, Binding("l", "log", "Log"), Binding("s", "settings", "Setup"),
        Binding("q", "quit", "Quit"), Binding("x", "text_mode", "Text mode", show=False),
        Binding("escape", "leave", "Back", show=False), Binding("question_mark", "keys", "Keys", show=False),
        Binding("full_stop", "line(1)", "Next line", show=False),
        Binding("comma", "line(-1)", "Previous line", show=False),
        Binding("greater_than_sign", "sentence(1)", "Next sentence", show=False),
        Binding("less_than_sign", "sentence(-1)", "Previous sentence", show=False),
        # Short labels: every key fits the footer of an 80-column terminal (issue 13).
        Binding("ctrl+p", "command_palette", "Menu", show=False, priority=True),
    ]
    COMMANDS_HELP = [  # (action, palette title, help) for the command palette (ctrl+p)
        ("describe", "Describe now", "Describe the camera's current view"),
        ("repeat", "Repeat last", "Say the last answer again"),
        ("mute", "Mute or unmute speech", "Toggle speech"), ("pause", "Pause or resume live", "Toggle live mode"),
        ("search", "Search photos", "Go to the search box"), ("attention", "Show attention map", "Where it looked"),
        ("read", "Read text now", "Read the text and codes in the camera's view: signs, labels, QR codes"),
        ("text_mode", "Text mode on or off", "Live descriptions also read new text as it comes into view (x)"),
        ("log", "Announcements log", "Read everything announced so far"),
        ("settings", "Settings", "Speech, camera, folders, index and description settings"), *channels.COMMANDS_HELP,
    ]

    status = reactive("Starting.")  # the latest announcement shown on screen
    notice = reactive("")  # the latest problem, shown until another replaces it
    caption = reactive("")  # the latest description
    paused = reactive(False, init=False)
    muted = reactive(False, init=False)
    searched = reactive(False)  # results are shown once there has been a search
    settings: var[Settings] = var(Settings, init=False)

    def __init__(self, runtime: Runtime, *, speaker: Speech | None = None, camera: FrameSource | None = None,
                 semantic: bool = True, loop_video: bool = True) -> None:
        """runtime: where every part comes from; speaker, camera: given parts instead of the runtime's."""
        super().__init__()
        self.runtime = runtime
        self.set_reactive(SeesayApp.settings, runtime.saved)  # what the file holds; the dialog edits it
        self.semantic = semantic
        self.speaker = speaker or runtime.speaker(on_status=lambda m: self.post_message(Announce(m, problem=True)))
        self.set_reactive(SeesayApp.muted, self.speaker.voice.muted)
        self.parts = Parts(runtime, self.post_message, camera or runtime.camera(loop=loop_video))
        self.embedder = None
        self.descriptions: list[Observation] = []  # newest last; the history shows newest first
        self.messages: list[str] = []  # every announcement, in order (also in the log)
        self.model_error: str | None = None
        self.latencies: list[float] = []  # seconds from frame (or file) to description on screen

    # --- layout ------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="live"):
                yield Label("", id="caption", markup=False)
                yield Label("", id="status", markup=False)
                yield Label("", id="notice", markup=False)
                yield Preview(lambda: self.live.latest() if self.live else None, blocks, id="preview")
            with Vertical(id="side"):
                yield SpokenList("History", id="history")
                yield SpokenList("Search results", id="results")
                yield AnnouncementLog(id="log")
        yield SearchBox(placeholder="Search photos: type words, press enter (/ comes here)", id="search")
        yield KeyFooter()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action, title, helptext in self.COMMANDS_HELP:
            yield SystemCommand(title, helptext, getattr(self, f"action_{action}"))

    # --- reactive state ----------------------------------------------------------------------------------

    def watch_status(self, text: str) -> None:
        self.query_one("#status", Label).update(text)

    def watch_notice(self, text: str) -> None:
        self.query_one("#notice", Label).update(text)
        self.query_one("#notice").display = bool(text)

    def watch_caption(self, text: str) -> None:
        self.query_one("#caption", Label).update(text)
        self.query_one("#caption").display = bool(text)

    def watch_searched(self, searched: bool) -> None:
        self.query_one("#results").display = searched

    def watch_paused(self, paused: bool) -> None:
        if self.live is not None:
            self.live.paused = paused
        self.say("Live description paused; d still describes." if paused else "Live description resumed.",
                 kind=INSTRUCTIONS)
        self.refresh_bindings()

    def watch_settings(self, old: Settings, new: Settings) -> None:
        self.speaker.voice = Voice(new.rate, new.volume, new.voice, muted=not new.speech)
        self.set_reactive(SeesayApp.muted, not new.speech)
        try:
            self.post_message(Announce(f"Settings saved to {save_settings(new)}."))
        except (OSError, ValueError) as exc:
            self.post_message(Announce(f"Settings apply now but could not be saved: {exc}", problem=True))
        self.runtime = self.runtime.with_saved(new)  # the same rules: arguments win over settings
        self.rewire(self.runtime)

    # --- start and stop -----------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.sub_title = "offline descriptions of what the camera sees"
        for w in self.runtime.warnings:
            self.say(w, problem=True)
        self.runtime.warnings = []
        # later ones (a part that loads without something) come from the loading thread
        self.runtime.report_warnings(lambda w: self.post_message(Announce(w, problem=True)))
        self.parts.start()
        self.query_one("#preview", Preview).update(NO_CAMERA if self.live is None else f"Waiting for {self.live.name}.")
        self.say("Loading the captioning model.", kind=INSTRUCTIONS)
        self.load_model()
        for part, title in (("#history", "History (enter: say again)"), ("#results", "Search results"),
                            ("#log", "Announcements (l)")):
            self.query_one(part).border_title = title

    @work(thread=True, exclusive=True, group="model")
    def load_model(self) -> None:
        try:
            describer = self.runtime.describer
        except SetupError as exc:
            self.post_message(ModelFailed(str(exc)))
            return
        self.post_message(ModelLoaded(describer))
        if self.semantic and self.store is not None:
            embedder = self.runtime.embedder
            try:
                embedder.embed(["warm up"])
                self.embedder = embedder
            except Exception as exc:  # search falls back to text only
                self.post_message(Announce(f"Semantic search is off: {exc}", speak=False))

    def on_model_failed(self, message: ModelFailed) -> None:
        self.model_error = message.error
        self.say(f"No captions: {message.error}", problem=True)

    def on_model_loaded(self, message: ModelLoaded) -> None:
        self.say(f"Ready. {self.parts.use(message.describer)}", kind=INSTRUCTIONS)

    @work(thread=True, exclusive=True, group="rewire")
    def rewire(self, runtime: Runtime) -> None:
        self.parts.rewire(runtime)

    def on_unmount(self) -> None:
        if self.light_tone is not None:
            self.light_tone.stop()
        self.parts.stop()
        self.speaker.close(finish=speech_seconds("Quitting seesay.") + 10)  # "Quitting seesay." is heard

    @property
    def text_mode(self) -> bool:
        """Whether live descriptions also read the text in view (x; live_text in the settings)."""
        return self.parts.text_mode

    @property
    def live(self) -> LiveDescriber | None:
        return self.parts.live

    @property
    def store(self):
        return self.parts.store

    @property
    def model(self):
        return self.parts.model

    # --- what the camera and the watcher deliver -----------------------------------------------------------

    def on_described(self, message: Described) -> None:
        d = message.observation
        self.latencies.append(time.time() - d.seen_at)
        self.descriptions.append(d)
        self.caption = f"{d.said}  (confidence {d.caption.confidence:.2f})"
        shown = d.said if d.image is not None else f"New photo {d.source}: {d.sentence}"
        name = file_words(d.source) if d.image is None else ""
        said = d.said if d.image is not None else f"New photo: {d.sentence}" + (f" {name}." if name else "")
        self.query_one("#history", ListView).insert(0, [TextItem(f"{time.strftime('%H:%M:%S')}  {shown}", said)])
        kind = PHOTO if d.image is None else ANSWER if d.kind == "asked" else LIVE
        self.say(said, status=False, kind=kind, subject=photo_subject(d.sentence))

    # --- actions -------------------------------------------------------------------------------------------

    def action_describe(self) -> None:
        if self.live is None:
            self.say(NO_CAMERA)
        elif self.model is None:
            self.say("No captioning model is available." if self.model_error else "The model is still loading.")
        elif self.live.describe_now():
            self.speaker.expect()  # live lines wait for this answer
        else:
            self.say("No frame from the camera yet.")

    def action_read(self) -> None:
        frame = self.live.latest() if self.live is not None else None
        if frame is None:
            self.say(NO_CAMERA if self.live is None else "No frame from the camera yet.")
            return
        self.say("Reading.", kind=INSTRUCTIONS)
        self.speaker.expect()  # a live line said now would sound as if it were the text
        self.read_frame(frame.rgb)

    @work(thread=True, exclusive=True, group="read")
    def read_frame(self, rgb) -> None:
        from model.describing.reading import code_parts
        from model.describing.text_reader import spoken_lines

        try:
            lines, found = self.runtime.reader.read(rgb), self.runtime.codes.read(rgb)
        except Exception as exc:  # a missing OCR package or a model failure must not end the app
            self.post_message(Announce(f"Cannot read text: {exc}", problem=True, kind=ANSWER))
            return
        self.call_from_thread(self.read_out, Document(spoken_lines(lines) + [p.text for p in code_parts(found)]))

    def action_text_mode(self) -> None:
        if self.model is None or self.live is None:
            self.say(NO_CAMERA if self.live is None else "The model is still loading.")
            return
        # Live description gets its own describer that reads; watched folders keep theirs (read_text).
        self.parts.read_text_live(not self.text_mode)
        self.say("Text mode on: new text in view is read out." if self.text_mode else "Text mode off.")

    def action_pause(self) -> None:
        if self.live is None:
            self.say(NO_CAMERA)
        else:
            self.paused = not self.paused

    def action_search(self) -> None:
        self.query_one("#search", SearchBox).focus()

    def action_log(self) -> None:
        log = self.query_one("#log", AnnouncementLog)
        log.focus()
        log.scroll_end(animate=False)

    def action_leave(self) -> None:
        self.query_one("#history", ListView).focus()

    def _selected_description(self) -> Observation | None:
        history = self.query_one("#history", ListView)
        if not self.descriptions:
            return None
        index = history.index if history.index is not None else 0
        return self.descriptions[len(self.descriptions) - 1 - index]  # the list shows the newest first

    def action_attention(self) -> None:
        d = self._selected_description()
        if d is None:
            self.say("Nothing has been described yet.")
            return
        image = d.image
        if image is None:
            from model import ImageError, load_image

            try:
                image = np.asarray(load_image(d.source))
            except ImageError as exc:
                self.say(f"Cannot show the photo: {exc}", problem=True)
                return
        self.push_screen(AttentionScreen(d, image))

    def action_settings(self) -> None:
        self.push_screen(SettingsScreen(self.settings), self._settings_closed)

    def _settings_closed(self, settings: Settings | None) -> None:
        if settings is None:
            self.say("Settings unchanged.")
        else:
            self.settings = settings

    @on(ListView.Selected, "#history")
    def _say_again(self, event: ListView.Selected) -> None:
        if (d := self._selected_description()) is not None:
            self.say(d.said if d.image is not None else f"{d.sentence} File: {d.source}", status=False)

    @on(ListView.Selected, "#results")
    def _say_result(self, event: ListView.Selected) -> None:
        if isinstance(event.item, TextItem):
            self.say(event.item.spoken, status=False, kind=RESULTS)

    # --- search ----------------------------------------------------------------------------------------

    @on(SearchBox.Submitted, "#search")
    def _submitted(self, event: SearchBox.Submitted) -> None:
        if self.store is None:
            self.say("There is no photo index to search.")
        elif not event.value.strip():
            self.say("Type words to search for.")
        else:
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
            self.post_message(Announce(f"Search failed: {exc}", problem=True))
            return
        self.post_message(SearchFinished(query, relevant(hits)))

    def on_search_finished(self, message: SearchFinished) -> None:
        from .folders import shown_name  # brings the index's SQLAlchemy, which a search has loaded already

        query, hits = message.query, message.hits
        self.searched = True
        results = self.query_one("#results", SpokenList)
        results.clear()
        # Full paths, so that a photo can be opened; the item says the description first (spoken.py).
        results.extend(TextItem(f"{h.caption}\n  {shown_name(h.path)}", spoken_result(h)) for h in hits)
        results.border_title = f"{len(hits)} result{'' if len(hits) == 1 else 's'} for {query!r}"
        self.say(results_summary(query, hits), kind=RESULTS)
        if hits:
            results.focus()

