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

import numpy
import pytest

from assistant.indexer import index_folders
from model import checkpoint_data, save_checkpoint
from model.sentence_embedder import SentenceEmbedder
from store import Entry, FileInfo, Link, NoIndexError, Store, StoreError
from store.migrations import V1

HOSTILE = ['"', "*", "NEAR(", "') OR 1=1 --", "x" * 10_000, "🐶🏖️", "", "dog AND", "(((", "a:b", "^", "-"]


def entry(path: str, sha: str, caption: str, vector=None, **fields) -> Entry:
    return Entry(FileInfo(path, 1, 1.0), sha, 224, 224, caption, 1.0,
                 embedding=None if vector is None else vector.tobytes(), **fields)


@pytest.fixture(scope="module")
def embedder():
    return SentenceEmbedder()


@pytest.fixture(scope="module")
def human_store(tmp_path_factory, flickr_records, embedder):
    """An index of 300 Flickr8k test photos, each captioned with its first human caption."""
    recs = [r for r in flickr_records if r.split == "test"][:300]
    store = Store(tmp_path_factory.mktemp("db") / "index.sqlite")
    vecs = embedder.embed([r.captions[0] for r in recs])
    model = store.model_id("human", "0" * 64)
    store.add(model, [entry(str(r.path), f"{i:064x}", r.captions[0], v) for i, (r, v) in enumerate(zip(recs, vecs))])
    yield store, {str(r.path): r for r in recs}
    store.close()


def test_schema_uses_wal_foreign_keys_and_a_version(tmp_path):
    Store(tmp_path / "i.sqlite").close()
    con = sqlite3.connect(tmp_path / "i.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version FROM schema_info").fetchone()[0] == 3
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"photos", "files", "captions", "models", "failures", "captions_fts"} <= tables
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
    model = store.model_id("human", "0" * 64)  # one more photo, captioned with no word in common with the query
    store.add(model, [entry(str(beach_dog.path), "f" * 64, "a dog runs on the beach",
                            embedder.embed(["a dog runs on the beach"])[0])])
    assert not any(h.caption == "a dog runs on the beach" for h in store.text_search("puppy on sand", 50))
    hits = store.semantic_search(embedder.embed(["puppy on sand"])[0], limit=5)
    assert "a dog runs on the beach" in [h.caption for h in hits[:3]], [h.caption for h in hits]
    fused = store.hybrid_search("puppy on sand", embedder.embed(["puppy on sand"])[0], limit=5)
    assert len(fused) == 5


def test_hybrid_search_on_very_common_words_keeps_the_matching_candidates(human_store, embedder, monkeypatch):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from store import search

    index, _ = human_store
    query = "a dog in the grass"
    vector = embedder.embed([query])[0]
    candidates = index.semantic_search(vector, 200)
    monkeypatch.setattr(search, "BROAD", 3)  # as if thousands of captions had these words
    with Session(create_engine(f"sqlite:///{index.path}")) as s:
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


def test_a_search_never_creates_an_index(tmp_path):
    with pytest.raises(NoIndexError, match="run 'seesay index"):
        Store(tmp_path / "none.sqlite", writable=False, create=False)
    assert not (tmp_path / "none.sqlite").exists()


def test_a_database_sqlite_reports_as_damaged_is_never_written(tmp_path):
    path = tmp_path / "i.sqlite"
    with Store(path) as store:
        model = store.model_id("m", "1" * 64)
        store.add(model, [entry(f"/p/{i}.jpg", f"{i:064x}", f"photo number {i} " * 40) for i in range(300)])
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name='captions'").fetchone()[0]
    page = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    data = bytearray(path.read_bytes())
    data[(root - 1) * page + 8:(root - 1) * page + 400] = os.urandom(392)  # scribble over the table's root page
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged|not a usable"):
        Store(path)


