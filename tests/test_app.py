"""The Textual app driven by Pilot: a real video as the camera, a real store, the bundled captioner."""

import asyncio
import tomllib

import pytest

from assistant.app import AttentionScreen, SeesayApp, SettingsScreen
from assistant.indexer import index_files
from assistant.settings import Settings, settings_path
from assistant.speech import Speaker
from store import Store


@pytest.fixture(scope="module")
def photo_store(tmp_path_factory, flickr_records, default_captioner):
    """A real index of six Flickr8k test photos, captioned by the bundled model."""
    path = tmp_path_factory.mktemp("store") / "index.sqlite"
    photos = [r.path for r in flickr_records if r.split == "test"][:6]
    with Store(path) as store:
        report = index_files(store, default_captioner, photos)
    return path, report.added


async def _until(pilot, condition, seconds=30.0):
    for _ in range(int(seconds / 0.1)):
        if condition():
            return True
        await pilot.pause(0.1)
    return condition()


def status(app) -> str:
    return str(app.query_one("#status").render())


def test_the_app_describes_the_camera_and_its_keys_do_what_the_footer_says(two_scene_video, photo_store):
    video, _ = two_scene_video
    db, indexed = photo_store
    speaker = Speaker(player=None)  # real speech engine; no sound card here, so nothing is played
    app = SeesayApp(source=str(video), db=db, settings=Settings(min_interval=0.0), speaker=speaker, semantic=False)

    async def drive():
        async with app.run_test(size=(120, 40)) as pilot:
            assert await _until(pilot, lambda: app.descriptions)  # a description of the video appears
            caption = str(app.query_one("#caption").render())
            assert app.descriptions[0].sentence in caption and "confidence" in caption
            assert speaker.last_text == app.descriptions[0].sentence  # ... and is spoken
            footer_keys = {b.key for b in app.BINDINGS if b.show}
            assert {"d", "r", "m", "slash", "p", "a", "s", "q"} <= footer_keys

            await pilot.press("p")
            assert app.describer.paused and "paused" in status(app)
            before = len(app.descriptions)
            await pilot.press("d")  # describe now works while paused
            assert await _until(pilot, lambda: len(app.descriptions) == before + 1)
            assert len(app.query_one("#history").children) == len(app.descriptions)

            history = app.query_one("#history")
            app.set_focus(None)
            await pilot.pause(0.1)
            history.focus()
            await pilot.pause(0.1)
            assert speaker.last_text == f"History, {len(app.descriptions)} items"  # where the keyboard is
            for _ in range(2):
                await pilot.press("down")
                item = str(history.highlighted_child.query_one("Label").render())
                assert speaker.last_text == " ".join(item.split()) and item.endswith(app._selected_description().sentence)

            await pilot.press("m")
            assert speaker.voice.muted and status(app) == "Speech muted."
            await pilot.press("m")
            assert not speaker.voice.muted and status(app) == "Speech on."
            await pilot.press("r")
            assert status(app).startswith("Repeating: ")

            await pilot.press("a")
            assert isinstance(app.screen, AttentionScreen)
            words = app.descriptions[-1].caption.words
            await pilot.press("right")
            assert str(app.screen.query_one("#attention-word").render()) == f"Word 2 of {len(words)}: {words[1]}"
            await pilot.press("escape")
            assert not isinstance(app.screen, AttentionScreen)

            await pilot.press("slash")
            assert app.focused is app.query_one("#search")
            word = next(w for w in indexed[0][1].words if len(w) > 3)  # a word from a stored caption
            await pilot.press(*word, "enter")
            results = app.query_one("#results")
            assert await _until(pilot, lambda: len(results.children) > 0)
            assert any(indexed[0][0].name in str(item.name) for item in results.children)
            assert f"{len(results.children)} photo" in status(app) and "found for" in status(app)
            await pilot.press("escape")
            await pilot.press("slash", *'") OR 1=1 -- NEAR(', "enter")  # a hostile query is only text
            assert await _until(pilot, lambda: "for '" in str(app.query_one("#results-title").render())
                                and "NEAR" in str(app.query_one("#results-title").render()))
            await pilot.press("escape")

            await pilot.press("s")
            assert isinstance(app.screen, SettingsScreen)
            rate = app.screen.query_one("#rate")
            rate.value = "220"
            await pilot.press("ctrl+s")
            assert not isinstance(app.screen, SettingsScreen)
            assert speaker.voice.rate == 220 and "Settings saved" in status(app)
            assert tomllib.loads(settings_path().read_text())["rate"] == 220

            await pilot.press("q")
        return app.return_code

    try:
        assert asyncio.run(drive()) in (0, None)
    finally:
        settings_path().unlink(missing_ok=True)
    assert not app.describer.camera._thread.is_alive()  # quitting stopped the camera


def test_the_app_starts_and_says_so_without_camera_model_or_index(tmp_path):
    (tmp_path / "broken.sqlite").write_bytes(b"this is not a database" * 100)
    speaker = Speaker(player=None)
    app = SeesayApp(source=None, db=tmp_path / "broken.sqlite", model=str(tmp_path / "missing.pt"),
                    settings=Settings(), speaker=speaker, semantic=False)

    async def drive():
        async with app.run_test() as pilot:
            assert await _until(pilot, lambda: "No captions" in status(app))
            assert "missing.pt" in status(app)
            assert any(m.startswith("The photo index cannot be opened") for m in app.messages)
            await pilot.press("d")
            assert status(app) == "No captioning model is available."
            await pilot.press("slash", *"dog", "enter")
            assert status(app) == "There is no photo index to search."
            await pilot.press("q")

    asyncio.run(drive())
