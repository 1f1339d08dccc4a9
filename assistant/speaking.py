"""What the app says: every announcement, key and screen, through one speech channel (issue 28).

Tried by ear, the app lost much of what it meant to say: new speech cut old speech whatever it was, the
menu, the keys panel and the log said nothing, `m` muted without a word and `q` quit without one. Here
(a mixin of `SeesayApp`) every announcement carries a kind (`speech_queue`), a key press stops speech and
nothing else does, `r` says the last answer again (all of it: a whole text read, not its last line), the
footer says Mute or Unmute, Pause or Resume, and `SAYS` is the table of what each key and screen says,
printed in the README and checked against the app by the tests.
"""

from __future__ import annotations

from textual import events
from textual.command import CommandPalette

from .messages import Announce
from .reading import Document
from .speech_queue import ANSWER, INSTRUCTIONS, PROBLEM, READING, REPEATABLE

# What each key and screen says, as the README's table shows it: (key or screen, says). A quoted phrase
# is said word for word (N: a number; QUERY, SENTENCE, TEXT: words; "…": more follows); the session test
# checks each against what the app said.
SAYS = [
    ("start", '"Loading the captioning model." then "Ready. …"'),
    ("d", "the description of the camera's view, at once; live lines wait for it"),
    ("a change in view", '"Now: SENTENCE" or, of what left, "No longer in view: TEXT" (never the same twice in '
                         'a row, never cutting anything)'),
    ("a new photo in a watched folder", '"New photo: SENTENCE" or, when several wait, "N new photos: …"'),
    ("r", "the last answer again, all of it (a whole text read), never a live line"),
    ("m", '"Speech muted; m unmutes." / "Speech on." (the footer shows Unmute / Mute)'),
    ("p", '"Live description paused; d still describes." / "Live description resumed."'),
    ("t", '"Reading." then "It says, in N lines:" and each line (dates, times, phone numbers as such)'),
    (". and ,", 'the next and previous line; "End of the text, N lines." / "Start of the text: TEXT"'),
    ("> and <", "the next and previous sentence of the text read"),
    ("/", '"Search box: type words and press enter; escape goes back."'),
    ("enter in the search box", '"N photos found for QUERY. First: …" ("1 photo found …") / "No photos match QUERY."'),
    ("up, down in the results", '"SENTENCE TEXT, in the folder TEXT." (a camera number is left out: "A photo")'),
    ("l", '"Announcements log, N entries; up, down, page up and page down move through it."'),
    ("up, down in the log", '"N of N: TEXT"'),
    ("?", '"Keys: d: describe now; …"'),
    ("ctrl+p", '"Menu: type to filter, up and down move, enter runs, escape closes." then "TEXT. TEXT"'),
    ("escape in the menu", '"Menu closed."'),
    ("s", '"Settings. Tab moves between fields; control S saves; escape cancels."'),
    ("tab in the settings", '"TEXT, edit, TEXT"'),
    ("ctrl+s with a wrong value", '"TEXT: N must be from …; not saved." (shown in the dialog too)'),
    ("escape in the settings", '"Settings unchanged."'),
    ("q", '"Quitting seesay."'),
]
KEY_HELP = [("d", "describe now"), ("r", "repeat the last answer"), ("m", "mute or unmute"),
            ("p", "pause or resume live description"), ("t", "read the text in view"),
            ("full stop and comma", "next and previous line of the text"),
            ("greater and less than", "next and previous sentence"), ("slash", "search photos"),
            ("l", "the announcements log"), ("s", "settings"), ("a", "attention map"),
            ("x", "text mode"), ("control p", "the menu"), ("escape", "back"), ("q", "quit")]


