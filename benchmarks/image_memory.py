"""Peak memory and time of captioning one very large photo, each run in a fresh process.

    python benchmarks/image_memory.py [--side 10000] [--runs 3] [--out benchmarks/results/image_memory.json]

Makes a SIDE x SIDE JPEG and PNG (a Flickr8k photo scaled up, so they compress like photos) in a temporary
folder, then for each runs a subprocess that loads the bundled captioner, reads the photo with
`model.load_image` and captions it, and reports its own peak RSS. Two references, also fresh processes:
the same with the photo decoded at full size (what `load_image` did before issue 12), and the captioner on
a 224 px photo (the floor: Python, PyTorch and the model). Issue 12's target: at most 1 GB for 10000 x 10000.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from report import add_data_argument, save, show

MAKE = """
import sys
from PIL import Image
src, side, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
big = Image.open(src).convert("RGB").resize((side, side), Image.BICUBIC)
big.save(out + "/photo.jpg", quality=90)
big.save(out + "/photo.png", compress_level=1)
"""

# One measurement: prints {"peak_rss_mb", "model_s", "load_s", "caption_s", "size", "caption"} as JSON.
MEASURE = """
import json, resource, sys, time
import torch
from PIL import Image
from model import Captioner, load_image
path, how = sys.argv[1], sys.argv[2]
torch.set_num_threads(int(sys.argv[3]))
t0 = time.perf_counter()
captioner = Captioner.default()
t1 = time.perf_counter()
if how == "full":  # the loader before issue 12: decode everything at full size
    with Image.open(path) as img:
        img.load()
        image = img.convert("RGB")
else:
    image = load_image(path)
t2 = time.perf_counter()
caption = captioner.caption([image])[0]
t3 = time.perf_counter()
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "model_s": t1 - t0, "load_s": t2 - t1, "caption_s": t3 - t2, "size": list(image.size),
                  "caption": caption.text}))
"""


def measure(path: Path, how: str, threads: int) -> dict:
    run = subprocess.run([sys.executable, "-c", MEASURE, str(path), how, str(threads)], check=False,
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise SystemExit(f"measuring {path.name} ({how}) failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def summary(runs: list[dict], key: str) -> dict:
    values = [r[key] for r in runs]
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--side", type=int, default=10000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="PyTorch threads in each run")
    p.add_argument("--skip-full", action="store_true", help="leave out the full-size decode reference")
    p.add_argument("--out", default="benchmarks/results/image_memory.json")
    args = p.parse_args()
    images = Path(args.data) / "flickr8k" / "images"
    source = images / min(os.listdir(images))

    rows = []
    with tempfile.TemporaryDirectory(prefix="seesay-image-memory-") as tmp:
        tmp = Path(tmp)
        # Made in a subprocess, so this process's own peak stays small.
        subprocess.run([sys.executable, "-c", MAKE, str(source), str(args.side), str(tmp)], check=True, timeout=600)
        cases = [("224 px photo (floor)", source, "load_image")]
        for name in ("photo.jpg", "photo.png"):
            cases.append((f"{args.side} px {name[-3:].upper()}, load_image", tmp / name, "load_image"))
            if not args.skip_full:
                cases.append((f"{args.side} px {name[-3:].upper()}, full decode (before)", tmp / name, "full"))
        for label, path, how in cases:
            runs = [measure(path, how, args.threads) for _ in range(args.runs)]
            rows.append({"case": label, "file_mb": path.stat().st_size / 2**20, "decoded_size": runs[0]["size"],
                         "caption": runs[0]["caption"], "peak_rss_mb": summary(runs, "peak_rss_mb"),
                         "load_s": summary(runs, "load_s"), "caption_s": summary(runs, "caption_s"),
                         "model_s": summary(runs, "model_s")})

    show(f"peak RSS of one fresh process captioning one photo, {args.runs} runs each, {args.threads} torch threads",
         ("case", "file (MB)", "decoded", "peak RSS median (MB)", "spread (MB)", "load median (s)",
          "caption median (s)"),
         ([r["case"], f"{r['file_mb']:.1f}", "x".join(map(str, r["decoded_size"])),
           f"{r['peak_rss_mb']['median']:.0f}", f"{r['peak_rss_mb']['min']:.0f}-{r['peak_rss_mb']['max']:.0f}",
           f"{r['load_s']['median']:.2f}", f"{r['caption_s']['median']:.2f}"] for r in rows),
         "load = reading the file into an RGB image; caption = preprocessing, encoder and beam search.")
    save(args.out, side=args.side, runs=args.runs, threads=args.threads, target_peak_rss_mb=1024, rows=rows,
         note="peak_rss_mb at the top level is this driver's own; each row's is its measuring subprocess's")


if __name__ == "__main__":
    main()
