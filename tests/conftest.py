"""Shared fixtures: the real data folder, real photos, and one tiny captioner trained on real captions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

DATA = Path(os.environ.get("SEESAY_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")).resolve()
FLICKR = DATA / "flickr8k"
COCO_MINI = DATA / "coco-mini"

torch.set_num_threads(2)


def pytest_configure(config):
    if not (FLICKR / "captions_flickr8k.json").is_file():
        raise pytest.UsageError(f"the shared data folder is missing: {DATA} (set SEESAY_DATA)")


@pytest.fixture(scope="session")
def flickr_records():
    from training.data import load_records

    return load_records(FLICKR / "captions_flickr8k.json", FLICKR / "images")


@pytest.fixture(scope="session")
def tiny_config():
    from model import CaptionerConfig

    return CaptionerConfig(embed_dim=64, hidden_dim=128, attention_dim=64, dropout=0.0, max_length=20)


@pytest.fixture(scope="session")
def overfit_batch(flickr_records):
    """Eight real Flickr8k training photos, one caption each."""
    train = [r for r in flickr_records if r.split == "train"][:8]
    return [r.path for r in train], [r.captions[0] for r in train]


@pytest.fixture(scope="session")
def overfit_captioner(overfit_batch, tiny_config):
    """A tiny captioner trained to memorise overfit_batch; (captioner, final loss)."""
    from model import Captioner, Vocabulary, build_model
    from training.loss import caption_loss

    torch.manual_seed(0)
    paths, captions = overfit_batch
    vocab = Vocabulary.build(captions, min_count=1)
    model = build_model(tiny_config, len(vocab))
    captioner = Captioner(model, vocab)
    feats = captioner.encode(paths).clone()  # (B, P, E); clone leaves inference mode for autograd
    caps = torch.nn.utils.rnn.pad_sequence([torch.tensor(vocab.encode(c)) for c in captions], batch_first=True)
    model.decoder.train()
    opt = torch.optim.Adam(model.decoder.parameters(), lr=3e-3)
    for _ in range(300):
        logits, alphas, _ = model.decoder(feats, caps)
        loss, ce, _ = caption_loss(logits, caps[:, 1:], alphas, alpha_c=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return captioner, float(ce), feats
