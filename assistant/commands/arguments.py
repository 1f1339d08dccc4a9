"""Arguments that several commands share, spelled and explained once."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_model(p: argparse.ArgumentParser, *, beam: bool = True) -> None:
    p.add_argument("--model", metavar="CHECKPOINT", help="captioner checkpoint (default: the bundled model)")
    if beam:
        p.add_argument("--beam", type=positive_int, metavar="N",
                       help="beam size, 1 = greedy (default: beam_size in the settings, 3)")
    p.add_argument("--device", default="cpu", help="where the model runs: cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--engine", choices=("auto", "onnx", "torch"), default="auto",
                   help="onnx: ONNX Runtime, which starts faster and needs less memory; torch: PyTorch, for a GPU, "
                        "other beam sizes and checkpoints not compiled with 'seesay export-onnx'; auto (default): "
                        "ONNX Runtime wherever it gives the same captions")


def add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="FILE",
                   help="the photo index (default: db in the settings, else $SEESAY_DB, else the user data folder)")


def add_camera(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, metavar="INDEX",
                        help="camera device index (default: camera in the settings, 0)")
    source.add_argument("--video", metavar="FILE|URL", help="a video file or stream instead of a camera")
    source.add_argument("--no-camera", action="store_true", help="start without a camera")


def add_speak(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speak", action="store_true", help="also say each line aloud")


def add_reading(p: argparse.ArgumentParser, *, default: bool) -> None:
    """--no-text where reading is on by default, --text where it is off."""
    if default:
        p.add_argument("--no-text", dest="read_text", action="store_false",
                       help="do not read the text in photos (faster)")
    else:
        p.add_argument("--text", dest="read_text", action="store_true",
                       help="also read the text in view (slower)")
    p.set_defaults(read_text=default)
