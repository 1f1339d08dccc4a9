"""Colour words against people's: the colour a COCO caption gives an object, checked inside its box; and
the light level across exposures of the same photos.

    python benchmarks/colour.py [--data ../shared/data] [--out benchmarks/results/colour.json]

Colour: for every caption of a COCO-mini photo (train and val) and of a coco-tiny val photo that says
"<colour> <object>" ("a red double decker bus": the colour word, then the object word within three words,
nothing but plain words between), the object's annotated box (the largest of that category in the photo)
is named by model.colour.colours and its first colour compared with the caption's. Photos whose captions
give one object two different colours count once per caption. COCO-mini train is the dev set (the one
looked at while choosing the colour limits and how much of the box to name); COCO-mini val and coco-tiny
val are held out and reported apart. Caption words map to the eleven basic terms (gray -> grey, golden ->
yellow, tan -> brown, silver -> grey); colour-word objects that are not COCO categories (shirts, hats)
have no box and are not counted. The confusion table says which names were said for which.

Light: each of --photos Flickr8k test photos at 2%, 10%, 50%, 100% and 150% exposure (linear light scaled,
then clipped, the way a camera's exposure works) named by model.light.light_level; reports how many photos
are named in order (never a darker word at more light) and the words at each exposure.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path

from PIL import Image
from report import add_data_argument, save, show, spread

from model.describing.colour import TERMS, colours, object_box
from model.describing.light import LEVELS, exposed, light_level

WORDS = {**{t: t for t in TERMS}, "gray": "grey", "golden": "yellow", "gold": "yellow", "tan": "brown",
         "silver": "grey", "maroon": "red", "violet": "purple", "navy": "blue"}
PLAIN = {"and", "with", "on", "in", "of", "a", "the", "is", "are", ","}  # words that end a "<colour> <object>"
SYNONYMS = {"motorcycle": ["motorbike"], "bicycle": ["bike"], "airplane": ["plane", "jet", "airliner"],
            "couch": ["sofa"], "tv": ["television"], "cell phone": ["phone", "cellphone"],
            "dining table": ["table"], "fire hydrant": ["hydrant"], "stop sign": ["sign"],
            "teddy bear": ["teddy"], "handbag": ["purse", "bag"], "sports ball": ["ball"],
            "tennis racket": ["racket"], "potted plant": ["plant"], "refrigerator": ["fridge"],
            "hair drier": ["hair dryer"], "wine glass": ["glass"], "traffic light": ["light"]}
EXCLUDED = {"person", "orange"}  # a person's colour word is their clothes'; "orange" is also the colour
EXPOSURES = (0.02, 0.10, 0.50, 1.00, 1.50)
# Names that border each other in colour space, where people disagree among themselves too.
NEIGHBOURS = {frozenset(p) for p in (("red", "orange"), ("red", "pink"), ("red", "brown"), ("red", "purple"),
                                     ("orange", "yellow"), ("orange", "brown"), ("yellow", "green"),
                                     ("yellow", "brown"), ("green", "blue"), ("blue", "purple"),
                                     ("purple", "pink"), ("black", "grey"), ("grey", "white"), ("black", "brown"),
                                     ("black", "blue"), ("white", "yellow"))}


def category_words(categories: dict[int, str]) -> dict[str, int]:
    """Object word (last word of the name and synonyms, singular and plural) -> COCO category id."""
    out = {}
    for cid, name in categories.items():
        if name in EXCLUDED:
            continue
        for word in [name, *SYNONYMS.get(name, [])]:
            last = word.split()[-1]
            for form in (last, last + "s", last + "es"):
                out.setdefault(form, cid)
    return out


def mentions(caption: str, words: dict[str, int]) -> list[tuple[str, int]]:
    """(basic colour term, category id) for each "<colour> <object>" in a caption."""
    tokens = re.findall(r"[a-z]+|,", caption.lower())
    out = []
    for i, tok in enumerate(tokens):
        if tok not in WORDS:
            continue
        for nxt in tokens[i + 1 : i + 4]:
            if nxt in PLAIN or nxt in WORDS:
                break
            if nxt in words:
                out.append((WORDS[tok], words[nxt]))
                break
    return out


def examples(root: Path, source: str, split: str) -> list[dict]:
    """Every caption colour mention with its photo and box."""
    ann = root / source / "annotations"
    inst = json.loads((ann / f"instances_{split}.json").read_text())
    caps = json.loads((ann / f"captions_{split}.json").read_text())
    words = category_words({c["id"]: c["name"] for c in inst["categories"]})
    images = {im["id"]: im for im in inst["images"]}
    boxes: dict[tuple[int, int], list] = defaultdict(list)
    for a in inst["annotations"]:
        boxes[(a["image_id"], a["category_id"])].append(a["bbox"])
    out = []
    for c in caps["annotations"]:
        for colour, cid in mentions(c["caption"], words):
            found = boxes.get((c["image_id"], cid))
            if not found:
                continue
            im = images[c["image_id"]]
            x, y, w, h = max(found, key=lambda b: b[2] * b[3])
            if w * h < 0.01 * im["width"] * im["height"]:
                continue
            box = (x / im["width"], y / im["height"], (x + w) / im["width"], (y + h) / im["height"])
            out.append({"path": str(root / source / split / im["file_name"]), "said": colour, "box": box,
                        "caption": c["caption"], "set": f"{source} {split}"})
    return out


def score(items: list[dict], keep: float, constancy: bool = True) -> dict:
    """Share of first colours that match the caption's, top-2 share, and the confusion counts."""
    right = top2 = 0
    confusion: Counter = Counter()
    for it in items:
        image = Image.open(it["path"]).convert("RGB")
        named = colours(image, object_box(it["box"], keep), constancy=constancy)
        first = named[0].term
        right += first == it["said"]
        top2 += it["said"] in [c.term for c in named[:2]]
        confusion[(it["said"], first)] += 1
    n = max(1, len(items))
    near = sum(k for (a, b), k in confusion.items() if frozenset((a, b)) in NEIGHBOURS)
    return {"examples": len(items), "right": right, "share": round(right / n, 3), "top2_share": round(top2 / n, 3),
            "right_or_neighbour_share": round((right + near) / n, 3),
            "wrong_that_are_neighbours": f"{near} of {len(items) - right}",
            "confusion": {f"{a} -> {b}": k for (a, b), k in confusion.most_common() if a != b}}


