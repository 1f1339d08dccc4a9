"""Captioning throughput: photos/s for batch sizes 1-256, end to end (encoder + beam search).

    python benchmarks/caption_throughput.py [--device cpu|cuda] [--encoders efficientnet-lite0 resnet152]
        [--batches 1 4 16 64 256] [--runs 5] [--micro-batches 1 2 4 8] [--as-written] [--threads N --clock cpu]
        [--out benchmarks/results/caption_throughput_<cpu|gpu>.json]

Input is a pool of real Flickr8k test photos, decoded and preprocessed once and kept on the device, so the
figures are the model's (JPEG decoding is `benchmarks/indexing.py`'s business). Every batch size sees the
same photos in turn, so their captions, and so the decoder's work per photo, are alike. EfficientNet-Lite0
runs the bundled model; other encoders have random weights (speed only) with a decoder of the same size,
whose random beams run to the maximum length: the decoder's worst case.

Each figure is the median of --runs timed runs with their spread; the runs of all batch sizes (and
variants) are interleaved, so a burst of load from elsewhere falls on all of them alike. The machine's
matmul GFLOP/s (fp32 on CPU, bf16 on CUDA) is measured once per round in the same run, and each figure is
stated as a fraction of that bound. --micro-batches sweeps the encoder's CPU micro-batch (issue 15);
--as-written adds the encoder as written (batch norm unfolded, whole batch at once) for a paired ratio.
On a busy machine, --threads 1 --clock cpu counts photos per CPU-second of this process: far less moved by
other load than wall time, for comparing variants; the figures to publish are wall time on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from report import add_data_argument, fmt, matmul_gflops, peak_rss_mb, save, show, spread
from torch.utils.flop_counter import FlopCounterMode

from model import Captioner, build_model
from model.captioner.encoder import EFFICIENTNET_LITES

DEFAULT = Path(__file__).resolve().parents[1] / "model/weights/flickr8k-default.pt"


def build(name: str, device: str) -> Captioner:
    """The bundled captioner, or one of the same size on another encoder with random weights."""
    default = Captioner.from_checkpoint(DEFAULT, device)
    if name == default.config.encoder:
        return default
    config = type(default.config)(**{**default.config.to_dict(), "encoder": name,
                                     "image_size": EFFICIENTNET_LITES.get(name, 224)})
    model = build_model(config, len(default.vocabulary), pretrained=False)
    return Captioner(model, default.vocabulary, device=device)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def caption_batch(captioner: Captioner, images: torch.Tensor, beam: int, as_written: bool = False) -> None:
    """Encoder + beam search for one batch of preprocessed images (B, 3, S, S), as Captioner.caption runs."""
    with torch.inference_mode():
        feats = captioner.encoder.regions(images) if as_written else captioner.encoder(images)  # (B, P, E)
        captioner.caption_features(feats, beam)


def timed_run(captioner, pool, batch, beam, device, *, start: int, min_photos: int, as_written=False,
              clock=time.perf_counter) -> float:
    """Photos/s over whole batches covering at least min_photos, taken from the pool in turn from start."""
    done, t0 = 0, clock()
    while done < max(batch, min_photos):
        idx = (torch.arange(batch) + start + done) % len(pool)
        caption_batch(captioner, pool[idx], beam, as_written)
        done += batch
    sync(device)
    return done / (clock() - t0)


def flops_per_photo(captioner: Captioner, pool: torch.Tensor, beam: int) -> float:
    """FLOPs (2 per multiply-add) of encoder + beam search per photo, over 8 photos at batch 1."""
    with FlopCounterMode(display=False) as counter:
        for i in range(8):
            caption_batch(captioner, pool[i : i + 1], beam)
    return counter.get_total_flops() / 8


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--device", default="cpu")
    p.add_argument("--encoders", nargs="+", default=["efficientnet-lite0"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 4, 16, 64, 256])
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--runs", type=int, default=5, help="timed runs per figure (median and spread)")
    p.add_argument("--min-photos", type=int, default=64, help="photos per timed run at least")
    p.add_argument("--micro-batches", nargs="+", type=int, default=[0], help="encoder CPU micro-batch; 0: its own")
    p.add_argument("--as-written", action="store_true", help="also time the encoder as written, for a ratio")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="cpu: photos per CPU-second of this process; with --threads 1, little moved by other load")
    p.add_argument("--out")
    args = p.parse_args()
    device = args.device
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    gpu = torch.cuda.get_device_name(device) if device.startswith("cuda") else None
    flickr = Path(args.data) / "flickr8k"
    names = (flickr / "test.txt").read_text().split()[: max(64, max(args.batches))]
    photos = [flickr / "images" / n for n in names]

    rows, gflops = [], []
    for name in args.encoders:
        captioner = build(name, device)
        pool = torch.stack([captioner.encoder.preprocess(p) for p in photos]).to(device)  # (N, 3, S, S)
        flops = flops_per_photo(captioner, pool, args.beam)
        optimised = "bf16, channels_last" if gpu else "micro {}"
        variants = [(optimised.format(m or captioner.encoder.cpu_micro_batch()), m or None, False)
                    for m in args.micro_batches] + ([("as written", None, True)] if args.as_written else [])
        rates: dict[tuple[str, int], list[float]] = {(v, b): [] for v, _, _ in variants for b in args.batches}
        for b in args.batches:  # warm-up: allocator, oneDNN primitives, the inference copy
            caption_batch(captioner, pool[:b], args.beam)
        for r in range(args.runs):
            gflops.append(matmul_gflops(device, clock=clock))
            for b in args.batches:
                for label, micro, as_written in variants:
                    captioner.encoder.micro_batch = micro
                    rates[label, b].append(timed_run(captioner, pool, b, args.beam, device, start=r * 64,
                                                     min_photos=args.min_photos, as_written=as_written,
                                                     clock=clock))
            print(f"{name}: round {r + 1}/{args.runs} done", flush=True)
        captioner.encoder.micro_batch = None
        bound = spread(gflops)["median"]
        for (label, b), runs in rates.items():
            s = spread(runs)
            rows.append({
                "encoder": name, "variant": label, "batch": b, "photos_per_s": s, "ms_per_photo": 1e3 / s["median"],
                "gflop_per_photo": flops / 1e9, "gflops": s["median"] * flops / 1e9,
                "fraction_of_matmul_bound": s["median"] * flops / 1e9 / bound,
            })
        if args.as_written:  # paired: the same rounds, interleaved
            base = {b: spread(rates["as written", b])["median"] for b in args.batches}
            for row in rows:
                if row["encoder"] == name:
                    row["vs_as_written"] = row["photos_per_s"]["median"] / base[row["batch"]]

    bound = spread(gflops)
    per = "CPU-second" if args.clock == "cpu" else "s"
    for name in args.encoders:
        mine = [r for r in rows if r["encoder"] == name]
        show(f"{name} captioning throughput (photos/{per}), beam {args.beam}, "
             f"{gpu or f'{args.threads} of {os.cpu_count()} CPU cores, fp32'}; median (min-max) of {args.runs} runs",
             ("variant", "batch", f"photos/{per}", "ms/photo", "of bound", "x as written"),
             ([r["variant"], r["batch"], fmt(r["photos_per_s"]), f"{r['ms_per_photo']:.1f}",
               f"{100 * r['fraction_of_matmul_bound']:.1f}%", f"{r['vs_as_written']:.2f}" if "vs_as_written" in r else ""]
              for r in mine),
             f"{mine[0]['gflop_per_photo']:.2f} GFLOP/photo (encoder + beam); matmul bound measured in this run: "
             f"{fmt(bound)} GFLOP/s ({'bf16' if gpu else 'fp32'}); peak RSS {peak_rss_mb():.0f} MB")
    save(args.out or f"benchmarks/results/caption_throughput_{'gpu' if gpu else 'cpu'}.json", gpu=gpu,
         device=device, beam=args.beam, runs=args.runs, threads=args.threads, clock=args.clock, matmul_gflops=bound,
         matmul_dtype="bfloat16" if gpu else "float32", rows=rows)


if __name__ == "__main__":
    main()
