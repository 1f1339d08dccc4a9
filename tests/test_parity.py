"""One settings file and the same photos: every way into seesay says and stores the same (issue 25).

The settings file turns text reading on (for photos and for live frames), sets beam 1 (which the compiled
ONNX graphs cannot run: every way in must fall back to the PyTorch engine) and another voice. The photos
are real Flickr8k test photos, one with a sign drawn on it, as lossless PNGs, and the live video shows the
sign photo in a lossless FFV1 video, so that a camera frame holds the very pixels of the photo file.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from assistant.app import SeesayApp
from assistant.runtime import Runtime
from assistant.screens import SettingsScreen
from assistant.settings import RANGES
from assistant.speech import Speaker

SETTINGS = 'read_text = true\nlive_text = true\nbeam_size = 1\nvoice = "en-gb"\nspeech = false\n'
PHOTOS = ("scene.png", "sign.png")


def _seesay(*args: str, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def parity(tmp_path_factory, flickr_records):
    """(root, the photo folder, the environment naming the settings file, the sign's video)."""
    import cv2

    root = tmp_path_factory.mktemp("parity")
    photos = root / "photos"
    photos.mkdir()
    test = [r for r in flickr_records if r.split == "test"]
    Image.open(test[0].path).convert("RGB").save(photos / "scene.png")
    sign = Image.open(test[2].path).convert("RGB")
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 36)
    draw = ImageDraw.Draw(sign)
    draw.rectangle((10, 60, sign.width - 10, 150), fill="white")
    draw.text((24, 82), "EXIT 12", font=font, fill="black")
    sign.save(photos / "sign.png")
    video = root / "sign.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 10, sign.size)
    for _ in range(20):
        writer.write(cv2.imread(str(photos / "sign.png")))
    writer.release()
    config = root / "settings.toml"
    config.write_text(SETTINGS)
    return root, photos, {**os.environ, "SEESAY_CONFIG": str(config), "SEESAY_DB": str(root / "unused.sqlite")}, video


def _stored(db: Path) -> dict[str, tuple[str, str, bool]]:
    """photo name -> (sentence, text read, has an embedding), as the index holds them."""
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT f.path, c.sentence, c.reading, c.embedding IS NOT NULL FROM files f "
                         "JOIN captions c ON c.photo_id = f.photo_id").fetchall()
    return {Path(p).name: (s, r, bool(e)) for p, s, r, e in rows}


def _watched(photos: Path, db: Path, env: dict, timeout: float = 300) -> dict:
    """What `seesay watch` stores, once it has said every photo (then Ctrl-C)."""
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "watch", str(photos), "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    said, deadline = set(), time.monotonic() + timeout
    try:
        while said != set(PHOTOS) and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            said |= {name for name in PHOTOS if f"/{name}\t" in line}
        assert said == set(PHOTOS), proc.stderr.read() if proc.poll() is not None else said
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    return _stored(db)


def _app_watched(photos: Path, db: Path) -> dict:
    """What the app's folder watcher stores, the runtime built from the same settings file."""
    runtime = Runtime.load(no_camera=True, db=str(db), watch=[str(photos)])
    assert runtime.speaker().voice.voice == "en-gb"  # the file's voice reaches the app's speaker
    app = SeesayApp(runtime, speaker=Speaker(player=None), semantic=False)

    async def drive():
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(3000):
                if len([d for d in app.descriptions if d.image is None]) == len(PHOTOS):
                    break
                await pilot.pause(0.1)
            await pilot.press("q")

    asyncio.run(drive())
    return _stored(db)


def test_every_way_in_says_and_stores_the_same_with_one_settings_file(parity, monkeypatch):
    root, photos, env, video = parity
    monkeypatch.setenv("SEESAY_CONFIG", env["SEESAY_CONFIG"])
    captioned = _seesay("caption", "--json", *(str(photos / n) for n in PHOTOS), env=env)
    assert captioned.returncode == 0, captioned.stderr
    said = {Path(d["path"]).name: (d["sentence"], "\n".join(d["text"])) for d in map(json.loads,
                                                                                  captioned.stdout.splitlines())}
    assert "EXIT 12" in said["sign.png"][1] and "It says: EXIT 12" in said["sign.png"][0]  # reading is on
    expected = {name: (sentence, text, True) for name, (sentence, text) in said.items()}

    indexed = _seesay("index", str(photos), "--db", str(root / "index.sqlite"), "--quiet", env=env)
    assert indexed.returncode == 0, indexed.stderr
    assert _stored(root / "index.sqlite") == expected
    assert _watched(photos, root / "watch.sqlite", env) == expected
    assert _app_watched(photos, root / "app.sqlite") == expected

    live = _seesay("live", "--video", str(video), env=env)
    described = [line.split("\t") for line in live.stdout.splitlines() if "sign.avi\t" in line]
    assert live.returncode == 0 and described, live.stdout + live.stderr
    assert described[0][2] == said["sign.png"][0]  # the first description of a view is its sentence


def test_the_app_survives_every_value_its_settings_dialog_accepts(parity, monkeypatch):
    """Each number field at each end of its range (assistant/settings.RANGES), saved as the dialog saves it;
    after each the app still describes what is in view, on the engine that beam size allows."""
    root, _, _, video = parity
    monkeypatch.setenv("SEESAY_CONFIG", str(root / "dialog.toml"))
    runtime = Runtime.load(video=str(video), db=str(root / "dialog.sqlite"))
    app = SeesayApp(runtime, speaker=Speaker(player=None), semantic=False)
    numbers = [key for key, _ in SettingsScreen.FIELDS if key in RANGES]
    assert {"beam_size", "rate", "volume", "scene_threshold"} <= set(numbers)

    async def described(pilot, count: int) -> bool:
        for _ in range(1200):
            if len(app.descriptions) > count:
                return True
            await pilot.pause(0.1)
        return False

    async def drive():
        async with app.run_test(size=(100, 30)) as pilot:
            assert await described(pilot, 0), app.messages
            for key in numbers:
                for end in RANGES[key]:
                    value = type(getattr(app.settings, key))(end)
                    app._settings_closed(replace(app.settings, **{key: value}))
                    await app.workers.wait_for_complete()
                    count = len(app.descriptions)
                    await pilot.press("d")
                    assert await described(pilot, count), (key, value, app.messages[-3:])
            problems = [m for m in app.messages if "Could not describe" in m or "compiled search" in m]
            assert not problems, problems
            await pilot.press("q")

    asyncio.run(drive())
