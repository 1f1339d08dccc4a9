"""Compiling a checkpoint for ONNX Runtime, so that describing a photo needs neither PyTorch nor the second
and more it takes to import (issue 15).

Two graphs are written beside the checkpoint, traced from the very modules PyTorch runs:
- `NAME.encoder.onnx`: photos (B, 3, S, S) -> region features (B, P, C) and, for an encoder with an
  ImageNet head, its logits (B, K); the inference copy, batch norm folded into the convolutions.
- `NAME.search.onnx`: region features (B, P, C) -> the beams of model/captioner/beam_search.py's `search`, at the beam
  size and repeat blocking the describer is calibrated for, with all max_length + 1 steps unrolled
  (model/captioner/hypotheses.py ranks them, as it does for PyTorch). Its weights are stored as fp16 where that is
  exact (all of them for a checkpoint packed with `seesay pack`), and ONNX Runtime widens them to
  fp32 when it loads the graph, so both engines compute with the same numbers.
The search graph's metadata holds what describing needs besides: the vocabulary, the checkpoint's config
and metadata, the encoder's preprocessing and the SHA-256 of the checkpoint it came from.

    python -m training export-onnx                      # the bundled model, into model/weights/
    python -m training export-onnx --model runs/x/best.pt --out-dir runs/x
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model import Captioner
from model.captioner.beam_search import search
from model.captioner.onnx_engine import ENCODER_SUFFIX, FORMAT, METADATA_KEY, SEARCH_SUFFIX, checkpoint_sha256
from model.describing.calibration import spoken_decoding

from .half_weights import store_half

OPSET = 18


class EncoderGraph(nn.Module):
    """The encoder's inference copy, with its ImageNet head over the pooled regions when it has one."""

    def __init__(self, captioner: Captioner) -> None:
        super().__init__()
        self.net = captioner.encoder.inference_copy()
        self.head = captioner._head()

    def forward(self, images: torch.Tensor):
        regions = self.net.regions(images)  # (B, P, C)
        if self.head is None:
            return (regions,)
        return regions, self.head(regions.mean(dim=1))  # (B, P, C), (B, K)


class SearchGraph(nn.Module):
    """model/captioner/beam_search.py's search at one beam size, every step taken (a graph cannot stop on a value)."""

    def __init__(self, captioner: Captioner, beam_size: int, no_repeat_ngram: int) -> None:
        super().__init__()
        self.decoder = captioner.model.decoder.eval()
        self.kwargs = {**captioner.search_arguments(), "beam_size": beam_size, "no_repeat_ngram": no_repeat_ngram,
                       "stop_early": False}

    def forward(self, features: torch.Tensor):
        return search(self.decoder, features, **self.kwargs)


def export_onnx(model: str | Path, out_dir: str | Path | None = None, *, beam_size: int | None = None,
                no_repeat_ngram: int | None = None, log=print) -> tuple[Path, Path]:
    """Write NAME.encoder.onnx and NAME.search.onnx for the checkpoint `model` (into its own folder by
    default); their paths. The search runs one beam size and repeat blocking: by default the ones seesay
    says captions with (model.describing.recognition.spoken_decoding). Needs the `onnx` and `onnxscript` packages
    (seesay's `export` extra)."""
    spoken_beam, spoken_repeat = spoken_decoding()
    beam_size = spoken_beam if beam_size is None else beam_size
    no_repeat_ngram = spoken_repeat if no_repeat_ngram is None else no_repeat_ngram
    if beam_size < 1 or no_repeat_ngram < 0:
        raise ValueError(f"beam size must be at least 1 and repeat blocking at least 0, got {beam_size} and "
                         f"{no_repeat_ngram}")
    model = Path(model)
    out = Path(out_dir) if out_dir else model.parent
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / model.stem
    captioner = Captioner.from_checkpoint(model)
    captioner.model.eval()
    side = captioner.encoder.image_size
    batch = torch.export.Dim("batch", min=1, max=4096)
    start = time.perf_counter()
    with torch.no_grad():
        encoder = EncoderGraph(captioner).eval()
        names = ["regions"] + (["logits"] if encoder.head is not None else [])
        _export(encoder, torch.zeros(2, 3, side, side), "images", names, batch, Path(f"{prefix}{ENCODER_SUFFIX}"))
        log(f"encoder traced in {time.perf_counter() - start:.0f} s")
        regions = captioner.encode_regions([np.zeros((side, side, 3), np.uint8)] * 2)
        graph = SearchGraph(captioner, beam_size, no_repeat_ngram).eval()
        search_path = Path(f"{prefix}{SEARCH_SUFFIX}")
        _export(graph, regions, "features", ["scores", "words", "word_lp", "alphas"], batch, search_path)
    log(f"search traced in {time.perf_counter() - start:.0f} s")
    _store_fp16_where_exact(search_path)
    _set_metadata(search_path, _describe(captioner, model, beam_size, no_repeat_ngram))
    return Path(f"{prefix}{ENCODER_SUFFIX}"), search_path


def _export(module: nn.Module, example: torch.Tensor, input_name: str, output_names: list[str],
            batch: torch.export.Dim, path: Path) -> None:
    torch.onnx.export(module, (example,), path, dynamo=True, external_data=False, opset_version=OPSET,
                      input_names=[input_name], output_names=output_names,
                      dynamic_shapes={input_name: {0: batch}}, verbose=False)  # input_name: forward's argument


def _describe(captioner: Captioner, model: Path, beam_size: int, no_repeat_ngram: int) -> dict:
    """What the ONNX Runtime engine needs besides the graphs (model/captioner/onnx_engine.py reads it)."""
    enc = captioner.encoder
    return {
        "format": FORMAT, "checkpoint": model.name, "checkpoint_sha256": checkpoint_sha256(model),
        "exported": datetime.date.today().isoformat(), "torch": torch.__version__,
        "config": captioner.config.to_dict(), "vocabulary": captioner.vocabulary.words,
        "metadata": captioner.metadata, "beam_size": beam_size, "no_repeat_ngram": no_repeat_ngram,
        "encoder": {"name": enc.name, "image_size": enc.image_size, "mean": list(enc.mean), "std": list(enc.std),
                    "channels": enc.out_channels, "grid": list(enc.grid_size()), "classes": captioner.classes,
                    "micro_batch": enc.cpu_micro_batch()},
    }


def _store_fp16_where_exact(path: Path) -> None:
    """Store each large fp32 weight that fp16 holds exactly as fp16, widened by a Cast node: half the file,
    the same numbers (training/half_weights.py)."""
    import onnx

    onnx.save(store_half(onnx.load(str(path)), min_size=4096), str(path))


def _set_metadata(path: Path, meta: dict) -> None:
    import onnx

    graph_model = onnx.load(str(path))
    onnx.helper.set_model_props(graph_model, {METADATA_KEY: json.dumps(meta, default=str)})
    onnx.save(graph_model, str(path))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="checkpoint to compile (default: the bundled model)")
    p.add_argument("--out-dir", help="folder for the two .onnx files (default: the checkpoint's own)")
    p.add_argument("--beam", type=int, help="beam size the search graph runs (default: the calibration's, 3)")
    p.add_argument("--no-repeat-ngram", type=int, help="repeat blocking (default: the calibration's)")


def run(args: argparse.Namespace) -> int:
    """Compile and report in a line each."""
    from model.captioner.torch_engine import DEFAULT_CHECKPOINT

    encoder, searcher = export_onnx(args.model or DEFAULT_CHECKPOINT, args.out_dir, beam_size=args.beam,
                                    no_repeat_ngram=args.no_repeat_ngram)
    for path in (encoder, searcher):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
