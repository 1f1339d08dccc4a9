"""Hostile folders: every bad file gets one clear line, the good photos are indexed, nothing hangs.

Each case is a real file (or link, FIFO, odd name) in a folder next to real photos, run through the real
`seesay index` and `seesay caption` processes with a timeout.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

TIMEOUT = 240


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A tiny PNG file that claims to be width x height: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\0" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory, flickr_records):
    """Two good photos among every kind of bad file a user's folders hold."""
    folder = tmp_path_factory.mktemp("hostile")
    good = [r.path for r in flickr_records if r.split == "test"][:2]
    shutil.copy(good[0], folder / "good one.jpg")
    sub = folder / "sub"
    sub.mkdir()
    shutil.copy(good[1], sub / "good two.jpg")
    bad = {
        "truncated.jpg": good[0].read_bytes()[:500],
        "empty.jpg": b"",
        "text.jpg": b"this is not a photo\n" * 10,
        "random.png": os.urandom(4096),
    }
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    _png_header_only(folder / "bomb.png", 30000, 30000)
    os.mkfifo(folder / "fifo.jpg")  # would block any reader for ever
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")  # a symbolic link loop
    (folder / "secret.jpg").symlink_to("/etc/passwd")  # a link out of the folder: never opened
    (folder / "linked-folder").symlink_to("/usr/share", target_is_directory=True)
    (folder / "folder.jpg").mkdir()  # a folder named like a photo
    shutil.copy(good[0], os.fsencode(folder) + b"/bad-name-\xff\xfe.jpg")  # not valid UTF-8
    shutil.copy(good[1], folder / "new\nline.jpg")  # a newline in a name
    return folder, good


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEESAY_DB": str(tmp_path / "index.sqlite")}
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env,
                          timeout=TIMEOUT, errors="replace")


def test_index_reports_each_bad_file_once_and_indexes_every_good_photo(hostile_folder, tmp_path):
    folder, _ = hostile_folder
    run = _run("index", str(folder), "--no-embeddings", "--no-text", "--quiet", tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    skipped = [line for line in run.stderr.splitlines() if line.startswith("skipping ")]
    for name, why in [("truncated.jpg", "damaged"), ("empty.jpg", ""), ("text.jpg", "not an image"),
                      ("random.png", ""), ("bomb.png", "too large"), ("fifo.jpg", "not a regular file"),
                      ("loop.jpg", "link"), ("secret.jpg", "link"), ("linked-folder", "link")]:
        lines = [line for line in skipped if name in line]
        assert len(lines) == 1 and why in lines[0], (name, skipped)
    con = sqlite3.connect(tmp_path / "index.sqlite")
    paths = {r[0] for r in con.execute("SELECT path FROM files")}
    assert {Path(p).name for p in paths} == {"good one.jpg", "good two.jpg", "bad-name-\\xff\\xfe.jpg",
                                             "new\nline.jpg"}
    assert con.execute("SELECT count(*) FROM photos").fetchone()[0] == 2  # the other two are copies
    assert not any("passwd" in p or p.startswith("/usr/share") for p in paths)
    # A rerun reads nothing again and repeats no complaint: failures are retried only once the file changes.
    again = _run("index", str(folder), "--no-embeddings", "--no-text", "--quiet", tmp_path=tmp_path)
    repeated = [line for line in again.stderr.splitlines() if "skipping" in line and "linked-folder" not in line]
    assert again.returncode == 0 and not repeated, again.stderr
    (folder / "text.jpg").write_bytes(b"still not a photo, but changed")
    changed = _run("index", str(folder), "--no-embeddings", "--no-text", "--quiet", tmp_path=tmp_path)
    assert [line for line in changed.stderr.splitlines() if "text.jpg" in line], changed.stderr


def test_caption_goes_on_past_bad_files_and_keeps_one_line_per_photo(hostile_folder, tmp_path):
    folder, good = hostile_folder
    names = ["bomb.png", "fifo.jpg", "loop.jpg", "empty.jpg", "folder.jpg", "new\nline.jpg", "good one.jpg"]
    # folder.jpg is a folder: caption describes the photos in it, of which there are none
    run = _run("caption", "--no-text", *(str(folder / n) for n in names), tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    out = run.stdout.splitlines()
    assert len(out) == 2 and out[0].startswith(str(folder / "new\\nline.jpg") + "\t"), out
    assert len([line for line in run.stderr.splitlines() if line.startswith("skipping")]) == 4, run.stderr


def test_database_errors_are_one_line_and_a_non_zero_exit(tmp_path):
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(os.urandom(8192))
    readonly = tmp_path / "ro"
    cases = [
        ("search", "dog", "--db", str(tmp_path / "missing.sqlite")),
        ("export", "--db", str(damaged)),
        ("search", "dog", "--db", str(damaged)),
        ("index", str(tmp_path), "--db", str(damaged), "--no-embeddings"),
        ("export", "--db", str(damaged), "-o", "/proc/forbidden.json"),
    ]
    for args in cases:
        run = _run(*args, tmp_path=tmp_path)
        assert run.returncode != 0 and "Traceback" not in run.stderr, (args, run.stderr)
        assert len([line for line in run.stderr.splitlines() if line.startswith("seesay:")]) == 1, (args, run.stderr)
    readonly.mkdir()
    readonly.chmod(0o555)
    try:
        run = _run("index", str(tmp_path), "--db", str(readonly / "sub" / "index.sqlite"), tmp_path=tmp_path)
        if os.geteuid() != 0:  # root may write anywhere
            assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    finally:
        readonly.chmod(0o755)
