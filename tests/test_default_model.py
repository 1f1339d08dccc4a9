"""The captioner bundled with seesay, on real held-out Flickr8k photos."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from model.captioner.torch_engine import DEFAULT_CHECKPOINT
from training.metrics import content_words


def test_the_bundled_checkpoint_ships_in_the_model_package():
    assert DEFAULT_CHECKPOINT.is_file() and DEFAULT_CHECKPOINT.stat().st_size < 20e6


def test_bundled_model_names_what_is_in_held_out_photos(default_captioner, flickr_records):
    test = [r for r in flickr_records if r.split == "test"][:24]
    caps = default_captioner.caption([r.path for r in test], beam_size=3)
    own = [bool(content_words(c.text) & set().union(*map(content_words, r.captions))) for c, r in zip(caps, test)]
    shifted = test[7:] + test[:7]  # the same captions against other photos' references: chance level
    chance = [bool(content_words(c.text) & set().union(*map(content_words, r.captions))) for c, r in zip(caps, shifted)]
    assert np.mean(own) >= 0.75, [c.text for c in caps]
    assert np.mean(own) > np.mean(chance) + 0.2


def test_bundled_model_records_its_recipe_and_scores(default_captioner):
    meta = default_captioner.metadata
    assert meta["training_data"] == "captions_flickr8k.json" and meta["seed"] == 0
    assert 0.0 < meta["confidence_threshold"] < 1.0
    assert meta["test_scores"]["BLEU-4"] > 0.1


def test_seesay_caption_uses_the_bundled_model_and_skips_bad_files(flickr_records, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a photo")
    photo = [r for r in flickr_records if r.split == "test"][0].path
    proc = subprocess.run([sys.executable, "-m", "assistant", "caption", str(photo), str(bad), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 1 and rows[0]["path"] == str(photo) and rows[0]["caption"]
    assert 0.0 < rows[0]["caption_confidence"] <= 1.0 and rows[0]["sentence"]
    assert {"objects", "recognized", "parts", "person_probability", "text"} <= set(rows[0])
    assert "skipping" in proc.stderr and "broken.jpg" in proc.stderr


def test_seesay_caption_fails_when_nothing_could_be_captioned(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a photo")
    proc = subprocess.run([sys.executable, "-m", "assistant", "caption", str(bad)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "skipping" in proc.stderr


def test_both_engines_keep_one_contract_and_the_describer_reads_what_encode_returns(default_captioner,
                                                                                     flickr_records):
    from model.captioner.engine import Encoded, Engine
    from model.captioner.onnx_engine import OnnxCaptioner

    photos = [r.path for r in flickr_records if r.split == "test"][:2]
    for engine in (default_captioner, OnnxCaptioner.default()):
        assert isinstance(engine, Engine)
        encoded = engine.encode(photos)
        assert isinstance(encoded, Encoded) and encoded.regions.dtype == np.float32
        assert encoded.logits.shape == (2, engine.classes) and encoded.pooled.shape == (2, engine.feature_channels)
        best = engine.caption_features(encoded)
        assert [c.words for c in best] == [n[0].words for n in engine.n_best(encoded)]
        assert not hasattr(best[0], "uncertain")  # what is said is the describer's to decide


def test_seesay_pack_stores_half_weights_drops_training_state_and_records_scores(tmp_path, overfit_captioner):
    from model import checkpoint_data, load_checkpoint, save_checkpoint
    from training.pack import main

    captioner = overfit_captioner[0]
    trained = checkpoint_data(captioner.model, captioner.vocabulary, {"name": "tiny"})
    trained.extra = {"optimizer": {"step": 3}}
    tiny_checkpoint = save_checkpoint(tmp_path / "trained.pt", trained)

    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({"BLEU-4": 0.2}))
    assert main(["--model", str(tiny_checkpoint), "--scores", str(scores), "--out", str(tmp_path / "packed.pt")]) == 0
    packed = load_checkpoint(tmp_path / "packed.pt")
    assert packed.metadata["test_scores"] == {"BLEU-4": 0.2} and not packed.extra
    assert (tmp_path / "packed.pt").stat().st_size < 0.6 * tiny_checkpoint.stat().st_size  # float16 on disk
