"""The Textual app driven by Pilot: a real video as the camera, a real store, the bundled captioner."""

import asyncio
import tomllib

import pytest

from assistant.app import SeesayApp
from assistant.camera import Camera
from assistant.indexer import index_paths
from assistant.messages import Announce
from assistant.runtime import Runtime
from assistant.screens import AttentionScreen, SettingsScreen
from assistant.settings import Settings, settings_path
from assistant.speech import Speaker
from store import Store


@pytest.fixture(scope="module")
def photo_store(tmp_path_factory, flickr_records, default_describer):
    """A real index of six Flickr8k test photos, described by the bundled model."""
    path = tmp_path_factory.mktemp("store") / "index.sqlite"
    photos = [r.path for r in flickr_records if r.split == "test"][:6]
    with Store(path) as store:
        report = index_paths(store, default_describer, photos)
    return path, report.added


async def _until(pilot, condition, seconds=30.0):
    for _ in range(int(seconds / 0.1)):
        if condition():
            return True
        await pilot.pause(0.1)
    return condition()


def status(app) -> str:
    return str(app.query_one("#status").render())


def fits(widget, app) -> bool:
    """Whether a widget lies wholly on the screen (its content may scroll inside it)."""
    r = widget.region
    return r.width > 0 and r.height > 0 and r.x >= 0 and r.y >= 0 and r.right <= app.size.width \
        and r.bottom <= app.size.height


def test_the_app_describes_the_camera_and_its_keys_do_what_the_footer_says(two_scene_video, photo_store):
    video, _ = two_scene_video
    db, indexed = photo_store
    speaker = Speaker(player=None)  # real speech engine; no sound card here, so nothing is played
    runtime = Runtime.of(Settings(min_interval=0.0), video=str(video), db=str(db))
    app = SeesayApp(runtime, speaker=speaker, camera=Camera(str(video), loop=True), semantic=False)

    async def drive():
        async with app.run_test(size=(120, 40)) as pilot:
            # A description of the video appears on screen and is spoken. The looping video may be described
            # again at any moment, so what is checked is the newest description, in one look (issue 28).
            caption = lambda: str(app.query_one("#caption").render())
            assert await _until(pilot, lambda: app.descriptions and app.descriptions[-1].said in caption()
                                and "confidence" in caption() and speaker.last_text == app.descriptions[-1].said)
            footer_keys = {b.key for b in app.BINDINGS if b.show}
            assert {"d", "r", "m", "slash", "p", "t", "l", "s", "q", "c", "b", "g"} <= footer_keys
            palette = {c.title: c.callback for c in app.get_system_commands(app.screen)}
            assert palette["Describe now"] == app.action_describe and palette["Settings"] == app.action_settings
            assert {"Repeat last", "Mute or unmute speech", "Pause or resume live", "Search photos"} <= set(palette)

            await pilot.press("p")
            assert app.live.paused and "paused" in status(app)
            before = len(app.descriptions)
            await pilot.press("d")  # describe now works while paused
            assert await _until(pilot, lambda: len(app.descriptions) == before + 1)
            assert await _until(pilot, lambda: not app.live.busy)  # nothing more comes while paused
            await pilot.pause(0.2)
            assert len(app.query_one("#history").children) == len(app.descriptions)

            history = app.query_one("#history")
            app.set_focus(None)
            await pilot.pause(0.1)
            history.focus()
            n = len(app.descriptions)
            assert await _until(pilot, lambda: f"History, {n} items" in app.messages[-2:])  # where the keyboard is
            said = lambda: app._selected_description().said
            for _ in range(2):
                await pilot.press("down")
                assert await _until(pilot, lambda: speaker.last_text == said())
                item = str(history.highlighted_child.query_one("Label").render())
                assert item.endswith(speaker.last_text)
            await pilot.press("enter")  # say again
            assert await _until(pilot, lambda: app.messages[-1] == app.messages[-2] == said())
            # Everything said is also readable, in order: focus, the items under the arrow keys, "say again".
            said = app.messages[-4:]
            assert said[0] == f"History, {n} items" and said[3] == said[2]
            assert app.query_one("#log").texts == app.messages

            footer = lambda: {b.binding.description for b in app.active_bindings.values()}
            await pilot.press("m")
            assert speaker.voice.muted and status(app) == "Speech muted; m unmutes."
            assert await _until(pilot, lambda: "Unmute" in footer() and "Mute" not in footer())
            await pilot.press("m")
            assert not speaker.voice.muted and status(app) == "Speech on."
            assert await _until(pilot, lambda: "Mute" in footer() and "Unmute" not in footer())
            await pilot.press("r")  # the last answer: the history item said again
            assert status(app) == f"Repeating: {said[3]}" and speaker.last_text == said[3]

            await pilot.press("a")
            assert isinstance(app.screen, AttentionScreen)
            words = app._selected_description().caption.words  # the map of the item chosen in the history
            await pilot.press("right")
            assert str(app.screen.query_one("#attention-word").render()) == f"Word 2 of {len(words)}: {words[1]}"
            await pilot.press("escape")
            assert not isinstance(app.screen, AttentionScreen)
            await pilot.resize_terminal(80, 24)
            await pilot.press("a")
            await pilot.pause(0.2)
            assert fits(app.screen.query_one("#attention"), app)  # the map shrinks to fit a small terminal
            await pilot.press("escape")
            await pilot.resize_terminal(120, 40)

            await pilot.press("slash")
            assert app.focused is app.query_one("#search")
            word = next(w for w in indexed[0][1].caption.words if len(w) > 3)  # a word from a stored caption
            await pilot.press(*word, "enter")
            results = app.query_one("#results")
            assert await _until(pilot, lambda: len(results.children) > 0)
            assert any(str(indexed[0][0]) in item.text for item in results.children)  # full paths, to open
            assert f"{len(results.children)} photo" in status(app) and "found for" in status(app)
            await pilot.press("escape")
            await pilot.press("slash", *'") OR 1=1 -- NEAR(', "enter")  # a hostile query is only text
            title = lambda: str(results.border_title)
            assert await _until(pilot, lambda: "for '" in title() and "NEAR" in title())
            await pilot.press("escape")

            await pilot.press("s")
            assert isinstance(app.screen, SettingsScreen)
            rate = app.screen.query_one("#rate")
            rate.value = "220"
            await pilot.press("ctrl+s")
            assert not isinstance(app.screen, SettingsScreen)
            assert await _until(pilot, lambda: "Settings saved" in status(app))
            assert speaker.voice.rate == 220
            assert tomllib.loads(settings_path().read_text())["rate"] == 220

            await pilot.press("q")
        return app.return_code

    try:
        assert asyncio.run(drive()) in (0, None)
    finally:
        settings_path().unlink(missing_ok=True)
    assert app.live.ended.is_set() or not app.live._camera._thread.is_alive()  # quitting stopped the camera