def light_run(root: Path, photos: int) -> dict:
    names = (root / "flickr8k" / "test.txt").read_text().split()[:photos]
    order = [w for _, w in LEVELS]
    in_order, distinct, words_at = 0, [], defaultdict(Counter)
    times = []
    for name in names:
        image = Image.open(root / "flickr8k" / "images" / name).convert("RGB")
        t = time.perf_counter()
        levels = [light_level(exposed(image, f)) for f in EXPOSURES]
        times.append((time.perf_counter() - t) / len(EXPOSURES) * 1000)
        ranks = [order.index(lv.word) for lv in levels]
        in_order += all(a <= b for a, b in pairwise(ranks)) and all(
            a.lightness <= b.lightness for a, b in pairwise(levels))
        distinct.append(len(set(ranks)))
        for f, lv in zip(EXPOSURES, levels):
            words_at[f"{f:.0%}"][lv.word] += 1
    return {"photos": len(names), "in_order": in_order, "distinct_words_median": statistics.median(distinct),
            "words_at_exposure": {k: dict(v) for k, v in words_at.items()},
            "ms_per_level": spread(times)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(p)
    p.add_argument("--photos", type=int, default=200, help="Flickr8k test photos for the light levels")
    p.add_argument("--keep", type=float, default=None, help="share of the box's sides named (default: chosen on dev)")
    p.add_argument("--out", default="benchmarks/results/colour.json")
    args = p.parse_args()
    root = Path(args.data)
    dev = examples(root, "coco-mini", "train2017")
    held = {"coco-mini val2017": examples(root, "coco-mini", "val2017"),
            "coco-tiny val2017": examples(root, "coco-tiny", "val2017")}
    choices = [args.keep] if args.keep else [1.0, 0.8, 0.6, 0.4]
    on_dev = {k: score(dev, k) for k in choices}
    keep = max(choices, key=lambda k: (on_dev[k]["share"], -abs(k - 0.8)))
    results = {name: score(items, keep) for name, items in held.items()}
    everything = [it for items in held.values() for it in items]
    results["held out, together"] = score(everything, keep)
    results["held out, pixels as they are (no constancy)"] = score(everything, keep, constancy=False)
    light = light_run(root, args.photos)
    dev_shares = ", ".join(f"{k}: {v['share']}" for k, v in on_dev.items())
    cols = ("examples", "share", "top2_share", "right_or_neighbour_share")
    rows = [("coco-mini train2017 (dev)", *(on_dev[keep][c] for c in cols))]
    rows += [(n, *(r[c] for c in cols)) for n, r in results.items()]
    show("Colour of captioned objects: first colour named == the caption's",
         ["set", "examples", "share", "top 2", "same or neighbour"],
         rows, f"box sides kept: {keep} (dev shares: {dev_shares})",
         f"held-out confusions: {results['held out, together']['confusion']}",
         f"light: {light['in_order']} of {light['photos']} photos named in order across "
         f"{', '.join(f'{e:.0%}' for e in EXPOSURES)}; words: {light['words_at_exposure']}")
    save(args.out, keep=keep, dev={str(k): v for k, v in on_dev.items()}, held_out=results, light=light)


if __name__ == "__main__":
    main()
