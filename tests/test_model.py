"""The captioner's parts on CPU: shapes, real ImageNet weights, beam search, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch
from torchvision.models import ResNet18_Weights

from model import (
    Captioner,
    CaptionerConfig,
    CheckpointError,
    ImageError,
    Vocabulary,
    build_model,
    checkpoint_data,
    from_bgr_frame,
    load_checkpoint,
    save_checkpoint,
)
from model.captioner.attention_map import render_attention
from model.captioner.beam_search import beam_search
from model.captioner.encoder import EfficientNetLiteEncoder, ResNetEncoder

IMAGENET = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]


@pytest.fixture(scope="module")
def lite0():
    return EfficientNetLiteEncoder().eval()


def test_encoder_attention_and_decoder_shapes(tiny_config):
    vocab = Vocabulary.build(["a dog runs on grass", "a cat sits"], min_count=1)
    for attention in ("additive", "multihead"):
        cfg = CaptionerConfig(**{**tiny_config.to_dict(), "attention": attention})
        model = build_model(cfg, len(vocab))
        images = torch.stack([model.encoder.preprocess(skimage.data.chelsea())] * 2)  # (2, 3, 224, 224)
        feats = model.encoder(images)
        assert feats.shape == (2, 49, 1280)
        caps = torch.tensor([vocab.encode("a dog runs"), vocab.encode("a cat sits")])  # (2, 5)
        logits, alphas, _ = model.decoder(feats, caps)
        assert logits.shape == (2, 4, len(vocab))
        assert alphas.shape == (2, 4, 49)
        assert torch.allclose(alphas.sum(-1), torch.ones(2, 4), atol=1e-5)


def test_resnet_encoder_gives_a_grid_of_its_channels_and_refuses_missing_weights(tmp_path):
    enc = ResNetEncoder("resnet18", weights=None)
    assert enc(torch.zeros(1, 3, 224, 224)).shape == (1, 49, 512)
    with pytest.raises(FileNotFoundError, match="weights not found"):
        ResNetEncoder("resnet18", weights=tmp_path / "nope.pth")


def test_efficientnet_features_of_a_photo_differ_from_noise(lite0):
    photo = lite0(lite0.preprocess(skimage.data.astronaut()).unsqueeze(0))
    rng = np.random.default_rng(0)
    noise = lite0(lite0.preprocess(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)).unsqueeze(0))
    cos = torch.nn.functional.cosine_similarity(photo.mean(1), noise.mean(1)).item()
    assert cos < 0.9
    assert photo.std() > 0.1


@pytest.mark.parametrize(
    ("photo", "accepted"),
    [
        (skimage.data.chelsea, {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}),
        (skimage.data.coffee, {"espresso", "cup", "coffee mug"}),
    ],
)
def test_efficientnet_imagenet_head_names_real_photos(lite0, photo, accepted):
    with torch.inference_mode():
        logits = lite0.classify(lite0.preprocess(photo()).unsqueeze(0))
    assert IMAGENET[int(logits.argmax())] in accepted


def test_efficientnet_imagenet_head_sees_a_dog_in_a_flickr_dog_photo(lite0, flickr_records):
    dogs = [r for r in flickr_records if r.split == "test" and sum("dog" in c.lower() for c in r.captions) == 5][:5]
    dog_classes = set(range(151, 269))  # ImageNet's dog breeds
    with torch.inference_mode():
        top = lite0.classify(torch.stack([lite0.preprocess(r.path) for r in dogs])).argmax(-1).tolist()
    assert sum(t in dog_classes for t in top) >= 4, [IMAGENET[t] for t in top]


def test_bgr_frames_are_turned_into_rgb():
    rgb = skimage.data.coffee()
    bgr = rgb[:, :, ::-1].copy()
    assert np.array_equal(np.asarray(from_bgr_frame(bgr)), rgb)


def test_tiny_model_overfits_real_photos_and_beam_search_reproduces_captions(overfit_captioner, overfit_batch):
    captioner, ce, _ = overfit_captioner
    assert ce < 0.05
    paths, captions = overfit_batch
    out = captioner.caption(paths, beam_size=3)
    assert [c.words for c in out] == [captioner.vocabulary.decode(captioner.vocabulary.encode(c)) for c in captions]
    assert all(0.5 < c.confidence <= 1.0 for c in out)
    assert all(c.attention.shape == (len(c.words), 7, 7) for c in out)
    assert np.allclose(out[0].attention.sum(axis=(1, 2)), 1.0, atol=1e-4)


def test_beam_size_one_is_greedy_decoding(overfit_captioner):
    captioner, _, feats = overfit_captioner
    torch.manual_seed(1)
    noisy = feats + 0.5 * torch.randn_like(feats)  # off the memorised inputs, so choices are less certain
    dec, vocab = captioner.model.decoder, captioner.vocabulary
    hyps = beam_search(dec, noisy, bos_id=vocab.bos_id, eos_id=vocab.eos_id, beam_size=1, max_length=20)
    with torch.inference_mode():  # an independent greedy loop
        state, memory = dec.init_state(noisy), dec.project(noisy)
        tokens = torch.full((len(noisy),), vocab.bos_id)
        greedy, done = [[] for _ in noisy], [False] * len(noisy)
        for _ in range(21):
            logits, state, _ = dec.step(tokens, state, noisy, memory)
            tokens = logits.argmax(-1)
            for i, t in enumerate(tokens.tolist()):
                if not done[i]:
                    done[i] = t == vocab.eos_id
                    if not done[i]:
                        greedy[i].append(t)
    assert [h.tokens for h in hyps] == [g[:20] for g in greedy]


def test_wider_beams_never_score_worse_than_greedy(overfit_captioner):
    captioner, _, feats = overfit_captioner
    torch.manual_seed(2)
    noisy = feats + 0.8 * torch.randn_like(feats)
    vocab = captioner.vocabulary
    kw = dict(bos_id=vocab.bos_id, eos_id=vocab.eos_id, max_length=20)
    g = beam_search(captioner.model.decoder, noisy, beam_size=1, **kw)
    b = beam_search(captioner.model.decoder, noisy, beam_size=5, **kw)
    assert all(bb.score >= gg.score - 1e-4 for bb, gg in zip(b, g))


def test_checkpoint_round_trip_gives_identical_captions(overfit_captioner, overfit_batch, tmp_path):
    captioner, _, _ = overfit_captioner
    path = save_checkpoint(tmp_path / "c.pt", checkpoint_data(captioner.model, captioner.vocabulary, {"note": "x"}))
    assert not any(k.startswith("encoder.") for k in load_checkpoint(path).state_dict)  # packaged weights left out
    again = Captioner.from_checkpoint(path)
    paths, _ = overfit_batch
    a, b = captioner.caption(paths[:4]), again.caption(paths[:4])
    assert [x.words for x in a] == [y.words for y in b]
    assert [round(x.confidence, 5) for x in a] == [round(y.confidence, 5) for y in b]
    assert again.metadata["note"] == "x"


def test_damaged_and_foreign_checkpoints_raise_clear_errors(overfit_captioner, tmp_path):
    captioner, _, _ = overfit_captioner
    good = save_checkpoint(tmp_path / "c.pt", checkpoint_data(captioner.model, captioner.vocabulary, {}))
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="damaged"):
        Captioner.from_checkpoint(cut)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a seesay"):
        Captioner.from_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="not found"):
        Captioner.from_checkpoint(tmp_path / "absent.pt")


def test_unreadable_images_raise_image_error(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    from model import load_image

    with pytest.raises(ImageError):
        load_image(bad)
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.jpg")


def test_attention_figure_has_a_panel_per_word(overfit_captioner, overfit_batch):
    captioner, _, _ = overfit_captioner
    cap = captioner.caption(overfit_batch[0][:1])[0]
    sheet = render_attention(overfit_batch[0][0], cap.words, cap.attention, columns=5)
    panels = len(cap.words) + 1
    assert sheet.size == (5 * 160, -(-panels // 5) * 182)


def test_inference_steps_read_regions_by_linearity_and_give_the_training_steps_numbers(default_captioner):
    dec = default_captioner.model.decoder
    feats = default_captioner.encode_regions([skimage.data.chelsea(), skimage.data.coffee()]).clone()  # (2, P, E)
    tokens = torch.tensor([default_captioner.vocabulary.bos_id] * 2)

    def three_steps(memory):
        state, out = dec.init_state(feats), []
        for word in (tokens, tokens + 7, tokens + 9):
            logits, state, alpha = dec.step(word, state, feats, memory)
            out.append((logits, alpha))
        return out

    with torch.inference_mode():
        fast_memory = dec.project(feats)
        assert fast_memory.region_gates is not None and fast_memory.region_gates.shape == (2, feats.shape[1], 4 * 512)
        fast = three_steps(fast_memory)
    plain_memory = dec.project(feats)  # with gradients on: no region gates, the LSTMCell path
    assert plain_memory.region_gates is None
    plain = three_steps(plain_memory)
    for (a, alpha_a), (b, alpha_b) in zip(fast, plain):
        assert torch.allclose(a, b.detach(), atol=1e-4) and torch.allclose(alpha_a, alpha_b.detach(), atol=1e-6)
    row = int(tokens[0]) + 7
    saved = dec.embedding.weight[row].detach().clone()
    with torch.no_grad():  # the word table follows the weights
        dec.embedding.weight[row] += 1.0
    try:
        with torch.inference_mode():
            changed = three_steps(dec.project(feats))
        assert not torch.allclose(changed[1][0], fast[1][0], atol=1e-3)
    finally:
        with torch.no_grad():
            dec.embedding.weight[row] = saved
    with torch.inference_mode():
        assert torch.equal(three_steps(dec.project(feats))[1][0], fast[1][0])  # restored, and so is the table
        dec.invalidate_inference_cache()
        with torch.autocast("cpu", dtype=torch.bfloat16):  # a table made under autocast stays float32
            three_steps(dec.project(feats))
        assert torch.equal(three_steps(dec.project(feats))[1][0], fast[1][0])
