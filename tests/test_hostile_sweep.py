"""The second hostile sweep (issue 27): each case that crashed, lost or kept stale rows, or said something
wrong, reproduced on real photos, real SQLite files and the real `seesay` processes, each with a timeout.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import store.database
from assistant.indexer import index_folders
from assistant.settings import RANGES, Settings, load_settings, save_settings
from assistant.watcher import FolderWatcher
from model.images import load_image, tone
from store import Store, StoreError

TIMEOUT = 240


def _run(*args: str, tmp_path: Path, stdout=subprocess.PIPE, prefix: tuple[str, ...] = ()):
    env = {**os.environ, "SEESAY_DB": str(tmp_path / "index.sqlite"), "SEESAY_CONFIG": str(tmp_path / "s.toml")}
    return subprocess.run([*prefix, sys.executable, "-m", "assistant", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, env=env, timeout=TIMEOUT, errors="replace")


def _one_clear_line(run: subprocess.CompletedProcess, *, code: int = 2) -> str:
    """The one line a refused input gets: no traceback, no signal, the expected exit status."""
    assert run.returncode == code, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("seesay")]
    assert len(lines) == 1, run.stderr
    return lines[0]


def _wait(condition, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def _paths(db: Path) -> set[str]:
    with sqlite3.connect(db) as con:
        return {r[0] for r in con.execute("SELECT path FROM files")}


@pytest.fixture(scope="module")
def photos(flickr_records) -> list[Path]:
    return [r.path for r in flickr_records if r.split == "test"][:4]


# --- options: one table of ranges for the settings file and the command line -------------------------------


@pytest.mark.parametrize("args, words", [
    (("live", "--camera", "-1"), "--camera: must be from 0 to 63"),  # was SIGSEGV in VideoCapture(-1)
    (("app", "--camera", "-1"), "--camera: must be from 0 to 63"),  # and left the terminal in mouse mode
    (("live", "--camera", "2147483648"), "--camera: must be from 0 to 63"),  # killed the camera thread
    (("caption", "x.jpg", "--beam", "100000"), "--beam: must be from 1 to 10"),  # 24 GB, killed by the kernel
    (("search", "dog", "--limit", "99999999999999999999"), "--limit: must be from 1 to 10000"),
    (("watch", ".", "--seconds", "inf"), "--seconds: must be a finite number"),
    (("watch", ".", "--seconds", "nan"), "--seconds: must be a finite number"),  # exited at once
    (("watch", ".", "--settle", "nan"), "--settle: must be a finite number"),  # never indexed anything
    (("caption", "x.jpg", "--device", "bogus"), "--device: expected cpu, cuda or cuda:N"),
    (("caption", "x.jpg", "--device", "meta"), "--device: expected cpu, cuda or cuda:N"),
    (("say", "hi", "--to", ""), "--to: expected a file name"),  # tried to play
    (("say", "hi", "--rate", "5"), "--rate: must be from 80 to 450"),
    (("export", "-o", ""), "--output/-o: expected a file name"),
])
def test_options_out_of_range_are_refused_with_one_line_before_anything_starts(args, words, tmp_path):
    run = _run(*args, tmp_path=tmp_path)
    assert words in _one_clear_line(run), run.stderr


def test_the_command_line_and_the_settings_file_refuse_the_same_camera_and_beam(tmp_path):
    config = tmp_path / "s.toml"
    config.write_text("camera = -1\nbeam_size = 100000\n")
    settings, warnings = load_settings(config)
    assert settings == Settings() and len(warnings) == 2
    assert "must be from 0 to 63" in warnings[0] and "must be from 1 to 10" in warnings[1]
    assert RANGES["camera"] == (0, 63) and RANGES["beam_size"] == (1, 10)
    top = _run("live", "--camera", str(RANGES["camera"][1] + 1), tmp_path=tmp_path)
    assert "must be from 0 to 63" in _one_clear_line(top)


def test_a_gpu_that_is_not_there_is_one_line(tmp_path, photos):
    run = _run("caption", str(photos[0]), "--no-text", "--device", "cuda:99", tmp_path=tmp_path)
    assert "cuda:99" in _one_clear_line(run)


def test_text_of_only_invisible_characters_is_not_said(tmp_path):
    run = _run("say", "\u200b\u200b \u2060", "--to", str(tmp_path / "silent.wav"), tmp_path=tmp_path)
    assert "nothing to say" in _one_clear_line(run)
    assert not (tmp_path / "silent.wav").exists()


# --- paths and output --------------------------------------------------------------------------------------


def test_output_to_a_full_disk_or_a_closed_pipe_is_one_line_and_a_non_zero_exit(tmp_path, photos):
    Store(tmp_path / "index.sqlite").close()  # an empty index: export writes "[]"
    with open("/dev/full", "w") as full:
        for args in [("export",), ("caption", str(photos[0]), "--no-text")]:
            run = _run(*args, tmp_path=tmp_path, stdout=full)
            assert "No space left on device" in _one_clear_line(run, code=1), (args, run.stderr)
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first byte: `export | head -0`
    try:
        run = _run("export", tmp_path=tmp_path, stdout=write)
    finally:
        os.close(write)
    assert "closed" in _one_clear_line(run, code=1)


def test_export_to_dash_writes_standard_output(tmp_path):
    Store(tmp_path / "index.sqlite").close()
    run = _run("export", "-o", "-", tmp_path=tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stderr
    assert not (Path.cwd() / "-").exists()


def test_an_attention_dir_that_cannot_be_written_is_one_line(tmp_path, photos):
    for target in ["/dev/full", str(photos[0])]:
        run = _run("caption", str(photos[0]), "--no-text", "--attention-dir", target, tmp_path=tmp_path)
        assert "--attention-dir" in _one_clear_line(run), run.stderr


def test_a_db_name_with_a_percent_escape_is_that_file_and_a_nul_is_refused(tmp_path):
    odd = tmp_path / "a%20b.sqlite"
    with Store(odd):
        pass
    assert odd.is_file() and not (tmp_path / "a b.sqlite").exists()
    with Store(odd, writable=False, create=False) as again:
        assert again.counts()["files"] == 0
    with pytest.raises(StoreError, match="NUL"):
        Store(tmp_path / "a\0b.sqlite")


# --- settings written back -----------------------------------------------------------------------------------


def test_a_control_character_survives_the_settings_round_trip(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('voice = "en\\u0007\\u001b[31m"\nrate = 200\n')  # valid TOML: the escapes are text
    loaded, warnings = load_settings(path)
    assert loaded.voice == "en\a\x1b[31m" and not warnings
    save_settings(loaded, path)  # what the app's settings screen does with a loaded value
    assert load_settings(path) == (loaded, [])  # before: "Illegal character", every setting lost


def test_a_settings_file_nested_too_deep_is_kept_aside_and_the_defaults_used(tmp_path):
    path = tmp_path / "settings.toml"
    text = "a = " + "[" * 600 + "]" * 600 + "\n"
    path.write_text(text)
    settings, warnings = load_settings(path)
    assert settings == Settings() and "nested too deeply" in warnings[0]
    assert (tmp_path / "settings.toml.bad").read_text() == text
    with pytest.raises(ValueError, match="camera"):
        save_settings(Settings(camera=-1), path)
    assert path.read_text() == text  # a value the next start would refuse is never written


# --- sample formats --------------------------------------------------------------------------------------------


def test_16_bit_and_float_copies_of_a_photo_are_described_as_the_8_bit_photo(tmp_path, photos, default_describer):
    grey = np.asarray(Image.open(photos[1]).convert("L"))  # (H, W) uint8
    Image.fromarray(grey).save(tmp_path / "eight.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    Image.fromarray(grey.astype(np.float32) / 255).save(tmp_path / "float.tif")
    assert Image.open(tmp_path / "sixteen.png").mode.startswith("I") and Image.open(tmp_path / "float.tif").mode == "F"
    images = [load_image(tmp_path / n) for n in ("eight.png", "sixteen.png", "float.tif")]
    assert tone(images[0])[1] > 20  # a real photo, not one even shade
    assert tone(images[1]) == tone(images[0]) == tone(images[2])
    said = [d.sentence for d in default_describer.describe(images)]
    assert said[1] == said[0] == said[2], said
    assert "even shade" not in said[0] and "too dark" not in said[0]


# --- nothing lost ----------------------------------------------------------------------------------------------


def test_a_tall_1_by_65535_image_among_real_photos_is_indexed_with_them(tmp_path, photos):
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in photos[:2]:
        shutil.copy(p, folder)
    Image.new("RGB", (1, 65535), (200, 120, 40)).save(folder / "tall.png")  # rapidocr raised ResizeImgError
    run = _run("index", str(folder), "--no-embeddings", "--quiet", "--batch-size", "2", tmp_path=tmp_path)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert "tall.png: too narrow to hold readable text" in run.stderr
    assert _paths(tmp_path / "index.sqlite") == {str(folder / p.name) for p in photos[:2]} | {str(folder / "tall.png")}


class _Breaks:
    """The real describer, except that one photo (picked by its pixels) raises inside the model."""

    def __init__(self, describer, pixels: bytes):
        self.inner, self.pixels = describer, pixels
        self.captioner, self.reader = describer.captioner, None

    def describe(self, images, **kwargs):
        if any(image.tobytes() == self.pixels for image in images):
            raise RuntimeError("the model failed on this photo")
        return self.inner.describe(images, **kwargs)

    def detections(self, images):  # the indexer starts it ahead, on a thread of its own: it fails there too
        if any(image.tobytes() == self.pixels for image in images):
            raise RuntimeError("the detector failed on this photo")
        return self.inner.detections(images)


def test_a_photo_that_fails_in_the_model_fails_alone_and_the_forget_step_still_runs(tmp_path, photos,
                                                                                    default_describer):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(photos[0], folder)
    shutil.copy(photos[3], folder / "deleted.jpg")
    bad = load_image(photos[1]).tobytes()
    with Store(tmp_path / "index.sqlite") as db:
        index_folders(db, default_describer, [folder], batch_size=16)
        (folder / "deleted.jpg").unlink()
        shutil.copy(photos[1], folder)  # two new photos in one batch; the model fails on the first
        shutil.copy(photos[2], folder)
        report = index_folders(db, _Breaks(default_describer, bad), [folder], batch_size=16)
        assert [Path(p).name for p, _ in report.failed] == [photos[1].name]
        assert "could not be described (RuntimeError" in report.failed[0][1]
        assert [Path(p).name for p, _ in report.added] == [photos[2].name]  # the rest of the batch went on
        assert report.forgotten == 1  # and so did the forget step
        assert {r["path"] for r in db.export_rows()} == {str(folder / p.name) for p in (photos[0], photos[2])}
        assert [Path(p).name for p, _ in db.failures()] == [photos[1].name]  # recorded
        again = index_folders(db, default_describer, [folder], batch_size=16)  # tried again, though unchanged
        assert not again.failed and [Path(p).name for p, _ in again.added] == [photos[1].name]
        assert not db.failures()


class _DetectorBreaksAhead:
    """The real describer with the object detector, whose detector fails on one photo when the indexer runs it
    ahead of describing (on its own thread); describing itself works."""

    def __init__(self, describer, pixels: bytes):
        self.inner, self.pixels, self.ahead = describer, pixels, []
        self.captioner, self.reader = describer.captioner, None

    def detections(self, images):
        self.ahead.append(len(images))
        if any(image.tobytes() == self.pixels for image in images):
            raise RuntimeError("the detector failed on this photo")
        return self.inner.detections(images)

    def describe(self, images, **kwargs):
        return self.inner.describe(images, **kwargs)


def test_a_detector_failing_ahead_of_describing_loses_no_photo(tmp_path, photos, default_captioner):
    """The batch is described again photo by photo, each detected where it is described, and all are stored
    with what the describer says of them on its own."""
    from model.describing.describer import Describer
    from model.describing.detection import ObjectDetector

    describer = Describer.for_captioner(default_captioner, detector=ObjectDetector.default())
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in photos[:4]:
        shutil.copy(p, folder)
    breaks = _DetectorBreaksAhead(describer, load_image(photos[1]).tobytes())
    with Store(tmp_path / "index.sqlite") as db:
        report = index_folders(db, breaks, [folder], batch_size=16)
        assert breaks.ahead == [4] and not report.failed  # run ahead once, on the whole batch; nothing lost
        said = {Path(p).name: d.sentence for p, d in report.added}
        assert said == {p.name: d.sentence for p, d in zip(photos[:4], describer.describe(photos[:4]))}
        assert len(db.export_rows()) == 4


def test_the_index_deleted_mid_run_is_said_not_reported_as_saved(tmp_path, photos, default_describer):
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in photos[:3]:
        shutil.copy(p, folder)
    db_path = tmp_path / "index.sqlite"

    class DeletesTheIndex:
        captioner, reader, calls = default_describer.captioner, None, 0

        def describe(self, images, **kwargs):
            DeletesTheIndex.calls += 1
            if DeletesTheIndex.calls == 2:  # after the first photo was saved
                for f in tmp_path.glob("index.sqlite*"):
                    f.unlink()
            return default_describer.describe(images, **kwargs)

    with Store(db_path) as db, pytest.raises(StoreError, match="deleted or replaced"):
        index_folders(db, DeletesTheIndex(), [folder], batch_size=1)


def test_a_deleted_folder_can_be_forgotten(tmp_path, photos):
    gone = tmp_path / "gone"
    gone.mkdir()
    shutil.copy(photos[0], gone)
    assert _run("index", str(gone), "--no-embeddings", "--no-text", "--quiet", tmp_path=tmp_path).returncode == 0
    assert _paths(tmp_path / "index.sqlite")
    shutil.rmtree(gone)
    run = _run("index", str(gone), "--no-embeddings", "--no-text", "--quiet", tmp_path=tmp_path)
    assert run.returncode == 0 and "no longer exists: 1 photo" in run.stderr, run.stderr  # was "not a folder"
    assert not _paths(tmp_path / "index.sqlite")
    again = _run("index", str(gone), tmp_path=tmp_path)  # nothing held there any more: never a folder
    assert "not a folder" in _one_clear_line(again)


def test_forget_forgets_what_the_index_holds_in_a_folder_and_nothing_else(tmp_path, photos):
    for name, photo in (("kept", photos[0]), ("unwanted", photos[1])):
        (tmp_path / name).mkdir()
        shutil.copy(photo, tmp_path / name)
    run = _run("index", str(tmp_path / "kept"), str(tmp_path / "unwanted"), "--no-embeddings", "--no-text",
               "--quiet", tmp_path=tmp_path)
    assert run.returncode == 0 and len(_paths(tmp_path / "index.sqlite")) == 2, run.stderr
    forget = _run("forget", str(tmp_path / "unwanted"), tmp_path=tmp_path)
    assert forget.returncode == 0 and "1 photo forgotten" in forget.stdout, forget.stderr
    assert _paths(tmp_path / "index.sqlite") == {str(tmp_path / "kept" / photos[0].name)}


def _unprivileged() -> tuple[str, ...]:
    """A prefix that runs a command without root's power to read any folder: root keeps its uid (the Python
    under /root stays reachable) but loses CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, as a normal user has."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run as an unprivileged user"
    return (setpriv, "--bounding-set", "-dac_override,-dac_read_search")


