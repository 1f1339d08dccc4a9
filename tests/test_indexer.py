"""The index reads each photo file once, and holds few files' bytes at a time."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3

import pytest

import assistant.indexer
from assistant.indexer import index_folders
from store import Store

TIMEOUT = 240


class _Counted(bytes):
    """A file's bytes that say when they are let go."""

    live: dict[int, int] = {}

    def __del__(self) -> None:
        _Counted.live.pop(id(self), None)


@pytest.mark.timeout(TIMEOUT)
def test_a_batch_of_photos_is_read_a_few_files_at_a_time_and_described_as_read(
        tmp_path, flickr_records, default_describer, monkeypatch):
    photos = [r.path for r in flickr_records if r.split == "test"][:8]
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in photos:
        shutil.copy(photo, folder)
    sizes = sorted(p.stat().st_size for p in photos)
    budget = sizes[-1] + sizes[-2]  # any two of the photos, never three
    monkeypatch.setattr(assistant.indexer, "READ_AHEAD_BYTES", budget)
    read, most, asked = assistant.indexer.read_image_file, [0], []

    def counted(path, **kwargs):
        data = _Counted(read(path, **kwargs))
        _Counted.live[id(data)] = len(data)
        most[0] = max(most[0], sum(_Counted.live.values()))
        return data

    described = Store.described

    def asking(self, shas, model_id):
        asked.append(len(shas))
        return described(self, shas, model_id)

    monkeypatch.setattr(assistant.indexer, "read_image_file", counted)
    monkeypatch.setattr(Store, "described", asking)
    with Store(tmp_path / "index.sqlite") as db:
        report = index_folders(db, default_describer, [folder], batch_size=8)
    assert report.described == 8 and not report.failed
    assert 0 < most[0] <= budget and not _Counted.live  # every file's bytes let go once decoded
    assert sum(asked) == 8 and len(asked) < 8  # the index asked about several files at once
    with sqlite3.connect(tmp_path / "index.sqlite") as con:
        stored = {row[0] for row in con.execute("SELECT sha256 FROM photos")}
    assert stored == {hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
