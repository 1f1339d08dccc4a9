"""`seesay caption PHOTO...`: describe photo files, one line (or JSON object) each."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .arguments import add_model, add_reading, model_overrides, path_text

HELP = "describe photo files (or the photos in folders)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="PHOTO", help="photo files, or folders to describe the photos in")
    add_model(p)
    add_reading(p)
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line: caption, recognised objects, the spoken sentence and its sources")
    p.add_argument("--attention-dir", type=path_text, metavar="DIR",
                   help="write a PNG per photo showing where each word looked")


def photo_paths(names: list[str]) -> list[Path]:
    """Files as given; folders replaced by the photos inside them (the same rules as `seesay index`). What a
    folder holds that is not read (a FIFO, a link, a subfolder that cannot be opened) gets its "skipping" line,
    as in `seesay index`, and a folder with no photos at all says so."""
    from model.images import display_path as printable

    out = []
    for name in names:
        path = Path(name)
        if os.path.isdir(name):  # never raises: a name too long to look up is load_image's to say
            from ..folders import KEPT, walk_photos  # only for folders: it brings the index's SQLAlchemy (0.3 s)

            found = 0
            for p, _, why in walk_photos([path]):
                found += 1
                if why is None:
                    out.append(p)
                else:
                    print(f"skipping {printable(p)}: {why.removesuffix(KEPT)}", file=sys.stderr)
            if not found:
                print(f"no photos in {printable(path)}", file=sys.stderr)
        else:
            out.append(path)
    return out


def readable_photos(names: list[str]):
    """(path, decoded photo) for each photo named (folders walked) that can be read; one line on stderr,
    "skipping PATH: why", for each that cannot, and the rest go on."""
    from model import ImageError, load_image

    for path in photo_paths(names):
        try:
            image = load_image(path)
        except ImageError as exc:
            print(f"skipping {exc}", file=sys.stderr)
            continue
        yield path, image


def run(args: argparse.Namespace) -> int:
    from model.captioner.attention_map import render_attention
    from model.images import display_path as printable

    from ..runtime import Runtime

    runtime = Runtime.load(**model_overrides(args), read_text=args.read_text, all_evidence=args.json or None)
    runtime.report_warnings()
    describer = runtime.describer
    if args.attention_dir and (why := _writable_folder(Path(args.attention_dir))):
        print(f"seesay: --attention-dir {printable(args.attention_dir)}: {why}", file=sys.stderr)
        return 2
    done = 0
    for path, image in readable_photos(args.images):
        d = describer.describe([image], beam_size=runtime.beam_size)[0]
        done += 1
        if args.json:
            print(json.dumps({"path": printable(path), **d.to_json()}), flush=True)
        else:
            print(f"{printable(path)}\t{d.sentence}", flush=True)
        if args.attention_dir and d.caption.words:
            out = Path(args.attention_dir) / f"{path.stem}.attention.png"
            try:
                render_attention(image, d.caption.words, d.caption.attention).save(out)
            except OSError as exc:
                print(f"seesay: cannot write {printable(out)}: {exc.strerror or exc}", file=sys.stderr)
                return 2
    return 0 if done else 1


def _writable_folder(folder: Path) -> str | None:
    """Why attention maps cannot be written into folder (made if missing), or None when they can."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return "not a folder"
    except OSError as exc:
        return exc.strerror or str(exc)
    if not folder.is_dir():
        return "not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return "the folder is read-only"
    return None
