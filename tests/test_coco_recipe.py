"""The COCO recipe (configs/coco-karpathy.toml) runs end to end as a user starts it, on COCO-mini.

COCO-mini comes in the official 2017 layout; the test lays it out as the recipe expects full COCO (a data
root with coco/dataset_coco.json in Karpathy's format, coco/train2014/ and coco/val2014/), so the config's
own data paths, splits, encoder, fine-tuning and bf16 setting are used unchanged. Only sizes, steps and the
device are overridden from the command line; the photos shrink to 128 px because back-propagating through
Lite2's depthwise convolutions at 260 px costs seconds a step on a CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from model import Captioner, load_checkpoint
from training.config import TrainConfig

from .conftest import COCO_MINI

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "configs" / "coco-karpathy.toml"
TINY = {"embed_dim": 16, "hidden_dim": 32, "attention_dim": 16, "dropout": 0.0, "max_length": 12, "image_size": 128}


def karpathy_data_root(tmp_path: Path) -> Path:
    """A data root holding COCO-mini as Karpathy's split file over COCO-style image folders.

    train2017 photos become "train" and "restval" (both training data), val2017 photos "val" and "test".
    """
    coco = tmp_path / "data" / "coco"
    coco.mkdir(parents=True)
    images = []
    for official, folder, splits in (("train2017", "train2014", ("train", "restval")),
                                     ("val2017", "val2014", ("val", "test"))):
        (coco / folder).symlink_to(COCO_MINI / official, target_is_directory=True)
        data = json.loads((COCO_MINI / "annotations" / f"captions_{official}.json").read_text())
        caps: dict[int, list[str]] = {}
        for a in data["annotations"]:
            caps.setdefault(a["image_id"], []).append(a["caption"])
        infos = sorted(data["images"], key=lambda i: i["id"])
        for n, info in enumerate(infos):
            images.append({
                "filepath": folder, "filename": info["file_name"], "cocoid": info["id"],
                "split": splits[n * len(splits) // len(infos)],
                "sentences": [{"raw": c} for c in caps[info["id"]]],
            })
    (coco / "dataset_coco.json").write_text(json.dumps({"images": images, "dataset": "coco"}))
    return coco.parent


def test_recipe_trains_on_full_coco_karpathy_splits_with_a_fine_tuned_lite2_in_bf16():
    cfg = TrainConfig.from_toml(RECIPE)
    assert (cfg.annotations, cfg.images) == ("coco/dataset_coco.json", "coco")
    assert (cfg.model.encoder, cfg.model.image_size) == ("efficientnet-lite2", 260)
    assert cfg.fine_tune_encoder and cfg.amp and cfg.batch_size >= 32 and cfg.eval_max_images == 0
    text = RECIPE.read_text()
    assert "torchrun --nproc_per_node N -m training train --config configs/coco-karpathy.toml" in text
    assert "coco/train2014/" in text and "coco/val2014/" in text


def test_recipe_runs_end_to_end_on_coco_mini_and_its_best_checkpoint_captions_a_photo(tmp_path):
    data = karpathy_data_root(tmp_path)
    run = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "training", "train", "--config", str(RECIPE), "--out", str(run),
        "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--num-workers", "0", "--batch-size", "4",
        "--max-steps", "3", "--eval-max-images", "4", "--quiet", "--set", "eval_beam_size=2",
        *[a for k, v in TINY.items() for a in ("--set", f"model.{k}={v}")],
    ]
    env = {**os.environ, "SEESAY_DATA": str(data), "OMP_NUM_THREADS": "2", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]

    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [3] and "val_BLEU-4" in log[0]
    ckpt = load_checkpoint(run / "best.pt")
    assert ckpt.metadata["training_data"] == "dataset_coco.json"
    assert ckpt.metadata["train_images"] == 80 and ckpt.metadata["fine_tuned_encoder"] is True
    assert ckpt.config["encoder"] == "efficientnet-lite2" and ckpt.config["image_size"] == 128
    assert any(k.startswith("encoder.") for k in ckpt.state_dict)  # the fine-tuned encoder travels with it

    captioner = Captioner.from_checkpoint(run / "best.pt")
    caption = captioner.caption([COCO_MINI / "val2017" / "000000000139.jpg"], 2)[0]
    assert caption.words and set(caption.words) <= set(captioner.vocabulary.words)
    assert caption.attention.shape == (len(caption.words), *captioner.encoder.grid_size())