def test_the_app_starts_and_says_so_without_camera_model_or_index(tmp_path):
    (tmp_path / "broken.sqlite").write_bytes(b"this is not a database" * 100)
    speaker = Speaker(player=None)
    runtime = Runtime.of(Settings(), no_camera=True, db=str(tmp_path / "broken.sqlite"), model=str(tmp_path / "missing.pt"))
    app = SeesayApp(runtime, speaker=speaker, semantic=False)

    async def drive():
        async with app.run_test() as pilot:
            assert await _until(pilot, lambda: "No captions" in status(app))
            assert "missing.pt" in status(app)
            assert any(m.startswith("The photo index cannot be opened") for m in app.messages)
            await pilot.press("d")
            assert status(app).startswith("No camera. To describe one, start seesay with --camera N")
            await pilot.press("slash", *"dog", "enter")
            assert status(app) == "There is no photo index to search."
            await pilot.press("q")

    asyncio.run(drive())


def _quick_app(tmp_path, **args):
    """The app without a camera and without a model (it says so), which starts in a second."""
    runtime = Runtime.of(Settings(), no_camera=True, db=str(tmp_path / "index.sqlite"),
                         model=str(tmp_path / "missing.pt"), **args)
    return SeesayApp(runtime, speaker=Speaker(player=None), semantic=False)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_every_footer_key_is_on_screen_and_every_action_in_the_menu(tmp_path, size):
    from textual.widgets._footer import FooterKey

    app = _quick_app(tmp_path)

    async def drive():
        async with app.run_test(size=size) as pilot:
            assert await _until(pilot, lambda: len(app.query(FooterKey)) >= 10)
            await pilot.pause(0.3)
            shown = {k.key: k for k in app.query(FooterKey)}
            for binding in app.BINDINGS:
                if binding.show:
                    assert binding.key in shown and fits(shown[binding.key], app), binding
            assert "ctrl+p" in shown and fits(shown["ctrl+p"], app)  # the menu lists every action
            palette = {c.title for c in app.get_system_commands(app.screen)}
            assert {title for _, title, _ in app.COMMANDS_HELP} <= palette
            assert fits(app.query_one("#preview"), app) and app.query_one("#preview").region.height >= 4
            assert not app.query_one("#results").display  # no empty results box before a search
            await pilot.press("q")

    asyncio.run(drive())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_the_settings_dialog_fits_and_changes_camera_folders_and_index(tmp_path, size):
    folder = tmp_path / "photos"
    folder.mkdir()
    app = _quick_app(tmp_path)

    async def drive():
        async with app.run_test(size=size) as pilot:
            await pilot.press("s")
            await pilot.pause(0.2)
            dialog = app.screen.query_one("#settings")
            assert fits(dialog, app)
            assert dialog.virtual_size.height <= dialog.region.height or dialog.allow_vertical_scroll
            assert str(app.screen.query_one("#speech-state").render()) == "on"
            rate, volume = app.screen.query_one("#rate"), app.screen.query_one("#volume")
            rate.focus()
            assert await _until(pilot, lambda: rate.has_focus)
            # The focused field stands out (issue 28: it differed from the rest by one grey step).
            assert await _until(pilot, lambda: rate.styles.background != volume.styles.background
                                and rate.styles.text_style.bold and not volume.styles.text_style.bold)
            app.screen.query_one("#speech").focus()
            await pilot.press("space")  # the focused speech switch
            assert str(app.screen.query_one("#speech-state").render()) == "off"
            app.screen.query_one("#camera").value = "2"
            app.screen.query_one("#watch").text = str(folder)
            app.screen.query_one("#db").value = str(tmp_path / "other.sqlite")
            await pilot.press("ctrl+s")
            assert await _until(pilot, lambda: "No folders" in " ".join(app.messages)
                                or "Watching" in " ".join(app.messages), 10)
            await pilot.press("q")

    try:
        asyncio.run(drive())
        saved = tomllib.loads(settings_path().read_text())
        assert saved["camera"] == 2 and saved["watch"] == [str(folder)] and saved["speech"] is False
        assert saved["db"] == str(tmp_path / "other.sqlite")
        assert app.runtime.db_path == tmp_path / "index.sqlite"  # the command line's --db still wins
        assert any("Camera 2 is saved for next time" in m for m in app.messages)  # --no-camera was given
    finally:
        settings_path().unlink(missing_ok=True)


