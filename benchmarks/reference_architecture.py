"""seesay's side of the comparison with the reference PyTorch Show-Attend-Tell tutorial, at its architecture.

    python benchmarks/reference_architecture.py [--photos 10] [--runs 5]
        [--out benchmarks/results/reference_architecture_cpu.json]

The tutorial (sgrvinod's a-PyTorch-Tutorial-to-Image-Captioning) captions one photo at a time with a
ResNet-101 encoder at 256 px, a 512-unit embedding, LSTM and attention, and beam 3, stopping after 51
decoding steps at the latest. seesay's side here is the same: ResNet-101 with random weights
(pretrained=False; speed only), 256 px (an 8 x 8 grid: seesay keeps the ResNet's own grid rather than
pooling it to 14 x 14), the bundled model's vocabulary, beam 3, and exactly 51 steps: max_length 50 plus
the forced EOS step, with the EOS logit's bias at -1e4 so random weights cannot end a caption early. The
time per photo is batch 1 through Captioner.caption, from the JPEG file (decoding and preprocessing
included, as in the tutorial's caption.py) to the caption; the figure is the median of --runs passes over --photos Flickr8k test photos, with the spread,
and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
from report import add_data_argument, fmt, matmul_gflops, peak_rss_mb, save, show, spread

from model import Captioner, CaptionerConfig, build_model

STEPS = 51  # the tutorial's beam search breaks after step 50, counting from 1


def reference_captioner(vocabulary) -> Captioner:
    """A ResNet-101 captioner of the tutorial's sizes, random weights, that never ends a caption early."""
    config = CaptionerConfig(encoder="resnet101", image_size=256, embed_dim=512, hidden_dim=512, attention_dim=512,
                             max_length=STEPS - 1)
    model = build_model(config, len(vocabulary), pretrained=False)
    with torch.no_grad():  # EOS never wins a step, yet stays finite for the forced last one: all 51 steps run
        model.decoder.out.bias[vocabulary.eos_id] = -1e4
    return Captioner(model, vocabulary)


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--photos", type=int, default=10)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--out", default="benchmarks/results/reference_architecture_cpu.json")
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    flickr = Path(args.data) / "flickr8k"
    photos = [flickr / "images" / n for n in (flickr / "test.txt").read_text().split()[: args.photos]]

    rss_before_mb = peak_rss_mb()
    torch.manual_seed(0)
    captioner = reference_captioner(Captioner.default().vocabulary)
    (warm,) = captioner.caption(photos[:1], beam_size=3)
    assert len(warm.words) == STEPS - 1, warm.words  # 50 words, then the forced EOS: all 51 steps ran

    gflops, seconds = [], []
    for _ in range(args.runs):
        gflops.append(matmul_gflops("cpu"))
        per_photo = []
        for photo in photos:
            t0 = time.perf_counter()
            captioner.caption([photo], beam_size=3)
            per_photo.append(time.perf_counter() - t0)
        seconds.append(statistics.median(per_photo))
    s, bound = spread(seconds), spread(gflops)
    rate = spread([1 / x for x in seconds])
    show("seesay at the tutorial's architecture: ResNet-101 (random weights), 256 px, 512-unit LSTM and attention, "
         f"beam 3, {STEPS} steps, batch 1; median (min-max) of {args.runs} runs",
         ("s/photo", "photos/s", "peak RSS (MB)", "RSS before the model (MB)"),
         [(fmt(s, 3), fmt(rate, 2), f"{peak_rss_mb():.0f}", f"{rss_before_mb:.0f}")],
         f"vocabulary {len(captioner.vocabulary)} words; matmul bound measured in this run {fmt(bound)} GFLOP/s fp32")
    save(args.out, photos=len(photos), runs=args.runs, steps=STEPS, beam=3, image_size=256,
         vocabulary=len(captioner.vocabulary), seconds_per_photo=s, photos_per_s=rate, matmul_gflops=bound,
         rss_before_model_mb=rss_before_mb)


if __name__ == "__main__":
    main()
