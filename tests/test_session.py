"""A whole spoken session, heard through a recording audio player (issue 28).

Start; the view changes; three photos are dropped into a watched folder; describe; search; read a
seven-line letter line by line; the log, the keys, the menu and the settings; mute; quit. Every utterance
the user asked for must be heard whole and in order, no new photo may go unannounced, no live line may
interrupt an answer, and the README's table of what each key says must hold. The player keeps each WAV,
whose lengths are checked against `seesay say --to` of the same text. The script waits for states (the
speaker idle, a description arrived), never for times, so it holds on a loaded machine.
"""

import asyncio
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from assistant.app import SeesayApp
from assistant.camera import Frame
from assistant.live import CHANGED
from assistant.runtime import Runtime
from assistant.settings import Settings, settings_path
from assistant.speaking import SAYS
from assistant.speech import Speaker, wav_seconds
from assistant.speech_queue import ASKED, PHOTO

from .test_speech_policy import recorder

README = Path(__file__).resolve().parents[1] / "README.md"


class ScriptedCamera:
    """A FrameSource showing whatever the script puts in view, 20 frames a second."""

    name = "the test camera"

    def __init__(self, rgb: np.ndarray) -> None:
        self.ended = threading.Event()
        self.rgb, self.frame = rgb, None
        self._stop = threading.Event()

    def show(self, rgb: np.ndarray) -> None:
        self.rgb = rgb

    def start(self, on_frame=None, on_status=None):
        def run():
            i = 0
            while not self._stop.wait(0.05):
                i += 1
                self.frame = Frame(self.rgb, i, time.time())
                if on_frame is not None:
                    on_frame(self.frame)

        threading.Thread(target=run, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.ended.set()

    def latest(self):
        return self.frame


class ListeningSpeaker(Speaker):
    """A real speaker that also notes everything it is asked to say (kind, text, whether muted then)."""

    def __init__(self, player):
        super().__init__(player=player)
        self.asked_for: list[tuple[str, str, bool]] = []

    def say(self, text, interrupt=False, *, kind="answer", subject="", force=False):
        self.asked_for.append((kind, " ".join(str(text).split()), self.voice.muted and not force))
        super().say(text, interrupt, kind=kind, subject=subject, force=force)


def rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB").resize((320, 240)))


def pattern(quoted: str) -> re.Pattern:
    """A README phrase as a regular expression: N a number; QUERY, SENTENCE, TEXT words; … more."""
    text = re.escape(quoted)
    text = re.sub(r"\bN\b", r"\\d+", text)
    text = re.sub(r"\b(QUERY|SENTENCE|TEXT)\b", ".+", text)
    return re.compile(text.replace("…", ".*"))


def readme_table() -> list[tuple[str, str]]:
    lines = README.read_text().split("| key or screen | says |\n| --- | --- |\n")[1].split("\n\n")[0]
    return [tuple(cell.strip() for cell in row.strip("|").split(" | ")) for row in lines.splitlines()]


def test_a_whole_session_is_heard_whole_in_order_with_every_photo_and_no_live_line_cutting_in(
        tmp_path, flickr_records, letter_photo):
    test = [r for r in flickr_records if r.split == "test"]
    letter, letter_lines = letter_photo
    folder = tmp_path / "holiday"
    folder.mkdir()
    player, _ = recorder(tmp_path, seconds=0.05)
    speaker = ListeningSpeaker(player)
    camera = ScriptedCamera(rgb(test[0].path))
    runtime = Runtime.of(Settings(min_interval=0.0, describe_every=0.0, watch=[str(folder)]),
                         db=str(tmp_path / "index.sqlite"))
    app = SeesayApp(runtime, speaker=speaker, camera=camera, semantic=False)

    async def until(pilot, condition, seconds=90.0):
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, (app.messages[-5:], speaker.history[-5:])
            await pilot.pause(0.05)

    async def press(pilot, *keys):
        """Press keys as a listener does: each once what was said before it has been heard."""
        print(f"{time.monotonic() - t0:6.1f} s: {' '.join(keys)}")
        for key in keys:
            await until(pilot, lambda: speaker.idle)
            await pilot.press(key)
        await until(pilot, lambda: speaker.idle)

    def said(text):
        return any(t == text for _, t, _ in speaker.asked_for)

    t0 = time.monotonic()

    async def drive():
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.descriptions and any(m.startswith("Ready.") for m in app.messages))
            await until(pilot, lambda: speaker.idle)
            camera.show(rgb(test[3].path))  # the view changes
            await until(pilot, lambda: any(d.kind == CHANGED for d in app.descriptions))
            photos = [test[i].path for i in (5, 6, 7)]
            for photo in photos:
                shutil.copy(photo, folder / Path(photo).name)
            await press(pilot, "question_mark")  # the keys, said while the photos arrive
            await until(pilot, lambda: sum(d.image is None for d in app.descriptions) == 3)
            await press(pilot, "question_mark", "d")  # the keys panel closes; describe now
            await until(pilot, lambda: app.descriptions[-1].kind == "asked")
            new = [d for d in app.descriptions if d.image is None]
            word = next(w for w in re.findall(r"[a-z]+", new[0].sentence.lower()) if len(w) > 3)
            await press(pilot, "slash", *word, "enter")
            await until(pilot, lambda: any(t.startswith("Search results,") for _, t, _ in speaker.asked_for))
            await press(pilot, "down")
            await press(pilot, "escape")
            camera.show(rgb(letter))
            await press(pilot, "p", "t")  # pause, then read the letter
            await until(pilot, lambda: said("Eye Clinic Bookings"), 120)
            await press(pilot, "r", "comma", "full_stop", "full_stop", "less_than_sign", "p")
            await press(pilot, "l", "up", "escape")
            await press(pilot, "ctrl+p", "down", "escape")
            await press(pilot, "s", "tab")
            app.screen.query_one("#rate").value = "5000"
            await press(pilot, "ctrl+s")
            error = app.screen.query_one("#settings-error")
            assert error.display and "must be from 80 to 450" in str(error.render())  # inside the dialog
            assert "must be" not in str(app.query_one("#notice").render())  # not behind the dialog
            app.screen.query_one("#rate").value = "200"
            await until(pilot, lambda: not error.display)  # fixed: cleared
            answers = sum(d.kind == "asked" for d in app.descriptions)
            await press(pilot, "escape", "m")
            played = len(speaker.history)  # "Speech muted; m unmutes." is the last thing heard ...
            await press(pilot, "d")
            await until(pilot, lambda: sum(d.kind == "asked" for d in app.descriptions) == answers + 1)
            await until(pilot, lambda: speaker.idle)
            assert len(speaker.history) == played  # ... the description asked for while muted is only shown
            await press(pilot, "m")
            await pilot.press("q")
        return new

    try:
        new = asyncio.run(drive())
    finally:
        settings_path().unlink(missing_ok=True)
    history = speaker.history

    # Every utterance asked for (and not muted) was heard whole, in the order it was asked for.
    asked = [(k, t) for k, t, muted in speaker.asked_for if k in ASKED and not muted]
    heard = [(k, t) for k, t, whole in history if k in ASKED]
    assert heard == asked
    assert all(whole for k, _, whole in history if k in ASKED), [h for h in history if not h[2]]
    assert heard[0] == ("instructions", "Loading the captioning model.") and heard[-1][1] == "Quitting seesay."
    # The letter, every line, dates and numbers as such; then all of it again on r.
    reading = [t for k, t in heard if k == "reading"]
    assert reading[:8] == ["It says, in 7 lines:", "Dear Ms Smith,", "Your appointment at the eye clinic is on",
                           "14 March 2027 at 10 30 in room 12.", "Please bring your glasses and this letter.",
                           "To change it, call 0 1 6 1, 4 9 6, 0 1 2 3.", "Yours sincerely,", "Eye Clinic Bookings"]
    assert reading[8:16] == reading[:8] and len(letter_lines) == 7
    # No new photo went unannounced (alone or in a summary), each heard whole.
    photo_said = " ".join(t for k, t, whole in history if k == PHOTO and whole)
    assert all(d.sentence.rstrip(".").lower() in photo_said.lower() for d in new), (photo_said, new)
    assert any(muted for _, _, muted in speaker.asked_for)

    # The README's table is the app's, and each quoted phrase was said in the session.
    assert readme_table() == SAYS
    everything = [t for _, t, _ in speaker.asked_for]
    for key, says in SAYS:
        quoted = re.findall(r'"([^"]+)"', says)
        if quoted:
            assert any(pattern(q).fullmatch(t) for q in quoted for t in everything), (key, quoted)

    # The recorded WAVs are whole: as long as `seesay say --to` of the same text.
    for n, text in ((0, "Loading the captioning model."), (len(history) - 1, "Quitting seesay.")):
        assert history[n][1] == text
        out = tmp_path / f"say{n}.wav"
        run = subprocess.run([sys.executable, "-m", "assistant", "say", text, "--to", str(out)],
                             capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stderr
        # espeak-ng's output for the same text varies by a few tens of milliseconds from run to run; a cut
        # utterance is shorter by far more than 5%
        assert abs(wav_seconds(tmp_path / f"played.log.{n}.wav") - wav_seconds(out)) < 0.05 * wav_seconds(out)
