"""The app's quick answers besides the scene (issue 30): the colour in the middle of the view (c), the light
level (b), and a tone whose pitch follows the light (g), to find a lamp or a window.

Codes need no key of their own: they are read with the text (t), and live description says them, or where
an unread one lies. The actions are mixed into `SeesayApp`; they need its `live`, `say` and `post_message`.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import wave
from collections.abc import Callable
from pathlib import Path

from textual.binding import Binding

from model.describing.colour import colours, say_colours
from model.describing.light import RATE, light_level, tone

from .messages import Announce

CENTRE = (0.3, 0.3, 0.7, 0.7)  # the middle of the view, where the camera is aimed
TONE_EVERY = 0.4  # seconds from one tone to the next
# In the footer's second row (assistant/widgets.py, KeyFooter), the menu (ctrl+p) and the README's key table.
BINDINGS = [Binding("c", "colour", "Colour"), Binding("b", "light", "Light"), Binding("g", "light_tone", "Light tone")]
COMMANDS_HELP = [
    ("colour", "Colour in view", "Say the colours in the middle of the camera's view (c)"),
    ("light", "Light level", "Say how light the camera's view is: dark, dim, bright or very bright (b)"),
    ("light_tone", "Light tone on or off", "A tone whose pitch rises with the light in view, to find a lamp (g)"),
]


def write_tone(path: Path, lightness: float) -> Path:
    """The light tone for a lightness (0-100) as a mono 16-bit WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(tone(lightness).tobytes())
    return path


class LightTone:
    """Plays the light tone of the latest frame over and over, on its own thread, until stopped."""

    def __init__(self, latest: Callable[[], object | None], player: list[str] | None,
                 on_status: Callable[[str], None]) -> None:
        self.latest, self.player, self.on_status = latest, player, on_status
        self.stopped = threading.Event()
        self.played = 0  # tones played to the end
        self._thread = threading.Thread(target=self._run, name="seesay-light-tone", daemon=True)

    def start(self) -> LightTone:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        if self.player is None:
            self.on_status("No audio player was found, so the light tone cannot play.")
            return
        with tempfile.TemporaryDirectory(prefix="seesay-tone-") as scratch:
            path = Path(scratch) / "tone.wav"
            while not self.stopped.wait(TONE_EVERY):
                frame = self.latest()
                if frame is None:
                    continue
                write_tone(path, light_level(frame.rgb).lightness)
                try:
                    done = subprocess.run([*self.player, str(path)], capture_output=True, timeout=5, check=False)
                except (OSError, subprocess.TimeoutExpired) as exc:
                    self.on_status(f"The light tone cannot play: {exc}")
                    return
                self.played += done.returncode == 0


class ChannelActions:
    """Colour, light and light-tone actions for SeesayApp."""

    light_tone: LightTone | None = None
    tone_player: list[str] | None | bool = True  # the command that plays a WAV; True: the platform's own

    def _view(self):
        """The camera's latest frame, or None after saying why there is none."""
        from .parts import NO_CAMERA

        frame = self.live.latest() if self.live is not None else None
        if frame is None:
            self.say(NO_CAMERA if self.live is None else "No frame from the camera yet.")
        return frame

    def action_colour(self) -> None:
        if (frame := self._view()) is not None:
            self.say(say_colours(colours(frame.rgb, CENTRE)), interrupt=True)

    def action_light(self) -> None:
        if (frame := self._view()) is not None:
            self.say(light_level(frame.rgb).said, interrupt=True)

    def action_light_tone(self) -> None:
        from .speech import audio_player

        if self.light_tone is not None:
            self.light_tone.stop()
            self.light_tone = None
            self.say("Light tone off.")
        elif self._view() is not None:
            status = lambda m: self.post_message(Announce(m, problem=True))  # from its thread
            player = audio_player() if self.tone_player is True else (self.tone_player or None)
            self.light_tone = LightTone(self.live.latest, player, status).start()
            self.say("Light tone on: the higher the tone, the more light.")
