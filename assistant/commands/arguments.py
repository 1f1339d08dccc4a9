"""Arguments that several commands share, spelled and explained once.

Every number is checked by `settings.option` against the same ranges as the settings file, so a value the
settings file would refuse is refused here too, with one line, before anything starts (issue 27).
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys

from ..settings import option

_DEVICE = re.compile(r"cpu|cuda(:\d{1,3})?")
NAME_MAX, PATH_MAX = 255, 4096  # bytes in one name, and in a whole path (Linux)


def device(text: str) -> str:
    """argparse type: cpu, cuda or cuda:N (whether that GPU exists is checked when the model loads)."""
    if not _DEVICE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}")
    return text


def path_text(text: str) -> str:
    """argparse type: a non-empty file or folder name without a NUL character, and not longer than a file
    name can be (a 300-character name made Path.is_dir() and Path.exists() raise ENAMETOOLONG)."""
    if not text or "\0" in text:
        raise argparse.ArgumentTypeError(f"expected a file name, got {text!r}")
    raw = os.fsencode(text)
    if len(raw) >= PATH_MAX or max(map(len, raw.split(b"/"))) > NAME_MAX:
        raise argparse.ArgumentTypeError(f"expected a file name, got one too long for a file name "
                                         f"({len(raw)} bytes, starting {text[:40]!r})")
    return text


def add_model(p: argparse.ArgumentParser, *, beam: bool = True) -> None:
    p.add_argument("--model", type=path_text, metavar="CHECKPOINT",
                   help="captioner checkpoint (default: the bundled model)")
    if beam:
        p.add_argument("--beam", type=option("beam_size"), metavar="N",
                       help="beam size, 1 = greedy (default: beam_size in the settings, 3)")
    p.add_argument("--device", type=device, default="cpu",
                   help="where the model runs: cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--engine", choices=("auto", "onnx", "torch"), default="auto",
                   help="onnx: ONNX Runtime, which starts faster and needs less memory; torch: PyTorch, for a GPU, "
                        "other beam sizes and checkpoints not compiled with 'seesay export-onnx'; auto (default): "
                        "ONNX Runtime wherever it gives the same captions")


def add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=path_text, metavar="FILE",
                   help="the photo index (default: db in the settings, else $SEESAY_DB, else the user data folder)")


def add_camera(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=option("camera"), metavar="INDEX",
                        help="camera device index (default: camera in the settings, 0)")
    source.add_argument("--video", type=path_text, metavar="FILE|URL",
                        help="a video file or stream instead of a camera")
    source.add_argument("--no-camera", action="store_true", help="start without a camera")


def add_speak(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speak", action="store_true", help="also say each line aloud")


def add_reading(p: argparse.ArgumentParser, *, live: bool = False) -> None:
    """--no-text for photo files (read_text in the settings, on by default), --text for camera frames
    (live_text, off by default); not given, the settings decide."""
    if not live:
        p.add_argument("--no-text", dest="read_text", action="store_const", const=False, default=None,
                       help="do not read the text in photos (faster; default: read_text in the settings, on)")
    else:
        p.add_argument("--text", dest="live_text", action="store_const", const=True, default=None,
                       help="also read the text in view (slower; default: live_text in the settings, off)")


def model_overrides(args: argparse.Namespace) -> dict:
    """The settings the options of `add_model` override (None where not given)."""
    return {"model": args.model, "beam_size": getattr(args, "beam", None), "device": args.device,
            "engine": args.engine}


def camera_overrides(args: argparse.Namespace) -> dict:
    """The settings the options of `add_camera` override (None where not given)."""
    return {"camera": args.camera, "video": args.video, "no_camera": args.no_camera or None}


def visible(text: str) -> bool:
    """Whether text holds a character a person would see: not only spaces, control or format characters."""
    return any(c.isprintable() and not c.isspace() for c in text)


def refuse_a_database(name: str) -> bool:
    """Whether name is a file an output option must not write over, said in one line: a regular file that
    starts as an SQLite database does (`-o` or `--to` naming the index itself, or another one, wrote over
    it, and the index was lost)."""
    try:
        with open(name, "rb", opener=lambda path, flags: os.open(path, flags | getattr(os, "O_NONBLOCK", 0))) as f:
            if not (stat.S_ISREG(os.fstat(f.fileno()).st_mode) and f.read(16) == b"SQLite format 3\0"):
                return False
    except OSError:
        return False
    print(f"seesay: will not write over {name}: it holds an SQLite database (a photo index?); choose another file",
          file=sys.stderr)
    return True
