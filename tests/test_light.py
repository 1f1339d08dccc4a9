"""The light level on real photos across exposures, the light tone as a real WAV, and the app's colour, light
and light-tone keys on a real video."""

from __future__ import annotations

import asyncio
import sys
import wave

import numpy as np
import pytest
from PIL import Image

from assistant.channels import write_tone
from model.describing.light import LEVELS, exposed, light_level, pitch

from .conftest import FLICKR

EXPOSURES = (0.02, 0.10, 0.50, 1.00, 1.50)
ORDER = [w for _, w in LEVELS]
CHECK_WAV = "import sys, wave; w = wave.open(sys.argv[1]); assert w.getnframes() > 1000 and w.getframerate() > 0"


@pytest.mark.timeout(60)
def test_the_light_level_is_named_in_order_across_exposures_of_real_photos():
    names = (FLICKR / "test.txt").read_text().split()[:20]
    for name in names:
        image = Image.open(FLICKR / "images" / name).convert("RGB")
        levels = [light_level(exposed(image, f)) for f in EXPOSURES]
        assert [lv.lightness for lv in levels] == sorted(lv.lightness for lv in levels), name
        ranks = [ORDER.index(lv.word) for lv in levels]
        assert ranks == sorted(ranks), (name, [lv.word for lv in levels])
        assert levels[0].word == "dark" and ranks[-1] >= ORDER.index("bright"), name


def _frequency(path) -> float:
    with wave.open(str(path), "rb") as w:
        rate, samples = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


@pytest.mark.timeout(30)
def test_the_light_tone_rises_with_the_light_in_view(tmp_path):
    image = Image.open(FLICKR / "images" / (FLICKR / "test.txt").read_text().split()[5]).convert("RGB")
    heard = []
    for i, f in enumerate(EXPOSURES):
        level = light_level(exposed(image, f))
        hz = _frequency(write_tone(tmp_path / f"tone{i}.wav", level.lightness))
        assert abs(hz - pitch(level.lightness)) < 10  # the WAV holds the pitch it is meant to
        heard.append(hz)
    assert heard == sorted(heard) and heard[-1] > 2 * heard[0]


@pytest.mark.timeout(120)
def test_the_apps_colour_light_and_tone_keys_answer_from_the_camera(two_scene_video, tmp_path):
    from assistant.app import SeesayApp
    from assistant.camera import Camera
    from assistant.runtime import Runtime
    from assistant.settings import Settings
    from assistant.speech import Speaker

    video, _ = two_scene_video
    runtime = Runtime.of(Settings(), video=str(video), db=str(tmp_path / "index.sqlite"),
                         model=str(tmp_path / "missing.pt"))
    app = SeesayApp(runtime, speaker=Speaker(player=None), camera=Camera(str(video), loop=True), semantic=False)

    async def until(pilot, condition):
        for _ in range(300):
            if condition():
                return True
            await pilot.pause(0.1)
        return condition()

    async def answer(pilot, key, condition):
        """Press a key and wait for an announcement after it that meets condition (others, such as the
        missing model's, may come in between)."""
        start = len(app.messages)
        await pilot.press(key)
        assert await until(pilot, lambda: any(condition(m) for m in app.messages[start:]))
        return next(m for m in app.messages[start:] if condition(m))

    async def drive():
        async with app.run_test(size=(80, 24)) as pilot:
            assert await until(pilot, lambda: app.live.latest() is not None)
            light = await answer(pilot, "b", lambda m: m.startswith("The light is "))
            assert light.removeprefix("The light is ").rstrip(".") in ORDER
            await answer(pilot, "c", lambda m: any(t in m.lower() for t in (
                "black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")))
            app.tone_player = None  # a machine with no audio player
            await answer(pilot, "g", lambda m: "No audio player" in m)
            await answer(pilot, "g", lambda m: m == "Light tone off.")
            app.tone_player = [sys.executable, "-c", CHECK_WAV]  # "plays" by reading the WAV through
            await answer(pilot, "g", lambda m: m == "Light tone on: the higher the tone, the more light.")
            assert await until(pilot, lambda: app.light_tone is not None and app.light_tone.played >= 2)
            await answer(pilot, "g", lambda m: m == "Light tone off.")
            palette = {c.title for c in app.get_system_commands(app.screen)}
            assert {"Colour in view", "Light level", "Light tone on or off"} <= palette
            await pilot.press("q")

    asyncio.run(drive())