def test_a_version_1_index_upgrades_and_keeps_every_caption(tmp_path):
    """An index made by the release with schema version 1, upgraded by opening it."""
    path = tmp_path / "v1.sqlite"
    con = sqlite3.connect(path)
    for statement in V1:
        con.execute(statement)
    con.execute("INSERT INTO schema_info VALUES (1, 1)")
    con.execute("INSERT INTO models VALUES (1, 'flickr8k', ?, '2026-01-01 00:00:00')", ("a" * 64,))
    for i, text in enumerate(["a dog runs on the beach", "two children play in the snow"], start=1):
        con.execute("INSERT INTO photos VALUES (?, ?, ?, 10, 1.5, 224, 224, 'folder', '2026-01-01', '2026-01-02')",
                    (i, f"{i:064x}", f"/photos/{i}.jpg"))
        con.execute("INSERT INTO captions VALUES (?, ?, 1, ?, 0.5, NULL, '2026-01-01')", (i, i, text))
    con.commit()
    con.close()
    with Store(path) as store:
        assert store.counts() == {"photos": 2, "files": 2, "captions": 2, "models": 1, "failures": 0}
        assert [h.path for h in store.text_search("snow")] == ["/photos/2.jpg"]
        assert store.unchanged([FileInfo("/photos/1.jpg", 10, 1.5)], 1) == {"/photos/1.jpg"}
    assert sqlite3.connect(path).execute("SELECT version FROM schema_info").fetchone()[0] == 3


def test_search_follows_renames_copies_overwrites_and_deletions(tmp_path, embedder):
    """Semantic search used to keep the old path of a renamed photo; every search joins paths live now."""
    vec = embedder.embed(["a dog runs on the beach", "a red car in the rain"])
    with Store(tmp_path / "i.sqlite") as store:
        model = store.model_id("m", "1" * 64)
        store.add(model, [entry("/p/a.jpg", "a" * 64, "a dog runs on the beach", vec[0])])
        semantic = lambda: [h.path for h in store.semantic_search(vec[0], 5)]  # noqa: E731
        assert semantic() == ["/p/a.jpg"]
        store.add(model, links=[Link(FileInfo("/p/b.jpg", 1, 1.0), "a" * 64)])
        store.forget(["/p/a.jpg"])  # renamed a.jpg -> b.jpg
        assert semantic() == ["/p/b.jpg"] == [h.path for h in store.text_search("dog")]
        store.add(model, links=[Link(FileInfo("/p/c.jpg", 1, 1.0), "a" * 64)])  # a copy
        assert sorted(semantic()) == ["/p/b.jpg", "/p/c.jpg"]
        store.add(model, [entry("/p/b.jpg", "b" * 64, "a red car in the rain", vec[1])])  # b.jpg overwritten
        assert [h.path for h in store.text_search("dog")] == ["/p/c.jpg"]
        assert [h.path for h in store.text_search("car")] == ["/p/b.jpg"]
        store.forget(["/p/c.jpg"])
        assert store.text_search("dog") == [] and store.counts()["photos"] == 1
        assert store.drop_orphans() == 1


def test_text_read_in_a_photo_and_recognised_objects_are_searchable(tmp_path):
    with Store(tmp_path / "i.sqlite") as store:
        model = store.model_id("m", "1" * 64)
        store.add(model, [entry("/p/letter.jpg", "a" * 64, "a white sheet of paper", reading="INVOICE No. 4711"),
                          entry("/p/cat.jpg", "b" * 64, "an animal on a sofa", objects="cat")])
        assert [h.path for h in store.text_search("invoice")] == ["/p/letter.jpg"]
        assert [h.path for h in store.text_search("cat")] == ["/p/cat.jpg"]


@pytest.fixture(scope="module")
def tiny_checkpoint(overfit_captioner, tmp_path_factory):
    captioner, _, _ = overfit_captioner
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, checkpoint_data(captioner.model, captioner.vocabulary, {"name": "tiny"}))
    return path


