"""Watched folders with real photos, a real SQLite index and the bundled captioner."""

import shutil
import subprocess
import sys
import time

import skimage.data
from PIL import Image

from assistant.watcher import FolderWatcher
from store import Store

from .conftest import write_photo_video


def _wait(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def test_watched_folder_describes_good_photos_once_and_skips_bad_ones(tmp_path, flickr_records, default_describer):
    photos = [r.path for r in flickr_records if r.split == "test"][:3]
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(photos[0], folder / "taken_yesterday.jpg")  # there before the watch starts: the catch-up scan
    described, messages = [], []
    with Store(tmp_path / "index.sqlite") as store:
        watcher = FolderWatcher(store, default_describer, [folder], on_description=described.append,
                                on_status=messages.append, settle=0.5).start()
        try:
            assert watcher.ready.wait(60)
            data = photos[1].read_bytes()
            with open(folder / "copied_slowly.jpg", "wb") as f:  # a photo still being written
                for start in range(0, len(data), len(data) // 4 + 1):
                    f.write(data[start : start + len(data) // 4 + 1])
                    f.flush()
                    time.sleep(0.4)
            (folder / "damaged.jpg").write_bytes(data[:300])  # a truncated JPEG
            shutil.copy(photos[2], folder / ".hidden.jpg")
            (folder / ".thumbnails").mkdir()
            shutil.copy(photos[2], folder / ".thumbnails" / "thumb.jpg")
            shutil.copy(photos[2], folder / "download.jpg.part")
            (folder / "notes.txt").write_text("not a photo")
            assert _wait(lambda: len(described) == 2 and watcher.failed)
            shutil.copy(photos[1], folder / "same_photo_new_name.jpg")  # already indexed under another name
            time.sleep(2.0)
        finally:
            watcher.stop()
        counts = store.counts()
        paths = {row["path"] for row in store.export_rows()}
    assert [d.source for d in described] == [str(folder / "taken_yesterday.jpg"), str(folder / "copied_slowly.jpg")]
    assert counts["photos"] == 2 and counts["captions"] == 2 and counts["failures"] == 1
    # The copy is a second file of the same photo: found under both names, described once.
    assert paths == {str(folder / n) for n in ("taken_yesterday.jpg", "copied_slowly.jpg", "same_photo_new_name.jpg")}
    assert [p for p, _ in watcher.failed] == [str(folder / "damaged.jpg")]
    assert any("damaged.jpg" in m for m in messages)
    # The slow copy was read only once complete: its description is that of the whole photo.
    assert described[1].sentence == default_describer.describe([photos[1]])[0].sentence


def test_the_index_of_a_watched_folder_follows_deletions_overwrites_and_copies(tmp_path, flickr_records,
                                                                               default_describer):
    photos = [r.path for r in flickr_records if r.split == "test"][:3]
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, p in enumerate(photos[:2]):
        shutil.copy(p, folder / f"{i}.jpg")
    messages = []
    with Store(tmp_path / "index.sqlite") as store:
        watcher = FolderWatcher(store, default_describer, [folder], on_status=messages.append, settle=0.3).start()
        try:
            assert watcher.ready.wait(60) and store.counts()["files"] == 2
            (folder / "0.jpg").unlink()  # deleted
            shutil.copy(photos[2], folder / "1.jpg")  # overwritten with another photo
            shutil.copy(photos[2], folder / "copy.jpg")  # and copied
            expected = {str(folder / "1.jpg"), str(folder / "copy.jpg")}
            assert _wait(lambda: {r["path"] for r in store.export_rows()} == expected, 60), store.export_rows()
        finally:
            watcher.stop()
        now = default_describer.describe([photos[2]])[0]
        rows = store.export_rows()
        assert {r["sentence"] for r in rows} == {now.sentence}  # current descriptions only
        assert store.counts()["photos"] == 1
        found = {h.path for h in store.text_search(now.caption.text.split()[-1])}
        assert found == expected
    assert any("forgotten" in m for m in messages)


def test_seesay_live_prints_one_line_per_scene_of_a_video(tmp_path):
    photos = []
    for name in ("chelsea", "coffee"):  # scikit-image's cat and cup of coffee: two different things to say
        photos.append(tmp_path / f"{name}.png")
        Image.fromarray(getattr(skimage.data, name)()).save(photos[-1])
    # Each scene is in view for a few seconds, longer than the two between automatic descriptions.
    video = write_photo_video(tmp_path / "scenes.avi", photos, seconds_each=4.0)
    run = subprocess.run([sys.executable, "-m", "assistant", "live", "--video", str(video)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [line.split("\t") for line in run.stdout.splitlines()]
    descriptions = [parts for parts in lines if parts[1] == str(video)]
    assert [parts[2] for parts in descriptions] == [  # a change is told as what came and what left
        "A cat close in front of you.", "Now: a cup of coffee close in front of you. No longer in view: a cat."], run.stdout
    assert all("confidence" in parts[3] for parts in descriptions)
    assert lines[-1][1:] == ["status", f"{video} ended."]


def test_seesay_watch_runs_headless_and_indexes_what_arrives(tmp_path, flickr_records):
    folder = tmp_path / "incoming"
    folder.mkdir()
    photo = next(r.path for r in flickr_records if r.split == "test")
    shutil.copy(photo, folder / "a.jpg")
    db = tmp_path / "index.sqlite"
    run = subprocess.run([sys.executable, "-m", "assistant", "watch", str(folder), "--db", str(db), "--seconds", "3",
                          "--no-embeddings"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert str(folder / "a.jpg") in run.stdout
    with Store(db) as store:
        assert store.counts()["captions"] == 1
