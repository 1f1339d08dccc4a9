"""Time to read the text in long, narrow pictures, padded to 4:1 (what the text reader does) and as they are.

    python benchmarks/narrow_pictures.py [--runs 3] [--unpadded] [--out benchmarks/results/narrow_pictures_cpu.json]

A Flickr8k test photo squashed to each shape (a photo-like picture, not noise) is read by `TextReader.read`;
each figure is the median of --runs reads with its spread, after one warm-up read. RapidOCR's detector
scales a picture's short side up to 736 px, so a narrow picture is searched at a huge size unless padded;
--unpadded also times the engine on the unpadded picture (minutes for 20 x 2000 on 2 cores), the way it
was read before issue 27. The pictures under 8 px across are not read at all and are not timed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import add_data_argument, fmt, save, show, spread  # noqa: E402

SHAPES = [(500, 375), (200, 2000), (80, 2000), (40, 2000), (20, 2000), (2000, 40)]


def read_seconds(reader, picture, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        reader.read(picture)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(p)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--unpadded", action="store_true", help="also time the pictures unpadded (slow)")
    p.add_argument("--out", default="benchmarks/results/narrow_pictures_cpu.json")
    args = p.parse_args()

    from PIL import Image

    import model.describing.text_reader as text_reader
    from training.data import load_records

    data = Path(args.data)
    records = load_records(data / "flickr8k" / "captions_flickr8k.json", data / "flickr8k" / "images")
    photo = Image.open(next(r.path for r in records if r.split == "test")).convert("RGB")
    reader = text_reader.TextReader().load()
    reader.read(photo)  # warm-up
    results, rows = {}, []
    for w, h in SHAPES:
        picture = photo.resize((w, h))
        padded = spread(read_seconds(reader, picture, args.runs))
        entry = {"padded_s": padded}
        if args.unpadded:
            aspect, text_reader.MAX_ASPECT = text_reader.MAX_ASPECT, float("inf")
            try:
                entry["unpadded_s"] = spread(read_seconds(reader, picture, args.runs))
            finally:
                text_reader.MAX_ASPECT = aspect
        results[f"{w}x{h}"] = entry
        rows.append((f"{w} x {h}", fmt(padded, 2), fmt(entry["unpadded_s"], 2) if args.unpadded else "-"))
    show("Reading text in narrow pictures (s)", ["shape", "padded to 4:1", "as it is"], rows,
         f"median (min-max) of {args.runs} reads; threads {reader.config.threads}")
    save(args.out, runs=args.runs, max_aspect=text_reader.MAX_ASPECT, shapes=results)


if __name__ == "__main__":
    main()
