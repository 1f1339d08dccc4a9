"""Captioning throughput: photos/s for batch sizes 1-256, end to end (encoder + beam search).

    python benchmarks/caption_throughput.py [--device cpu|cuda] [--encoders efficientnet-lite0 resnet152]
        [--batches 1 4 16 64 256] [--out benchmarks/results/caption_throughput_<device>.json]

Input is a pool of real Flickr8k test photos, decoded and preprocessed once and kept on the device, so the
figures are the model's (JPEG decoding is `benchmarks/indexing.py`'s business). EfficientNet-Lite0 runs the
bundled model; ResNet-152 has random weights (speed only) with a decoder of the same size, whose random
beams run to the maximum length: the decoder's worst case. On CUDA, the batched runs use bf16 autocast and
channels_last; every run is compared with a naive loop (fp32, batch 1, one photo at a time) measured in the
same process, and with the device's measured matmul peak.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from model import Captioner, build_model
from model.beam_search import beam_search
from report import peak_rss_mb, save, show


def build(name: str, device: str) -> Captioner:
    default = Captioner.default()
    if name == default.config.encoder:
        return Captioner.from_checkpoint(Path(__file__).resolve().parents[1] / "model/weights/flickr8k-default.pt",
                                         device)
    config = type(default.config)(**{**default.config.to_dict(), "encoder": name})
    model = build_model(config, len(default.vocabulary), pretrained=False)
    return Captioner(model, default.vocabulary, device=device)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_batch(captioner: Captioner, images: torch.Tensor, beam: int, fast: bool) -> None:
    """Encoder + beam search for one batch of preprocessed images."""
    cuda = images.is_cuda
    with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=cuda and fast):
        if cuda and fast:
            images = images.contiguous(memory_format=torch.channels_last)
        feats = captioner.model.encoder(images)
        v = captioner.vocabulary
        beam_search(captioner.model.decoder, feats.float(), bos_id=v.bos_id, eos_id=v.eos_id, beam_size=beam,
                    max_length=captioner.config.max_length, banned=(v.pad_id, v.bos_id, v.unk_id))


def throughput(captioner, pool, batch, beam, fast, device, min_seconds=2.0, min_reps=2) -> float:
    images = pool[torch.arange(batch) % len(pool)]
    run_batch(captioner, images, beam, fast)  # warm-up
    sync(device)
    reps, start = 0, time.perf_counter()
    while reps < min_reps or time.perf_counter() - start < min_seconds:
        run_batch(captioner, images, beam, fast)
        sync(device)
        reps += 1
    return batch * reps / (time.perf_counter() - start)


def flops_per_photo(captioner, pool, beam) -> float:
    with FlopCounterMode(display=False) as counter:
        run_batch(captioner, pool[:1], beam, fast=False)
    return float(counter.get_total_flops())


def matmul_peak(device: str) -> tuple[float, str]:
    """Measured TFLOP/s of a large matmul: bf16 on CUDA, fp32 on CPU."""
    dtype, n = (torch.bfloat16, 8192) if device.startswith("cuda") else (torch.float32, 2048)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2.0:
        a @ b
        sync(device)
        reps += 1
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e12, str(dtype).removeprefix("torch.")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.environ.get("SEESAY_DATA", "../shared/data"))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--encoders", nargs="+", default=["efficientnet-lite0", "resnet152"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 4, 16, 64, 256])
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--out")
    args = p.parse_args()
    device = args.device
    torch.set_num_threads(os.cpu_count() or 1)
    flickr = Path(args.data) / "flickr8k"
    photos = [flickr / "images" / n for n in (flickr / "test.txt").read_text().split()[:64]]
    peak, peak_dtype = matmul_peak(device)
    gpu = torch.cuda.get_device_name() if device.startswith("cuda") else None
    rows = []
    for name in args.encoders:
        captioner = build(name, device)
        pool = torch.stack([captioner.encoder.preprocess(p) for p in photos]).to(device)
        flops = flops_per_photo(captioner, pool, args.beam)
        naive = throughput(captioner, pool, 1, args.beam, fast=False, device=device)
        for batch in args.batches:
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            rate = throughput(captioner, pool, batch, args.beam, fast=True, device=device)
            rows.append({
                "encoder": name, "batch": batch, "photos_per_s": rate, "gflop_per_photo": flops / 1e9,
                "tflops": rate * flops / 1e12, "share_of_matmul_peak": rate * flops / 1e12 / peak,
                "vs_naive_loop": rate / naive, "naive_photos_per_s": naive,
                "gpu_peak_mem_mb": torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None,
            })
            print(f"{name} batch {batch}: {rate:.1f} photos/s", flush=True)

    show(f"captioning throughput, beam {args.beam}, {gpu or f'{os.cpu_count()} CPU cores'}"
         f"{' (bf16, channels_last)' if gpu else ' (fp32)'}",
         ("encoder", "batch", "photos/s", "GFLOP/photo", "TFLOP/s", "of peak", "x naive loop"),
         ([r["encoder"], r["batch"], f"{r['photos_per_s']:.1f}", f"{r['gflop_per_photo']:.2f}", f"{r['tflops']:.3f}",
           f"{100 * r['share_of_matmul_peak']:.1f}%", f"{r['vs_naive_loop']:.2f}"] for r in rows),
         f"measured matmul peak {peak:.2f} TFLOP/s ({peak_dtype}); peak RSS {peak_rss_mb():.0f} MB")
    save(args.out or f"benchmarks/results/caption_throughput_{'gpu' if gpu else 'cpu'}.json", gpu=gpu,
         device=device, beam=args.beam, matmul_peak_tflops=peak, matmul_dtype=peak_dtype, rows=rows)

if __name__ == "__main__":
    main()
