"""Short Flickr8k runs with and without the contrastive sentence-embedding stage, scored on the test split.

    python benchmarks/contrastive_ablation.py [--steps 200] [--out benchmarks/results/contrastive_ablation.json]

Both runs use the same seed, cached EfficientNet-Lite0 features and the default model shape; only
contrastive_epochs differs. Scores come from training.evaluate (beam search on held-out test photos).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from report import add_data_argument, save, show

from training.config import TrainConfig
from training.evaluate import evaluate_checkpoint
from training.loop import fit


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--contrastive-epochs", type=int, default=5)
    p.add_argument("--test-images", type=int, default=1000)
    p.add_argument("--work", default="runs/contrastive-ablation")
    p.add_argument("--out", default="benchmarks/results/contrastive_ablation.json")
    args = p.parse_args()
    flickr = Path(args.data) / "flickr8k"
    ann, images = flickr / "captions_flickr8k.json", flickr / "images"
    base = TrainConfig.from_toml("configs/flickr8k-default.toml").override(
        annotations=str(ann), images=str(images), max_steps=args.steps, eval_max_images=250, progress=False,
        device="cpu",
    )
    rows = []
    for epochs in (0, args.contrastive_epochs):
        cfg = base.override(out_dir=f"{args.work}/contrastive-{epochs}", contrastive_epochs=epochs)
        start = time.perf_counter()
        state = fit(cfg, resume=False)
        seconds = time.perf_counter() - start
        ev = evaluate_checkpoint(Path(cfg.out_dir) / "best.pt", ann, images, split="test", beam_size=3,
                                 max_images=args.test_images)
        rows.append({
            "contrastive_epochs": epochs, "steps": state.step, "train_seconds": round(seconds, 1),
            "images_per_s": state.history[-1]["images_per_s"],
            "contrastive_loss_first": state.contrastive_losses[0] if state.contrastive_losses else None,
            "contrastive_loss_last": state.contrastive_losses[-1] if state.contrastive_losses else None,
            "test_images": ev.images, **{k: round(v, 4) for k, v in ev.scores.items()},
        })
    cols = ["contrastive_epochs", "BLEU-1", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr", "images_per_s"]
    show(f"Flickr8k, {args.steps} steps of batch {base.batch_size}, test split, beam 3", cols,
         ([f"{r.get(c, float('nan')):.4g}" if isinstance(r.get(c), float) else r.get(c) for c in cols] for r in rows))
    save(args.out, rows=rows)

if __name__ == "__main__":
    main()