def test_the_log_keeps_problems_that_the_status_line_replaces(tmp_path):
    app = _quick_app(tmp_path)

    async def drive():
        async with app.run_test(size=(80, 24)) as pilot:
            assert await _until(pilot, lambda: "No captions" in status(app))
            app.post_message(Announce("No audio player was found; descriptions are shown as text only.",
                                      problem=True, speak=False))
            await pilot.pause(0.1)
            await pilot.press("tab", "tab")  # focus moves on and is announced
            await pilot.pause(0.5)
            notice = str(app.query_one("#notice").render())
            assert "No audio player" in notice  # still on screen after later announcements
            assert app.messages[-1].startswith("Search box")  # tab went history -> log -> search box
            await pilot.press("escape", "l")
            await pilot.pause(0.1)
            assert app.messages[-1].startswith("Announcements log,")
            assert app.query_one("#log").texts == app.messages
            await pilot.press("q")

    asyncio.run(drive())


def test_no_third_party_line_reaches_the_terminal_while_the_app_runs_without_its_camera(tmp_path):
    """The real command in a real 80x24 terminal (a pty) with camera 63, which is not there."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "SEESAY_CONFIG": str(tmp_path / "settings.toml"), "TERM": "xterm-256color"}
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "app", "--camera", "63", "--db",
                             str(tmp_path / "index.sqlite"), "--model", str(tmp_path / "missing.pt")],
                            stdin=child, stdout=child, stderr=child, env=env, close_fds=True)
    os.close(child)
    out, start, sent = b"", time.monotonic(), False
    try:
        while time.monotonic() < start + 40 and proc.poll() is None:
            if select.select([main], [], [], 0.2)[0]:
                try:
                    out += os.read(main, 65536)
                except OSError:
                    break
            if not sent and time.monotonic() > start + 10:  # the camera is tried at about 0, 1, 3 and 8 s
                os.write(main, b"q")
                sent = True
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        os.close(main)
    assert sent and proc.returncode == 0, out[-2000:]
    text = out.decode(errors="replace")
    assert "seesay" in text and "Quit" in text  # the app was drawn
    for leak in ("WARN", "VIDEOIO", "cap_v4l", "Traceback", "[ERROR"):
        assert leak not in text, text[text.find(leak) - 200:text.find(leak) + 200]


def test_t_reads_the_text_in_the_camera_view_aloud_and_in_the_log(tmp_path):
    from PIL import Image, ImageDraw, ImageFont

    from .conftest import write_photo_video

    sign = tmp_path / "sign.png"
    image = Image.new("RGB", (640, 480), "white")
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 64)
    ImageDraw.Draw(image).text((60, 180), "PLATFORM 4", font=font, fill="black")
    image.save(sign)
    video = write_photo_video(tmp_path / "sign.avi", [sign], seconds_each=3.0)
    runtime = Runtime.of(Settings(), video=str(video), db=str(tmp_path / "index.sqlite"),
                         model=str(tmp_path / "missing.pt"))
    app = SeesayApp(runtime, speaker=Speaker(player=None), semantic=False)

    async def drive():
        async with app.run_test(size=(80, 24)) as pilot:
            assert await _until(pilot, lambda: app.live is not None and app.live.latest() is not None)
            await pilot.press("t")
            assert await _until(pilot, lambda: "It says, in 1 line:" in app.messages, 60), app.messages
            assert await _until(pilot, lambda: app.messages[-1].upper() == "PLATFORM 4")  # each line on its own
            await pilot.press("q")

    asyncio.run(drive())
