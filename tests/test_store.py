"""The index on a real SQLite file: schema, hostile queries, ranked text and semantic search, crash safety."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.embedder import SentenceEmbedder
from assistant.indexer import index_folders
from model import checkpoint_data, save_checkpoint
from store import Store, StoreError
from store.photos import NewCaption, add_captions, get_or_add_model

HOSTILE = ['"', "*", "NEAR(", "') OR 1=1 --", "x" * 10_000, "🐶🏖️", "", "dog AND", "(((", "a:b", "^", "-"]


@pytest.fixture(scope="module")
def embedder():
    return SentenceEmbedder()


@pytest.fixture(scope="module")
def human_store(tmp_path_factory, flickr_records, embedder):
    """An index of 300 Flickr8k test photos, each captioned with its first human caption."""
    recs = [r for r in flickr_records if r.split == "test"][:300]
    store = Store(tmp_path_factory.mktemp("db") / "index.sqlite")
    vecs = embedder.embed([r.captions[0] for r in recs])
    with store.write() as s:
        model = get_or_add_model(s, "human", "0" * 64)
        add_captions(s, model.id, [
            NewCaption(str(r.path), f"{i:064x}", 1, 1.0, 224, 224, r.captions[0], 1.0, v.tobytes())
            for i, (r, v) in enumerate(zip(recs, vecs))
        ])
    yield store, {str(r.path): r for r in recs}
    store.close()


def test_schema_uses_wal_foreign_keys_and_a_version(tmp_path):
    Store(tmp_path / "i.sqlite").close()
    con = sqlite3.connect(tmp_path / "i.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version FROM schema_info").fetchone()[0] == 1
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"photos", "captions", "models", "failures", "captions_fts"} <= tables
    con.close()


def test_text_search_ranks_photos_whose_human_captions_use_the_word(human_store):
    store, by_path = human_store
    for word in ("dog", "beach", "snow", "bike", "water"):
        hits = store.text_search(word, limit=5)
        assert len(hits) == 5
        assert all(word in " ".join(by_path[h.path].captions).lower() for h in hits), word


def test_stemming_finds_other_forms_of_a_word(human_store):
    store, _ = human_store
    hits = store.text_search("dogs running", limit=5)
    assert hits and all("dog" in h.caption.lower() or "run" in h.caption.lower() for h in hits)


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_return_a_list_and_never_raise(human_store, embedder, query):
    store, _ = human_store
    assert isinstance(store.text_search(query), list)
    assert isinstance(store.hybrid_search(query, embedder.embed([query or " "])[0]), list)


def test_semantic_search_finds_a_dog_on_the_beach_for_puppy_on_sand(human_store, embedder, flickr_records):
    store, _ = human_store
    beach_dog = [r for r in flickr_records if r.split == "val"][0]
    with store.write() as s:  # one more photo, captioned with no word in common with the query
        model = get_or_add_model(s, "human", "0" * 64)
        add_captions(s, model.id, [NewCaption(str(beach_dog.path), "f" * 64, 1, 1.0, 224, 224,
                                              "a dog runs on the beach", 1.0,
                                              embedder.embed(["a dog runs on the beach"])[0].tobytes())])
    assert not any(h.caption == "a dog runs on the beach" for h in store.text_search("puppy on sand", 50))
    hits = store.semantic_search(embedder.embed(["puppy on sand"])[0], limit=5)
    assert "a dog runs on the beach" in [h.caption for h in hits[:3]], [h.caption for h in hits]
    fused = store.hybrid_search("puppy on sand", embedder.embed(["puppy on sand"])[0], limit=5)
    assert len(fused) == 5


def test_hybrid_search_on_very_common_words_keeps_the_matching_candidates(human_store, embedder, monkeypatch):
    from store import search

    index, _ = human_store
    query = "a dog in the grass"
    vector = embedder.embed([query])[0]
    candidates = index.semantic_search(vector, 200)
    monkeypatch.setattr(search, "BROAD", 3)  # as if thousands of captions had these words
    with index.read() as s:
        marked = search.text_search(s, query, 20, among=candidates)
    # The broad path returns the candidates that have every word, then those with some, each group in the
    # semantic order, without BM25.
    both = [("dog" in h.caption.lower()) and ("grass" in h.caption.lower()) for h in marked]
    assert sum(both) >= 3 and both == sorted(both, reverse=True)
    assert all("dog" in h.caption.lower() or "grass" in h.caption.lower() for h in marked)
    order = [h.caption_id for h in candidates]
    for group in (marked[: sum(both)], marked[sum(both) :]):
        positions = [order.index(h.caption_id) for h in group]
        assert positions == sorted(positions)
    fused = index.hybrid_search(query, vector, limit=5)
    assert sum("dog" in h.caption.lower() for h in fused) >= 4, [h.caption for h in fused]


def test_a_damaged_database_gives_a_clear_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(os.urandom(8192))
    with pytest.raises(StoreError, match="not a usable seesay index"):
        Store(bad)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="not a seesay index"):
        Store(other)


@pytest.fixture(scope="module")
def tiny_checkpoint(overfit_captioner, tmp_path_factory):
    captioner, _, _ = overfit_captioner
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, checkpoint_data(captioner.model, captioner.vocabulary, {"name": "tiny"}))
    return path


def test_indexing_captions_real_photos_once_and_records_unreadable_files(tmp_path, overfit_captioner, flickr_records):
    captioner, _, _ = overfit_captioner
    folder = tmp_path / "photos"
    folder.mkdir()
    for r in [r for r in flickr_records if r.split == "test"][:6]:
        shutil.copy(r.path, folder / r.path.name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    (folder / ".hidden.jpg").write_bytes((folder / os.listdir(folder)[0]).read_bytes())
    with Store(tmp_path / "i.sqlite") as store:
        first = index_folders(store, captioner, [folder], batch_size=4)
        assert first.captioned == 6 and [Path(p).name for p, _ in first.failed] == ["broken.jpg"]
        again = index_folders(store, captioner, [folder], batch_size=4)
        assert again.captioned == 0 and again.unchanged == 7
        first_photo = sorted(folder.glob("*.jpg"))[1]
        first_photo.rename(folder / "renamed.jpg")  # same bytes, new name: not captioned again
        moved = index_folders(store, captioner, [folder], batch_size=4)
        assert moved.captioned == 0
        assert store.counts() == {"photos": 6, "captions": 6, "models": 1, "failures": 1}


def test_kill_9_during_indexing_loses_nothing_and_the_rerun_finishes_without_duplicates(
    tmp_path, tiny_checkpoint, flickr_records
):
    folder = tmp_path / "photos"
    folder.mkdir()
    for r in [r for r in flickr_records if r.split == "val"][:40]:
        shutil.copy(r.path, folder / r.path.name)
    db = tmp_path / "i.sqlite"
    cmd = [sys.executable, "-m", "assistant", "index", str(folder), "--db", str(db), "--model", str(tiny_checkpoint),
           "--batch-size", "4", "--no-embeddings", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    committed = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                committed = sqlite3.connect(db, timeout=1).execute("SELECT count(*) FROM captions").fetchone()[0]
            except sqlite3.OperationalError:
                committed = 0
            if committed >= 8:
                break
        time.sleep(0.2)
    assert proc.poll() is None, "indexing finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    con = sqlite3.connect(db)
    after_kill = con.execute("SELECT count(*) FROM captions").fetchone()[0]
    con.close()
    assert 8 <= after_kill < 40
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM captions").fetchone()[0] == 40
    assert con.execute("SELECT count(DISTINCT sha256) FROM photos").fetchone()[0] == 40
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