def test_indexing_describes_real_photos_once_and_records_unreadable_files(tmp_path, overfit_captioner, flickr_records):
    from model.describing.describer import Describer

    captioner = Describer(overfit_captioner[0])
    folder = tmp_path / "photos"
    folder.mkdir()
    for r in [r for r in flickr_records if r.split == "test"][:6]:
        shutil.copy(r.path, folder / r.path.name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    (folder / ".hidden.jpg").write_bytes((folder / os.listdir(folder)[0]).read_bytes())
    with Store(tmp_path / "i.sqlite") as store:
        first = index_folders(store, captioner, [folder], batch_size=4)
        assert first.described == 6 and [Path(p).name for p, _ in first.failed] == ["broken.jpg"]
        again = index_folders(store, captioner, [folder], batch_size=4)
        assert again.described == 0 and again.unchanged == 7 and not again.failed
        first_photo = sorted(folder.glob("*.jpg"))[1]
        first_photo.rename(folder / "renamed.jpg")  # same bytes, new name: not described again
        moved = index_folders(store, captioner, [folder], batch_size=4)
        assert moved.described == 0 and moved.linked == 1 and moved.forgotten == 1
        assert store.counts() == {"photos": 6, "files": 6, "captions": 6, "models": 1, "failures": 1}


def _photo_folder(tmp_path: Path, records, n: int) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for r in [r for r in records if r.split == "val"][:n]:
        shutil.copy(r.path, folder / r.path.name)
    return folder


def _rows(db: Path, table: str = "captions") -> int:
    try:
        return sqlite3.connect(db, timeout=1).execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _kill_after(proc: subprocess.Popen, db: Path, rows: int, seconds: float = 180, sig=signal.SIGKILL) -> int:
    """Send sig (SIGKILL) to proc once db holds at least `rows` captions; the count left after it ends."""
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None and _rows(db) < rows:
        time.sleep(0.1)
    assert proc.poll() is None, "it finished before it could be killed"
    proc.send_signal(sig)
    proc.wait(timeout=120)
    return _rows(db)


def _index_40(tmp_path: Path, flickr_records, checkpoint: Path) -> tuple[list[str], Path]:
    """`seesay index` of 40 photos in batches of 4 (the tiny checkpoint), and the index it writes."""
    folder = _photo_folder(tmp_path, flickr_records, 40)
    db = tmp_path / "i.sqlite"
    return [sys.executable, "-m", "assistant", "index", str(folder), "--db", str(db), "--model", str(checkpoint),
            "--batch-size", "4", "--no-embeddings", "--no-text", "--quiet"], db


def test_kill_9_during_indexing_loses_nothing_and_the_rerun_finishes_without_duplicates(
    tmp_path, tiny_checkpoint, flickr_records
):
    cmd, db = _index_40(tmp_path, flickr_records, tiny_checkpoint)
    after_kill = _kill_after(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), db, 8)
    assert 8 <= after_kill < 40
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM captions").fetchone()[0] == 40
    assert con.execute("SELECT count(DISTINCT sha256) FROM photos").fetchone()[0] == 40
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_sigterm_during_indexing_stops_with_one_line_and_keeps_every_committed_batch(
    tmp_path, tiny_checkpoint, flickr_records
):
    cmd, db = _index_40(tmp_path, flickr_records, tiny_checkpoint)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    after = _kill_after(proc, db, 8, sig=signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM  # a shell's and systemd's convention for "ended by SIGTERM"
    assert proc.stderr.read().strip().splitlines() == ["seesay: stopped (SIGTERM)"]
    assert 8 <= after < 40
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM files").fetchone()[0] == after  # no photo left half-stored


def test_two_index_runs_at_once_both_finish_without_duplicates(tmp_path, tiny_checkpoint, flickr_records):
    folder = _photo_folder(tmp_path, flickr_records, 8)
    db = tmp_path / "i.sqlite"
    cmd = [sys.executable, "-m", "assistant", "index", str(folder), "--db", str(db), "--model", str(tiny_checkpoint),
           "--batch-size", "2", "--no-embeddings", "--no-text", "--quiet"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    assert _rows(db) == 8 and _rows(db, "files") == 8


def test_kill_9_during_watch_loses_nothing_and_the_restart_catches_up(tmp_path, tiny_checkpoint, flickr_records):
    folder = _photo_folder(tmp_path, flickr_records, 30)
    db = tmp_path / "i.sqlite"
    cmd = [sys.executable, "-m", "assistant", "watch", str(folder), "--db", str(db), "--model", str(tiny_checkpoint),
           "--no-embeddings", "--seconds"]
    after_kill = _kill_after(subprocess.Popen([*cmd, "300"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                             db, 4)
    assert 4 <= after_kill < 30
    done = subprocess.run([*cmd, "3"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _rows(db) == 30 and _rows(db, "files") == 30
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_semantic_search_reads_the_kept_caption_never_a_rejected_one(tmp_path, default_describer, embedder,
                                                                      flickr_records):
    from PIL import Image
    from skimage import data

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(data.chelsea()).save(folder / "cat.png")  # its caption is rejected: "A cat." is said
    for r in [r for r in flickr_records if r.split == "test"][:3]:
        shutil.copy(r.path, folder / r.path.name)
    with Store(tmp_path / "i.sqlite") as store:
        report = index_folders(store, default_describer, [folder], embedder=embedder, batch_size=4)
        said = {Path(p).name: d for p, d in report.added}
        assert said["cat.png"].kept_caption is None and said["cat.png"].sentence == "A cat."
        assert any(d.kept_caption for d in said.values())  # some Flickr8k photo keeps (part of) its caption
        for name, d in said.items():
            [hit] = [h for h in store.semantic_search(embedder.embed([d.kept_caption or d.sentence])[0], 4)
                     if Path(h.path).name == name]
            assert hit.score > 0.999, (name, d.kept_caption, d.sentence)  # the stored vector is that text's


def test_embeddings_not_of_unit_length_are_normalised_when_the_matrix_loads(tmp_path, embedder):
    vectors = embedder.embed(["a dog runs on the beach", "a red car in the rain"])
    with Store(tmp_path / "i.sqlite") as store:
        model = store.model_id("human", "0" * 64)
        store.add(model, [entry("/p/dog.jpg", "1" * 64, "a dog runs on the beach", 3 * vectors[0]),
                          entry("/p/car.jpg", "2" * 64, "a red car in the rain", vectors[1])])
        matrix = store.embedding_index().matrix
        assert numpy.allclose(numpy.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
        hits = store.semantic_search(embedder.embed(["puppy on sand"])[0], limit=2)
        assert [h.path for h in hits][0] == "/p/dog.jpg" and all(h.score <= 1.0 + 1e-5 for h in hits)


def _semantic(store: Store, vector) -> list[str]:
    return [h.path for h in store.semantic_search(vector, 5)]


def test_the_embedding_cache_beside_the_index_follows_every_added_and_removed_caption(tmp_path, embedder):
    """The cache file is used only while the index holds the token it was made at; a second Store (another
    process) and a caption id SQLite reuses after the newest caption is dropped both get the current rows."""
    texts = ["a dog runs on the beach", "a red car in the rain", "a child eats an ice cream"]
    vec = embedder.embed(texts)
    db = tmp_path / "i.sqlite"
    with Store(db) as store:
        model = store.model_id("m", "1" * 64)
        store.add(model, [entry("/p/dog.jpg", "a" * 64, texts[0], vec[0]),
                          entry("/p/car.jpg", "b" * 64, texts[1], vec[1])])
        assert _semantic(store, vec[1])[0] == "/p/car.jpg"
        cache = db.with_name("i.sqlite-embeddings")
        assert cache.stat().st_size == 64 + 2 * 384 * 4 + 2 * 8
        with Store(db, writable=False, create=False) as other:  # another search, from the file
            assert _semantic(other, vec[0])[0] == "/p/dog.jpg"
            store.forget(["/p/car.jpg"])
            assert store.drop_orphans() == 1  # the newest caption: its id is taken again by the next one
            store.add(model, [entry("/p/child.jpg", "c" * 64, texts[2], vec[2])])
            for s in (store, other):
                assert _semantic(s, vec[2]) == ["/p/child.jpg", "/p/dog.jpg"]
                assert s.semantic_search(vec[2], 1)[0].score > 0.999  # the new vector, not the dropped one's
    with Store(db) as store:
        store.forget(["/p/dog.jpg", "/p/child.jpg"])
        store.drop_orphans()
        assert _semantic(store, vec[0]) == [] and cache.stat().st_size == 64


def test_a_cache_made_for_another_index_or_cut_short_is_not_used(tmp_path, embedder):
    vec = embedder.embed(["a dog runs on the beach", "a red car in the rain"])
    for name, (path, text, v) in {"a": ("/p/dog.jpg", "a dog", vec[0]), "b": ("/p/car.jpg", "a car", vec[1])}.items():
        with Store(tmp_path / f"{name}.sqlite") as store:
            store.add(store.model_id("m", "1" * 64), [entry(path, "a" * 64, text, v)])
            store.semantic_search(v, 1)
    cache = tmp_path / "b.sqlite-embeddings"
    shutil.copy(tmp_path / "a.sqlite-embeddings", cache)  # same ids, another index's vectors and token
    with Store(tmp_path / "b.sqlite", writable=False, create=False) as store:
        assert store.semantic_search(vec[1], 1)[0].score > 0.999
    cache.write_bytes(cache.read_bytes()[:-100])
    with Store(tmp_path / "b.sqlite", writable=False, create=False) as store:
        assert store.semantic_search(vec[1], 1)[0].score > 0.999 and cache.stat().st_size == 64 + 384 * 4 + 8
    cache.unlink()
    os.mkfifo(cache)  # never opened for reading in a way that waits for a writer
    with Store(tmp_path / "b.sqlite", writable=False, create=False) as store:
        assert store.semantic_search(vec[1], 1)[0].score > 0.999


def test_what_a_writer_killed_mid_write_left_is_swept_and_another_writers_file_is_not(tmp_path, embedder):
    vec = embedder.embed(["a dog runs on the beach"])
    killed, writing = tmp_path / "i.sqlite-embeddings.k1ll3d.tmp", tmp_path / "i.sqlite-embeddings.wr1t1ng.tmp"
    for left in (killed, writing):
        left.write_bytes(bytes(64))
    os.utime(killed, (time.time() - 7200, time.time() - 7200))  # two hours old
    with Store(tmp_path / "i.sqlite") as store:
        store.add(store.model_id("m", "1" * 64), [entry("/p/dog.jpg", "a" * 64, "a dog", vec[0])])
        assert _semantic(store, vec[0]) == ["/p/dog.jpg"]  # the cache was written
    assert sorted(p.name for p in tmp_path.iterdir() if "embeddings" in p.name) == [
        "i.sqlite-embeddings", writing.name]


def test_where_the_cache_cannot_be_written_the_matrix_is_held_in_memory(tmp_path, embedder):
    vec = embedder.embed(["a dog runs on the beach"])
    (tmp_path / "i.sqlite-embeddings").mkdir()  # in the way: the rename into place fails, as on a full disk
    with Store(tmp_path / "i.sqlite") as store:
        store.add(store.model_id("m", "1" * 64), [entry("/p/dog.jpg", "a" * 64, "a dog", vec[0])])
        assert _semantic(store, vec[0]) == ["/p/dog.jpg"]
    assert [p.name for p in tmp_path.iterdir() if "embeddings" in p.name] == ["i.sqlite-embeddings"]


@pytest.mark.timeout(240)
def test_full_width_and_ligature_queries_find_what_their_plain_letters_find(tmp_path, default_describer,
                                                                            flickr_records):
    folder = tmp_path / "photos"
    folder.mkdir()
    girls = [r for r in flickr_records if r.split == "test" and sum("girl" in c.lower() for c in r.captions) >= 3]
    for r in girls[:6]:
        shutil.copy(r.path, folder / r.path.name)
    with Store(tmp_path / "i.sqlite") as store:
        assert index_folders(store, default_describer, [folder]).described == 6
        for plain, compatible in [("girl", "ＧＩＲＬ"), ("standing", "\ufb06anding"),  # the st ligature
                                  ("pink shirt", "ｐｉｎｋ ＳＨＩＲＴ")]:
            found = [h.path for h in store.text_search(plain)]
            assert found and [h.path for h in store.text_search(compatible)] == found, (plain, found)  # were []
