"""How files are named in the index: every byte path its own name, and the name back to the exact file.

A file named with the byte 0xff and one named with the four characters backslash, x, f, f shared one name,
so one of them was lost from the index. Each case is a real folder of real photos under tmp_path, run
through the real `seesay index` and `seesay forget` processes or the folder watcher, with a timeout.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.folders import index_name, path_of, shown_name
from assistant.watcher import FolderWatcher
from store import Store

TIMEOUT = 240


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEESAY_DB": str(tmp_path / "index.sqlite"), "SEESAY_CONFIG": str(tmp_path / "s.toml")}
    run = subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env,
                         timeout=TIMEOUT, errors="replace")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    return run


def _index(folder: Path | bytes, tmp_path: Path) -> str:
    """The summary line of `seesay index folder` (its numbers: described, known, unchanged, unreadable, gone)."""
    return _run("index", os.fsdecode(folder), "--quiet", "--no-text", "--no-embeddings", tmp_path=tmp_path).stdout


def _numbers(summary: str) -> list[int]:
    return [int(word) for word in summary.split("(")[0].replace(",", " ").split() if word.isdigit()][:5]


def _files(tmp_path: Path) -> dict[str, str]:
    """Each recorded file's name and the content hash of the photo the index holds for it."""
    with sqlite3.connect(tmp_path / "index.sqlite") as con:
        return dict(con.execute("SELECT files.path, photos.sha256 FROM files JOIN photos ON photos.id = photo_id"))


@pytest.fixture(scope="module")
def photos(flickr_records) -> list[Path]:
    return [r.path for r in flickr_records if r.split == "test"][:4]


def test_every_byte_path_has_its_own_index_name_and_path_of_gives_back_its_bytes():
    paths = [b"/p/a\xffb.jpg", b"/p/a\\xffb.jpg", b"/p/a\\\\b.jpg", b"/p/a\\b.jpg", b"/p/x\\", b"/p/\xc3\xa9\xc3.jpg",
             b"/p/\\\xff\\x41", b"/p/%_*?[].jpg", b"/p/caf\xc3\xa9.jpg"]
    names = [index_name(p) for p in paths]
    assert len(set(names)) == len(paths)
    assert [os.fsencode(path_of(name)) for name in names] == paths
    assert all(name.encode("utf-8") for name in names)  # what SQLite stores: valid UTF-8
    assert shown_name(index_name(b"/p/a\\b.jpg")) == "/p/a\\b.jpg"  # shown as before: the backslash once
    # Names this rule never gives, recorded before a backslash was doubled, are read as written.
    assert [path_of(n) for n in ("/p/a\\b.jpg", "/p/\\x41", "rel")] == ["/p/a\\b.jpg", "/p/\\x41", "rel"]


