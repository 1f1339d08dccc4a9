"""Training on real data through the real loaders: COCO layout, resume, DDP, contrastive stage, metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from model import Captioner, Vocabulary, build_model, load_checkpoint, tokenize
from model.describing.describer import Describer
from model.describing.recognition import Recognizer
from training.config import TrainConfig
from training.contrastive import caption_embeddings, info_nce, pretrain_image_embedding
from training.data import data_root, load_records, select_split
from training.evaluate import TRUTH_METRICS, evaluate_checkpoint
from training.loop import fit, record_score
from training.metrics import score_captions
from training.steps import RunState

from .conftest import COCO_MINI

TINY = {"embed_dim": 32, "hidden_dim": 64, "attention_dim": 32, "dropout": 0.0, "max_length": 16}
ROOT = Path(__file__).resolve().parents[1]


def coco_config(tmp_path: Path, cache: Path, **changes) -> TrainConfig:
    ann = COCO_MINI / "annotations"
    base = TrainConfig(
        annotations=str(ann / "captions_train2017.json"), images=str(COCO_MINI / "train2017"),
        val_annotations=str(ann / "captions_val2017.json"), val_images=str(COCO_MINI / "val2017"),
        out_dir=str(tmp_path / "run"), cache_dir=str(cache), min_word_count=2, batch_size=16, epochs=2,
        warmup_steps=5, num_workers=0, eval_max_images=20, eval_beam_size=2, progress=False, device="cpu",
    )
    return base.override(**{f"model.{k}": v for k, v in TINY.items()}, **changes)


@pytest.fixture(scope="module")
def coco_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_coco_layout_loads_through_pycocotools():
    recs = load_records(COCO_MINI / "annotations" / "captions_val2017.json", COCO_MINI / "val2017")
    assert len(recs) == 79 and all(r.path.is_file() and len(r.captions) >= 5 for r in recs)
    assert select_split(recs, "all") == recs and select_split(recs, "test") == []


def test_data_root_is_the_environment_variable_or_shared_data_beside_the_repository(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # never relative to the current directory
    monkeypatch.delenv("SEESAY_DATA", raising=False)
    assert data_root() == ROOT.parent / "shared" / "data"
    monkeypatch.setenv("SEESAY_DATA", str(tmp_path / "elsewhere"))
    assert data_root() == tmp_path / "elsewhere"


def test_tiny_model_trains_on_coco_mini_and_evaluates(tmp_path, coco_cache):
    lines: list[str] = []
    state = fit(coco_config(tmp_path, coco_cache, progress=True), on_log=lines.append)
    run = tmp_path / "run"
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    assert [json.loads(line) for line in lines] == log  # the command shows what the log file keeps
    assert log[1]["loss"] < log[0]["loss"]
    assert log[0]["images_per_s"] > 0 and "val_BLEU-4" in log[0]
    ckpt = load_checkpoint(run / "best.pt")
    assert ckpt.metadata["training_data"] == "captions_train2017.json" and "val_scores" in ckpt.metadata
    ev = evaluate_checkpoint(run / "best.pt", COCO_MINI / "annotations" / "captions_val2017.json",
                             COCO_MINI / "val2017", split="all", beam_size=2, cache_dir=coco_cache,
                             results=tmp_path / "results.json", max_images=10)
    assert set(ev.scores) >= {"BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr", *TRUTH_METRICS}
    assert 0.0 < ev.scores["BLEU-1"] <= 1.0
    assert all(0.0 <= ev.scores[m] <= 1.0 for m in TRUTH_METRICS)
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results) == 10 and {"image_id", "caption"} <= set(results[0])
    assert state.epoch == 2
    # the captions scored are the ones seesay says: the describer's, with its repeat blocking
    records = load_records(COCO_MINI / "annotations" / "captions_val2017.json", COCO_MINI / "val2017")[:10]
    captioner = Captioner.from_checkpoint(run / "best.pt")
    described = Describer(captioner, Recognizer.for_captioner(captioner)).describe([r.path for r in records], 2)
    assert ev.no_repeat_ngram == 2
    assert [ev.captions[r.image_id] for r in records] == [d.caption.text for d in described]


def test_killed_and_resumed_run_continues_with_the_same_state(tmp_path, coco_cache):
    fit(coco_config(tmp_path / "a", coco_cache, epochs=2))
    per_epoch = json.loads((tmp_path / "a" / "run" / "log.jsonl").read_text().splitlines()[0])["batches"]
    fit(coco_config(tmp_path / "b", coco_cache, epochs=2, max_steps=per_epoch))  # as if killed after epoch 1
    one = load_checkpoint(tmp_path / "b" / "run" / "last.pt")
    assert one.extra["run_state"]["epoch"] == 1
    resumed = fit(coco_config(tmp_path / "b", coco_cache, epochs=2))  # the same command, run again
    assert resumed.epoch == 2
    a = load_checkpoint(tmp_path / "a" / "run" / "last.pt")
    b = load_checkpoint(tmp_path / "b" / "run" / "last.pt")
    assert a.extra["run_state"]["step"] == b.extra["run_state"]["step"]
    for k in a.state_dict:
        assert torch.allclose(a.state_dict[k], b.state_dict[k], atol=1e-6), k


def test_two_process_gloo_ddp_trains_one_model(tmp_path, coco_cache):
    fit(coco_config(tmp_path, coco_cache, epochs=1))  # make sure the cache exists before two ranks race
    ann = COCO_MINI / "annotations"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "training",
        "train", "--annotations", str(ann / "captions_train2017.json"), "--images", str(COCO_MINI / "train2017"),
        "--val-annotations", str(ann / "captions_val2017.json"), "--val-images", str(COCO_MINI / "val2017"),
        "--out", str(tmp_path / "ddp"), "--cache-dir", str(coco_cache), "--epochs", "1", "--batch-size", "8",
        "--device", "cpu", "--num-workers", "0", "--eval-max-images", "10", "--quiet",
        "--set", "min_word_count=2", "--set", "warmup_steps=5",
        *[a for k, v in TINY.items() for a in ("--set", f"model.{k}={v}")],
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads((tmp_path / "ddp" / "log.jsonl").read_text().splitlines()[0])
    assert row["world_size"] == 2
    single = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[0])
    assert row["batches"] == single["batches"]  # 2 ranks x batch 8 cover the pairs like 1 x batch 16
    assert Captioner.from_checkpoint(tmp_path / "ddp" / "best.pt").caption(
        [COCO_MINI / "val2017" / "000000000139.jpg"])[0].words


def test_contrastive_stage_lowers_its_loss_on_flickr_captions(flickr_records, tmp_path):
    from model import CaptionerConfig, Vocabulary, build_model

    recs = [r for r in flickr_records if r.split == "train"][:128]
    emb, owner = caption_embeddings(recs, tmp_path)
    assert emb.shape == (640, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
    model = build_model(CaptionerConfig(**TINY), 10)
    cap = Captioner(model, Vocabulary(["<pad>", "<bos>", "<eos>", "<unk>", "a", "b", "c", "d", "e", "f"]))
    feats = torch.cat([cap.encode_regions([r.path for r in recs[i : i + 32]]) for i in range(0, 128, 32)]).clone()
    losses = pretrain_image_embedding(
        model.decoder, lambda idx: feats[idx], emb, owner, epochs=15, batch_size=32, lr=3e-3,
        temperature=0.05, seed=0, device=torch.device("cpu"),
    )
    assert losses[-1] < 0.7 * losses[0], losses
    # own captions now rank above others for most photos
    with torch.no_grad():
        img = torch.nn.functional.normalize(model.decoder.embed_image(feats), dim=-1)
    sims = img @ torch.from_numpy(emb).T  # (128, 640)
    assert (torch.from_numpy(owner)[sims.argmax(1)] == torch.arange(128)).float().mean() > 0.3


def test_info_nce_prefers_matching_pairs():
    text = torch.eye(4, 8).repeat_interleave(2, 0)  # two captions per photo
    owner = torch.arange(4).repeat_interleave(2)
    good = info_nce(torch.eye(4, 8), text, owner, 0.1)
    bad = info_nce(torch.eye(4, 8).roll(1, 0), text, owner, 0.1)
    assert good < bad


def test_metrics_reward_the_matching_caption():
    refs = {1: ["a dog runs on the grass", "a brown dog running"], 2: ["a girl on a beach", "a child in the sand"]}
    good = score_captions(refs, {1: "a dog runs on grass", 2: "a girl on the beach"})
    bad = score_captions(refs, {1: "a girl on the beach", 2: "a dog runs on grass"})
    for name in ("BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr"):
        assert good[name] > bad[name]


def test_hard_attention_samples_regions_and_learns_with_reinforce(overfit_captioner, overfit_batch):
    from model import CaptionerConfig, Vocabulary, build_model
    from training.loss import caption_loss, reinforce_loss

    _, _, feats = overfit_captioner
    captions = overfit_batch[1]
    vocab = Vocabulary.build(captions, min_count=1)
    torch.manual_seed(0)
    model = build_model(CaptionerConfig(**TINY, hard_attention=True), len(vocab), pretrained=False)
    caps = torch.nn.utils.rnn.pad_sequence([torch.tensor(vocab.encode(c)) for c in captions], batch_first=True)
    opt = torch.optim.Adam(model.decoder.parameters(), lr=3e-3)
    model.decoder.train()
    baseline, ces = 0.0, []
    for step in range(60):
        out = model.decoder(feats, caps)
        assert out.regions is not None and out.regions.shape == caps[:, 1:].shape
        loss, ce, _ = caption_loss(out.logits, caps[:, 1:], out.alphas, alpha_c=0.1)
        policy, reward = reinforce_loss(out.logits, caps[:, 1:], out.alphas, out.regions, baseline)
        baseline = 0.9 * baseline + 0.1 * reward if step else reward
        opt.zero_grad()
        (loss + policy).backward()
        assert model.decoder.attention.score.weight.grad.abs().sum() > 0  # the policy gradient reaches attention
        opt.step()
        ces.append(float(ce))
    assert ces[-1] < 0.5 * ces[0]
    model.eval()
    assert model.decoder(feats, caps).regions is None  # inference uses the expected context


def test_corpus_cider_is_pycocoevalcaps_cider_when_the_corpus_is_the_scored_set():
    from pycocoevalcap.cider.cider import Cider

    from training.scst import CorpusCider

    recs = load_records(COCO_MINI / "annotations" / "captions_val2017.json", COCO_MINI / "val2017")[:12]
    refs = [[" ".join(tokenize(c)) for c in r.captions] for r in recs]
    hyps = [refs[(i + 1) % len(refs)][0] if i % 3 else refs[i][1] for i in range(len(refs))]  # some right
    ours = CorpusCider([r.captions for r in recs]).scores(hyps, list(range(len(recs))))
    _, theirs = Cider().compute_score(dict(enumerate(refs)), {i: [h] for i, h in enumerate(hyps)})
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert ours[0] > ours[1]  # a reference of its own photo beats one of another photo


def test_self_critical_stage_follows_cross_entropy_and_selects_by_cider(tmp_path, coco_cache):
    cfg = coco_config(tmp_path, coco_cache, epochs=2, scst_epochs=2, select_metric="CIDEr", patience=10)
    state = fit(cfg)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    scst = [r for r in log if "reward_cider" in r]
    assert [r["epoch"] for r in scst] == [3, 4] and state.stage == "self-critical"
    assert all(np.isfinite(r["loss"]) and r["reward_cider"] >= 0 for r in scst)
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best.metadata["val_scores"]["CIDEr"] == pytest.approx(max(r["val_CIDEr"] for r in log), abs=1e-5)
    assert best.metadata["scst_epochs"] == 2


def test_a_self_critical_step_makes_better_rewarded_samples_more_likely():
    from model.captioner.config import CaptionerConfig
    from training.scst import CorpusCider, sample_captions, scst_loss

    recs = load_records(COCO_MINI / "annotations" / "captions_val2017.json", COCO_MINI / "val2017")[:2]
    vocab = Vocabulary.build((c for r in recs for c in r.captions), 1)  # few words: samples share some
    torch.manual_seed(0)
    model = build_model(CaptionerConfig(encoder="efficientnet-lite0", **TINY), len(vocab))
    decoder = model.decoder.train()
    feats = torch.randn(2, 49, decoder.encoder_dim)
    cider = CorpusCider([r.captions for r in recs])

    def log_probs(words: torch.Tensor) -> torch.Tensor:  # teacher-forced log p of each sampled caption
        caps = torch.cat([torch.full((len(words), 1), vocab.bos_id), words], 1)
        logits = decoder(feats.repeat_interleave(4, 0), torch.cat([caps, caps[:, -1:]], 1)).logits[:, :-1]
        logits = logits.index_fill(2, torch.tensor([vocab.pad_id, vocab.bos_id, vocab.unk_id]), float("-inf"))
        lp = logits.log_softmax(-1).gather(2, words.unsqueeze(-1)).squeeze(-1)
        return (lp * (words != vocab.pad_id)).sum(1)

    torch.manual_seed(1)
    words, _, _ = sample_captions(decoder, feats, vocab, samples=4, max_length=8)
    reward = torch.from_numpy(cider.scores([" ".join(vocab.decode(w)) for w in words.tolist()], [0] * 4 + [1] * 4))
    advantage = (reward.view(2, 4) - reward.view(2, 4).mean(1, keepdim=True)).flatten()
    assert advantage.abs().sum() > 0  # the samples differ in reward
    with torch.no_grad():
        before = log_probs(words)
    torch.manual_seed(1)  # the same samples again
    loss, _ = scst_loss(decoder, feats, [0, 1], vocab, cider, samples=4, max_length=8)
    opt = torch.optim.SGD(decoder.parameters(), lr=0.05)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        after = log_probs(words)
    assert float((advantage * (after - before)).sum()) > 0


def test_a_run_resumed_with_another_select_metric_chooses_best_pt_afresh():
    state = RunState()
    assert record_score(state, "CIDEr", 0.50) and not record_score(state, "CIDEr", 0.45)  # 0.45 < 0.50
    assert state.bad_epochs == 1
    assert record_score(state, "BLEU-4", 0.21)  # BLEU-4 0.21 is not worse than CIDEr 0.50: a new choice
    assert (state.best_metric, state.best_score, state.bad_epochs) == ("BLEU-4", 0.21, 0)
    assert not record_score(state, "BLEU-4", 0.20)


def test_an_interrupted_feature_cache_leaves_nothing_behind_and_the_next_run_builds_it(tmp_path, monkeypatch):
    from model.captioner.encoder import build_encoder
    from training import feature_cache

    records = load_records(COCO_MINI / "annotations" / "captions_val2017.json", COCO_MINI / "val2017")[:6]
    encoder = build_encoder("efficientnet-lite0")
    read = feature_cache.ImageFiles.__getitem__

    def interrupted(self, i):
        if i == 3:
            raise KeyboardInterrupt  # Ctrl-C halfway through
        return read(self, i)

    def build():
        return feature_cache.build_feature_cache(records, encoder, tmp_path, device=torch.device("cpu"),
                                                 batch_size=2, num_workers=0, progress=False)

    monkeypatch.setattr(feature_cache.ImageFiles, "__getitem__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build()
    assert list(tmp_path.iterdir()) == []  # no full-size partial file left on disk
    monkeypatch.undo()
    cache = build()
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".npy"]
    assert len(cache) == 6 and cache.ok.all()
    assert json.loads(next(tmp_path.glob("*.json")).read_text())["complete"] is True