def _deep_folder(top: Path, depth: int) -> Path:
    """A chain of folders whose path is longer than PATH_MAX (4096), made one level at a time."""
    name = "d" * 200
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)
    return top.joinpath(*[name] * depth)


def test_an_unreadable_folder_is_said_and_its_photos_are_kept(tmp_path, photos):
    folder = tmp_path / "photos"
    (folder / "locked").mkdir(parents=True)
    shutil.copy(photos[0], folder)
    shutil.copy(photos[1], folder / "locked")
    first = _run("index", str(folder), "--no-embeddings", "--no-text", "--quiet", tmp_path=tmp_path)
    assert first.returncode == 0 and len(_paths(tmp_path / "index.sqlite")) == 2, first.stderr
    deep = _deep_folder(folder, 21)
    assert len(str(deep)) > 4096
    (folder / "locked").chmod(0)
    try:
        run = _run("index", str(folder), "--no-embeddings", "--no-text", "--quiet", tmp_path=tmp_path,
                   prefix=_unprivileged())
    finally:
        (folder / "locked").chmod(0o755)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert f"skipping {folder / 'locked'}: folder not read (permission denied)" in run.stderr
    assert "name too long to open" in run.stderr  # was skipped without a word
    assert "0 gone and forgotten" in run.stdout  # was "2 gone and forgotten"
    assert _paths(tmp_path / "index.sqlite") == {str(folder / photos[0].name), str(folder / "locked" / photos[1].name)}


