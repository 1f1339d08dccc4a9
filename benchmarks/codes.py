"""Codes on real photos: decoded right and wrong, codes reported where there are none, and the time a frame
with no code costs.

    python benchmarks/codes.py [--data ../shared/data] [--photos 40] [--clean 1000] [--rounds 5]
        [--out benchmarks/results/codes.json]

Printed codes: --photos real COCO photos (coco-tiny train2017, 640 px wide) each get a code made at run
time by a code library from PyPI (QR codes by segno, EAN-13 and Code 128 by python-barcode, Data Matrix by
zxing-cpp's writer; nothing is stored), composited as a print photographed would be: the code on a white
label, warped by a random perspective (corners moved up to 18% of the label's side), shaded by the photo's
own light under it, then the whole photo under uneven light (a gradient 0.45-1.1), blurred (Gaussian,
sigma 0.4-1.4 px), with sensor noise and saved as JPEG (quality 60-90). A code is decoded right when the
reader's text is the text encoded; wrong when the reader gives any other text.

No code: the 1,000 Flickr8k test photos; every code decoded and every unread code reported counts.
Time: CodeReader.read on the 158 coco-tiny photos resized to a 640 x 480 camera frame, --rounds rounds,
median per frame with its spread across rounds, on this machine's cores.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from report import add_data_argument, save, show, spread

from model.describing.codes import CodeReader

PAYLOADS = ["https://www.example.org/menu/today", "WIFI:T:WPA;S:Cafe Lumiere;P:croissant42;;",
            "https://tickets.example.com/e/83920", "Room 214, Building C", "mailto:desk@example.net",
            "tel:+441632960961", "https://example.com/p?id=7", "WIFI:T:WPA;S:Guest;P:welcome2024;;"]


def make_code(kind: str, text: str, rng: random.Random) -> np.ndarray:
    """A generated code as a grey uint8 image with its quiet zone."""
    if kind == "QRCode":
        import segno

        buf = io.BytesIO()
        segno.make(text, error=rng.choice("lmq"), micro=False).save(buf, kind="png", scale=4, border=4)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
    if kind in ("EAN13", "Code128"):
        import barcode
        from barcode.writer import ImageWriter

        cls = barcode.get_barcode_class("ean13" if kind == "EAN13" else "code128")
        img = cls(text, writer=ImageWriter()).render({"module_width": 0.3, "module_height": 10, "quiet_zone": 4,
                                                      "font_size": 0, "write_text": False, "dpi": 254})
        return np.asarray(img.convert("L"))
    import zxingcpp

    img = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.DataMatrix).to_image(scale=5)
    return np.pad(np.asarray(img), 10, constant_values=255)


def payload(kind: str, i: int, rng: random.Random) -> str:
    if kind == "EAN13":
        import barcode

        return barcode.get_barcode_class("ean13")("".join(rng.choice("0123456789") for _ in range(12))).get_fullcode()
    if kind == "Code128":
        return f"SKU-{rng.randrange(10**6):06d}-{rng.choice('ABCDEFGH')}"
    return PAYLOADS[i % len(PAYLOADS)] if kind == "QRCode" else f"LOT {rng.randrange(10**5):05d} EXP 2027-0{i % 9 + 1}"


def composite(photo: Image.Image, code: np.ndarray, rng: random.Random) -> Image.Image:
    """The code printed on a label in the photo, photographed: perspective, blur, uneven light, noise, JPEG."""
    img = np.asarray(photo.convert("RGB"), dtype=np.float32) / 255  # (H, W, 3)
    h, w = img.shape[:2]
    ch, cw = code.shape
    side = rng.uniform(0.32, 0.5) * min(h, w) if ch / cw > 0.5 else rng.uniform(0.6, 0.85) * w
    sx, sy = side, side * ch / cw
    x0, y0 = rng.uniform(0.02 * w, w - sx - 0.02 * w), rng.uniform(0.02 * h, h - sy - 0.02 * h)
    jitter = 0.18 * min(sx, sy)
    dst = np.float32([[x0, y0], [x0 + sx, y0], [x0 + sx, y0 + sy], [x0, y0 + sy]])
    dst += np.float32([[rng.uniform(-jitter, jitter), rng.uniform(-jitter, jitter)] for _ in range(4)])
    src = np.float32([[0, 0], [cw, 0], [cw, ch], [0, ch]])
    warp = cv2.getPerspectiveTransform(src, dst)
    label = cv2.warpPerspective(code.astype(np.float32) / 255, warp, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones_like(code, dtype=np.float32), warp, (w, h))[..., None]  # (H, W, 1)
    light_under = cv2.GaussianBlur(img.mean(axis=2), (0, 0), 25)[..., None] * 0.5 + 0.6  # paper lit as the scene
    img = img * (1 - mask) + np.clip(label[..., None] * light_under, 0, 1) * mask
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    gradient = np.cos(angle) * xx + np.sin(angle) * yy
    gradient = (gradient - gradient.min()) / max(1e-6, np.ptp(gradient))
    low, high = rng.uniform(0.45, 0.75), rng.uniform(0.95, 1.1)
    img = img * (low + (high - low) * gradient)[..., None]
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.4))
    img = np.clip(img + np.random.default_rng(rng.randrange(1 << 30)).normal(0, 0.015, img.shape), 0, 1)
    buf = io.BytesIO()
    Image.fromarray((img * 255).astype(np.uint8)).save(buf, "JPEG", quality=rng.randrange(60, 91))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def printed(root: Path, photos: int, reader: CodeReader, seed: int) -> dict:
    rng = random.Random(seed)
    paths = sorted((root / "coco-tiny" / "train2017").glob("*.jpg"))[:photos]
    kinds = ["QRCode"] * 5 + ["EAN13", "EAN13", "Code128", "Code128", "DataMatrix"]
    right = wrong = missed = seen = 0
    by_kind: dict[str, list[int]] = {}
    failures = []
    for i, path in enumerate(paths):
        kind = kinds[i % len(kinds)]
        text = payload(kind, i, rng)
        photo = composite(Image.open(path), make_code(kind, text, rng), rng)
        found = reader.read(photo)
        texts = [c.text for c in found.codes]
        ok = text in texts
        right += ok
        wrong += any(t != text for t in texts)
        missed += not texts
        seen += not texts and bool(found.unread)
        by_kind.setdefault(kind, [0, 0])
        by_kind[kind][0] += ok
        by_kind[kind][1] += 1
        if not ok:
            failures.append({"photo": path.name, "kind": kind, "text": text, "read": texts,
                             "unread": len(found.unread)})
    return {"photos": len(paths), "right": right, "wrong": wrong, "not_decoded": missed,
            "not_decoded_but_located": seen, "right_share": round(right / max(1, len(paths)), 3),
            "by_kind": {k: f"{a}/{n}" for k, (a, n) in by_kind.items()}, "failures": failures}


def clean(root: Path, photos: int, reader: CodeReader) -> dict:
    names = (root / "flickr8k" / "test.txt").read_text().split()[:photos]
    decoded, located, examples = 0, 0, []
    for name in names:
        found = reader.read(Image.open(root / "flickr8k" / "images" / name).convert("RGB"))
        decoded += bool(found.codes)
        located += bool(found.unread)
        if found.codes or found.unread:
            examples.append({"photo": name, "codes": [c.text for c in found.codes], "unread": len(found.unread)})
    return {"photos": len(names), "with_a_code_decoded": decoded, "with_an_unread_code": located,
            "examples": examples}


def timing(root: Path, reader: CodeReader, rounds: int) -> dict:
    frames = [Image.open(p).convert("RGB").resize((640, 480)) for p in
              sorted((root / "coco-tiny").glob("*2017/*.jpg"))]
    per_round = []
    for _ in range(rounds):
        ms = []
        for f in frames:
            t = time.perf_counter()
            reader.read(f)
            ms.append((time.perf_counter() - t) * 1000)
        per_round.append(statistics.median(ms))
    return {"frames": len(frames), "frame_size": [640, 480], "ms_per_frame": spread(per_round)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(p)
    p.add_argument("--photos", type=int, default=40, help="real photos with a code printed on them (at most 80)")
    p.add_argument("--clean", type=int, default=1000, help="Flickr8k test photos with no code")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--engine", default="auto", choices=("auto", "zxing-cpp", "opencv"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/codes.json")
    args = p.parse_args()
    root, reader = Path(args.data), CodeReader(args.engine)
    on_photos = printed(root, args.photos, reader, args.seed)
    no_code = clean(root, args.clean, reader)
    speed = timing(root, reader, args.rounds)
    t = speed["ms_per_frame"]
    show(f"Codes ({reader.engine})", ["measure", "value"], [
        ("printed codes decoded right", f"{on_photos['right']} of {on_photos['photos']} ({on_photos['by_kind']})"),
        ("decoded wrong", on_photos["wrong"]),
        ("not decoded, but located (move closer)",
         f"{on_photos['not_decoded_but_located']} of {on_photos['not_decoded']}"),
        ("Flickr8k test photos with a code decoded", f"{no_code['with_a_code_decoded']} of {no_code['photos']}"),
        ("... with an unread code reported", no_code["with_an_unread_code"]),
        ("ms per 640 x 480 frame with no code", f"{t['median']:.2f} ({t['min']:.2f}-{t['max']:.2f})"),
    ])
    save(args.out, engine=reader.engine, seed=args.seed, printed=on_photos, no_code=no_code, timing=speed)


if __name__ == "__main__":
    main()
