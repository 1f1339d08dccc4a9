"""Training throughput: captions/s and tokens/s with the feature cache, without it, and for a naive loop.

    python benchmarks/training_throughput.py [--photos 256] [--steps 20] [--batch-size 32] [--device cpu|cuda]

All three train the default model's decoder on real Flickr8k training photos with the same loss
(`training.loss.caption_loss`):

- cached: region features read from the fp16 memory-mapped cache (`training.feature_cache`); bf16 autocast
  on CUDA. The cache's own build time is reported separately.
- images: photos decoded by DataLoader workers and run through the frozen encoder every step (what
  `--fine-tune-encoder` or `cache_features = false` does); bf16 and channels_last on CUDA.
- naive: the loop of the older captioners: photos decoded one by one in the training process, encoder and
  decoder in fp32, no workers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from report import add_data_argument, peak_rss_mb, save, show
from torch.utils.data import DataLoader

from model import Vocabulary, build_model
from model.captioner.config import CaptionerConfig
from training.data import CaptionPairs, ImageFiles, load_records, pad_captions, select_split
from training.feature_cache import build_feature_cache
from training.loss import caption_loss


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--photos", type=int, default=256)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out")
    args = p.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(os.cpu_count() or 1)
    flickr = Path(args.data) / "flickr8k"
    records = select_split(load_records(flickr / "captions_flickr8k.json", flickr / "images"), "train")[: args.photos]
    vocab = Vocabulary.build((c for r in records for c in r.captions), 1)
    config = CaptionerConfig(hidden_dim=512)
    model = build_model(config, len(vocab)).to(device)
    model.encoder.eval().requires_grad_(False)
    cuda = device.type == "cuda"

    start = time.perf_counter()
    cache = build_feature_cache(records, model.encoder, tempfile.mkdtemp(prefix="seesay-cache-"), device=device,
                                progress=False)
    cache_rate = len(records) / (time.perf_counter() - start)

    pairs = CaptionPairs(records, vocab, config.max_length)
    photos = ImageFiles(records, model.encoder)

    class PairsWithPhotos(torch.utils.data.Dataset):
        def __len__(self):
            return len(pairs)

        def __getitem__(self, i):
            idx, cap = pairs[i]
            return idx, photos[idx][0], cap

    def collate_photos(batch):
        idx, caps = pad_captions([(i, c) for i, _, c in batch])
        return idx, torch.stack([b[1] for b in batch]), caps

    def loader(mode: str):
        """(photo indices, preprocessed photos or None, captions) batches, forever."""
        while True:
            if mode == "images":  # photos decoded by worker processes, ahead of the training step
                yield from DataLoader(PairsWithPhotos(), batch_size=args.batch_size, shuffle=True, drop_last=True,
                                      collate_fn=collate_photos, num_workers=2, persistent_workers=False)
            else:
                for idx, caps in DataLoader(pairs, batch_size=args.batch_size, shuffle=True,
                                            collate_fn=pad_captions, drop_last=True):
                    yield idx, None, caps

    def train(mode: str) -> dict:
        torch.manual_seed(0)
        model.decoder.load_state_dict(build_model(config, len(vocab), pretrained=False).decoder.state_dict())
        model.decoder.train()
        opt = torch.optim.AdamW(model.decoder.parameters(), lr=5e-4)
        batches = loader(mode)
        fast = mode != "naive"
        captions = tokens = 0
        for step in range(args.steps + 2):  # two warm-up steps
            if step == 2:
                sync(device)
                t0 = time.perf_counter()
                captions = tokens = 0
            idx, images, caps = next(batches)
            with torch.autocast(device.type, torch.bfloat16, enabled=cuda and fast):
                if mode == "cached":
                    feats = cache.batch(idx).to(device, non_blocking=True)
                else:
                    if images is None:  # naive: decode each photo here, one after another
                        images = torch.stack([photos[i][0] for i in idx.tolist()])
                    images = images.to(device)
                    if cuda and fast:
                        images = images.contiguous(memory_format=torch.channels_last)
                    with torch.no_grad():
                        feats = model.encoder(images)
                caps = caps.to(device)
                out = model.decoder(feats.float() if not fast else feats, caps)
                loss, _, _ = caption_loss(out.logits, caps[:, 1:], out.alphas, pad_id=vocab.pad_id)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.decoder.parameters(), 5.0)
            opt.step()
            captions += caps.size(0)
            tokens += int((caps[:, 1:] != vocab.pad_id).sum())
        sync(device)
        seconds = time.perf_counter() - t0
        return {"mode": mode, "captions_per_s": captions / seconds, "tokens_per_s": tokens / seconds,
                "steps": args.steps, "batch_size": args.batch_size}

    rows = [train("cached"), train("images"), train("naive")]
    naive = rows[-1]["captions_per_s"]
    for r in rows:
        r["vs_naive"] = r["captions_per_s"] / naive
    name = torch.cuda.get_device_name() if cuda else f"{os.cpu_count()} CPU cores"
    show(f"decoder training throughput, hidden 512, batch {args.batch_size}, {name}",
         ("mode", "captions/s", "tokens/s", "x naive"),
         ([r["mode"], f"{r['captions_per_s']:.1f}", f"{r['tokens_per_s']:.0f}", f"{r['vs_naive']:.2f}"] for r in rows),
         f"feature cache built at {cache_rate:.1f} photos/s; peak RSS {peak_rss_mb():.0f} MB")
    save(args.out or f"benchmarks/results/training_throughput_{'gpu' if cuda else 'cpu'}.json", device=name,
         feature_cache_photos_per_s=cache_rate, rows=rows,
         gpu_peak_mem_mb=torch.cuda.max_memory_allocated() / 2**20 if cuda else None)

if __name__ == "__main__":
    main()