@pytest.mark.timeout(3 * TIMEOUT)
def test_a_file_named_with_the_byte_0xff_and_one_named_backslash_x_f_f_are_both_indexed_and_opened(tmp_path, photos):
    folder = os.fsencode(str(tmp_path / "photos"))
    os.mkdir(folder)
    named = {os.path.join(folder, b"a\xffb.jpg"): photos[0], os.path.join(folder, b"a\\xffb.jpg"): photos[1]}
    for path, photo in named.items():
        with open(path, "wb") as f:
            f.write(photo.read_bytes())
    assert _numbers(_index(folder, tmp_path)) == [2, 0, 0, 0, 0]
    files = _files(tmp_path)
    assert sorted(files) == sorted(index_name(p) for p in named)  # two names, where there was one
    for name, sha in files.items():  # the name opens the very file it was made from
        with open(path_of(name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == sha
        assert os.fsencode(path_of(name)) in named
    assert _numbers(_index(folder, tmp_path)) == [0, 0, 2, 0, 0]  # the next run: both unchanged
    assert _files(tmp_path) == files


@pytest.mark.timeout(3 * TIMEOUT)
def test_a_photo_recorded_under_the_name_before_backslashes_were_doubled_keeps_its_description(tmp_path, photos):
    folder = tmp_path / "back\\sl%a_sh"
    folder.mkdir()
    shutil.copy(photos[0], folder / "photo.jpg")
    assert _numbers(_index(folder, tmp_path)) == [1, 0, 0, 0, 0]
    new, old = index_name(folder / "photo.jpg"), str(folder / "photo.jpg")  # the old rule left "\" as itself
    assert new != old
    with sqlite3.connect(tmp_path / "index.sqlite") as con:  # the index as the code before wrote it
        con.execute("UPDATE files SET path = ? WHERE path = ?", (old, new))
        captions = con.execute("SELECT id, text FROM captions").fetchall()
    assert _numbers(_index(folder, tmp_path)) == [0, 1, 0, 0, 1]  # known by content; the old name forgotten
    assert list(_files(tmp_path)) == [new]
    with sqlite3.connect(tmp_path / "index.sqlite") as con:
        assert con.execute("SELECT id, text FROM captions").fetchall() == captions  # not described again
    assert _numbers(_index(folder, tmp_path)) == [0, 0, 1, 0, 0]


@pytest.mark.timeout(5 * TIMEOUT)
def test_forgetting_a_folder_with_backslashes_forgets_no_folder_whose_name_it_once_had(tmp_path, photos):
    # `x\\y`'s name by the rule before is `x\y`'s name now; % and _ would be wildcards to SQL's LIKE.
    folders = [tmp_path / name for name in ("x\\y", "x\\\\y", "x%y", "x_y")]
    for folder, photo in zip(folders, photos):
        folder.mkdir()
        shutil.copy(photo, folder / "photo.jpg")
    _run("index", *map(str, folders), "--quiet", "--no-text", "--no-embeddings", tmp_path=tmp_path)
    assert sorted(_files(tmp_path)) == sorted(index_name(f / "photo.jpg") for f in folders)
    forgot = _run("forget", str(folders[1]), tmp_path=tmp_path)
    assert forgot.stdout == f"{folders[1]}: 1 photo forgotten\n"
    assert sorted(_files(tmp_path)) == sorted(index_name(f / "photo.jpg") for f in folders if f != folders[1])
    assert _numbers(_index(folders[0], tmp_path)) == [0, 0, 1, 0, 0]  # nothing under x\y taken for x\\y's


@pytest.mark.timeout(TIMEOUT)
def test_a_watched_folder_forgets_the_undecodable_names_it_loses_and_not_their_backslash_twins(
        tmp_path, photos, default_describer):
    folder = os.fsencode(str(tmp_path / "watched\\here"))
    sub = os.path.join(folder, b"sub\xff")
    os.makedirs(sub)
    names = [os.path.join(sub, b"a\xffb.jpg"), os.path.join(sub, b"a\\xffb.jpg"), os.path.join(folder, b"top.jpg")]
    for name, photo in zip(names, photos):
        with open(name, "wb") as f:
            f.write(photo.read_bytes())
    with Store(tmp_path / "index.sqlite") as store:
        recorded = lambda: {row["path"] for row in store.export_rows()}
        watcher = FolderWatcher(store, default_describer, [os.fsdecode(folder)], settle=0.3).start()
        try:
            assert watcher.ready.wait(TIMEOUT / 2) and recorded() == {index_name(n) for n in names}
            os.unlink(names[0])  # its twin with a backslash in its name stays
            assert _until(lambda: recorded() == {index_name(n) for n in names[1:]}), recorded()
            os.rename(sub, tmp_path / "moved away")  # one event, for the folder
            assert _until(lambda: recorded() == {index_name(names[2])}), recorded()
        finally:
            watcher.stop()


def _until(condition, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


@pytest.mark.timeout(3 * TIMEOUT)
def test_search_json_and_export_give_scripts_the_path_that_opens_the_photo(tmp_path, photos):
    folder = tmp_path / "back\\slash"  # its index name has the backslash doubled; a script wants the path
    folder.mkdir()
    shutil.copy(photos[0], folder / "photo.jpg")
    _index(folder, tmp_path)
    _run("export", "-o", str(tmp_path / "all.json"), tmp_path=tmp_path)
    [row] = json.loads((tmp_path / "all.json").read_text())
    assert row["path"] == str(folder / "photo.jpg") != index_name(folder / "photo.jpg")
    word = max(row["caption"].strip(".").split(), key=len)  # a word the text search finds it by
    [hit] = [json.loads(line) for line in _run("search", word, "--mode", "text", "--json",
                                               tmp_path=tmp_path).stdout.splitlines()]
    assert hit["path"] == row["path"] and Path(hit["path"]).read_bytes() == photos[0].read_bytes()