class Speaking:
    """The app's speech (a mixin of SeesayApp, which has `speaker`, `messages` and the widgets)."""

    _keys = 0  # key presses so far: an answer belongs to the key press it followed
    _answer: tuple[int, list[tuple[str, str]]] = (-1, [])  # (key press, [(text, kind)]) for `r`
    document: Document | None = None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._keys += 1
            self.speaker.stop()  # a key stops speech now
        await super().on_event(event)

    def on_announce(self, message: Announce) -> None:
        """Every announcement: into the log, onto the status or problem line, and spoken unless muted."""
        if message.log:
            self.messages.append(message.text)
            self.query_one("#log").add(message.text)
        if message.problem:
            self.notice = message.text
        if message.status:
            self.status = message.text
        if not message.speak:
            return
        kind = message.kind or (PROBLEM if message.problem else ANSWER)
        if kind in REPEATABLE:
            key, said = self._answer
            self._answer = (self._keys, said if key == self._keys else [])
            self._answer[1].append((message.text, kind))
        self.speaker.say(message.text, kind=kind, subject=message.subject, force=message.force)

    def say(self, text: str, **kwargs) -> None:
        """Announce from the app's own thread."""
        self.on_announce(Announce(text, **kwargs))

    def action_repeat(self) -> None:
        said = self._answer[1]
        if not said:
            self.say("Nothing has been said in answer yet.", kind=INSTRUCTIONS)
            return
        self.status = f"Repeating: {said[0][0]}"
        for text, kind in list(said):
            self.say(text, status=False, kind=kind)

    # --- mute and pause: the footer shows the key that undoes them ---------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        flips = {"mute": not self.muted, "unmute": self.muted, "pause": not self.paused, "resume": self.paused}
        return flips.get(action, True)

    def action_mute(self) -> None:
        self.muted = True

    def action_unmute(self) -> None:
        self.muted = False

    def watch_muted(self, muted: bool) -> None:
        self.speaker.set_muted(muted)
        # Said either way: "Speech muted." is the last thing heard before the silence.
        self.say("Speech muted; m unmutes." if muted else "Speech on.", kind=INSTRUCTIONS, force=muted)
        self.refresh_bindings()

    def action_resume(self) -> None:
        self.action_pause()

    # --- the menu, the keys panel, quitting --------------------------------------------------------------

    def action_command_palette(self) -> None:
        if not CommandPalette.is_open(self):
            self.say("Menu: type to filter, up and down move, enter runs, escape closes.", status=False,
                     kind=INSTRUCTIONS)
        super().action_command_palette()

    def on_command_palette_option_highlighted(self, event: CommandPalette.OptionHighlighted) -> None:
        option = event.highlighted_event.option
        hit = getattr(option, "hit", None)
        text = getattr(hit, "text", None) or str(option.prompt)
        helptext = getattr(hit, "help", "") or ""
        self.say(f"{text}. {helptext}".strip(), status=False, kind=INSTRUCTIONS)

    def on_command_palette_closed(self, event: CommandPalette.Closed) -> None:
        if not event.option_selected:
            self.say("Menu closed.", status=False, kind=INSTRUCTIONS)

    def action_keys(self) -> None:
        """Say every key, and show or hide the keys panel."""
        from textual.widgets import HelpPanel

        if self.screen.query(HelpPanel):
            self.action_hide_help_panel()
            self.say("Keys panel closed.", status=False, kind=INSTRUCTIONS)
            return
        super().action_show_help_panel()
        self.say("Keys: " + "; ".join(f"{k}: {what}" for k, what in KEY_HELP) + ".", status=False,
                 kind=INSTRUCTIONS)

    def action_show_help_panel(self) -> None:
        self.action_keys()

    async def action_quit(self) -> None:
        self.speaker.stop(everything=True)  # only "Quitting seesay." is still heard
        self.say("Quitting seesay.", kind=INSTRUCTIONS)
        self.exit()

    # --- a text read: whole, line by line, sentence by sentence -------------------------------------------

    def read_out(self, document: Document) -> None:
        """Say a text read from the camera: how many lines, then every line, each its own utterance."""
        self.document = document
        self.say(document.intro(), kind=READING)
        for line in document.everything():
            self.say(line, status=False, kind=READING)

    def action_line(self, step: int) -> None:
        self._move(lambda d: d.move_line(step))

    def action_sentence(self, step: int) -> None:
        self._move(lambda d: d.move_sentence(step))

    def _move(self, move) -> None:
        if self.document is None:
            self.say("No text has been read; t reads the text in view.", kind=INSTRUCTIONS)
        else:
            self.say(move(self.document), status=False, kind=READING)