# --- the watcher --------------------------------------------------------------------------------------------


def test_photos_arriving_while_another_process_holds_the_lock_are_saved_once_it_is_released(
        tmp_path, photos, default_describer, monkeypatch):
    monkeypatch.setattr(store.database, "BUSY_TIMEOUT_MS", 200)  # the wait before "database is locked"
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(photos[0], folder)
    messages: list[str] = []
    with Store(tmp_path / "index.sqlite") as db:
        watcher = FolderWatcher(db, default_describer, [folder], on_status=messages.append, settle=0.2).start()
        assert watcher.ready.wait(TIMEOUT) and len(db.export_rows()) == 1
        locker = subprocess.Popen(
            [sys.executable, "-c", "import sqlite3, sys\n"
             f"c = sqlite3.connect({str(tmp_path / 'index.sqlite')!r}, isolation_level=None)\n"
             "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.readline(); c.execute('COMMIT')"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert locker.stdout.readline().strip() == "locked"
            for p in photos[1:4]:
                shutil.copy(p, folder)
            assert _wait(lambda: any("will be tried again" in m for m in messages)), messages
            assert len(db.export_rows()) == 1  # nothing saved while locked
            locker.communicate("\n", timeout=30)  # the other program lets go
            assert _wait(lambda: len(db.export_rows()) == 4, TIMEOUT), messages  # before: 1 row of 4
        finally:
            watcher.stop()
            if locker.poll() is None:
                locker.kill()


def test_a_link_to_itself_does_not_stop_the_watch_and_relative_roots_forget_moved_folders(
        tmp_path, photos, default_describer, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Wrel" / "sub").mkdir(parents=True)
    shutil.copy(photos[0], tmp_path / "Wrel" / "sub")
    messages: list[str] = []
    with Store(tmp_path / "index.sqlite") as db:
        watcher = FolderWatcher(db, default_describer, ["Wrel"], on_status=messages.append, settle=0.2).start()
        try:
            assert watcher.ready.wait(TIMEOUT) and len(db.export_rows()) == 1
            assert db.export_rows()[0]["path"] == str(tmp_path / "Wrel" / "sub" / photos[0].name)  # absolute
            (tmp_path / "Wrel" / "loop.jpg").symlink_to(tmp_path / "Wrel" / "loop.jpg")  # killed the thread
            shutil.copy(photos[1], tmp_path / "Wrel")
            assert _wait(lambda: len(db.export_rows()) == 2, TIMEOUT), messages  # a photo after the link
            (tmp_path / "Wrel" / "sub").rename(tmp_path / "elsewhere")
            assert _wait(lambda: len(db.export_rows()) == 1, TIMEOUT), messages  # before: both rows kept
        finally:
            watcher.stop()
    assert not any(m.startswith("Watching hit a problem") for m in messages), messages
    assert [(Path(p).name, "link" in why) for p, why in watcher.failed] == [("loop.jpg", True)]  # never followed


# --- speech ----------------------------------------------------------------------------------------------------


def test_speech_without_a_writable_temporary_folder_says_so_at_once(tmp_path, monkeypatch):
    import tempfile

    from assistant.speech import Speaker, SpeechError

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no such folder"))  # what gettempdir() answers
    messages: list[str] = []
    speaker = Speaker(on_status=messages.append, player=None)
    try:
        assert speaker.available(timeout=30) is False  # was: the speech thread died, then a stall
        with pytest.raises(SpeechError, match="temporary folder"):
            speaker.save("hello", tmp_path / "hello.wav", timeout=30)
    finally:
        speaker.close()
    assert len(messages) == 1 and "temporary folder" in messages[0], messages
    assert not (tmp_path / "hello.wav").exists()
