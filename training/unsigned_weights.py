"""NanoDet's int8 graph with its weights stored as uint8, for CPUs on which int8 products saturate.

    python -m training.unsigned_weights [--photos 4] [--out model/weights]

ONNX Runtime runs the shipped int8 graph (uint8 activations x int8 weights) with VPMADDUBSW on an x86 CPU
without VNNI: it adds each pair of 8-bit products in 16 bits, saturating, so there the detector's outputs
differ from what the quantised graph means by up to 3.2 on the check photos (a fourth person found in three
astronauts side by side), while a CPU with VNNI (VPDPBUSD, 32-bit sums) computes them exactly. Here every
weight w becomes the uint8 w + 128 with zero point 128: the same real numbers, which ONNX Runtime multiplies
uint8 x uint8, exactly on every x86 CPU. model/describing/detection.py loads this graph only where products saturate
(model/onnx_runtime.py:int8_products_saturate); elsewhere the int8 one is exact and faster.

The check: on real COCO photos its outputs against the int8 graph run with no graph rewrites (each
DequantizeLinear, float convolution and QuantizeLinear as written, which no CPU rounds differently); the
largest difference is recorded in the manifest beside the file's SHA-256. Needs the `export` extra (onnx).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from model.describing.detection import DEFAULT_WEIGHTS, MANIFEST, ObjectDetector
from model.images import load_image

SHIFT = 128  # int8 w -> uint8 w + 128; the zero point 0 -> 128


def unsigned(int8_graph: bytes) -> bytes:
    """The QDQ graph with every int8 weight (and its zero point) read by a DequantizeLinear shifted to uint8."""
    import onnx
    from onnx import TensorProto, numpy_helper

    model = onnx.load_from_string(int8_graph)
    tensors = {t.name: t for t in model.graph.initializer}
    shifted: set[str] = set()
    for node in model.graph.node:
        weight = tensors.get(node.input[0]) if node.op_type == "DequantizeLinear" else None
        if weight is None or weight.data_type != TensorProto.INT8:
            continue
        if len(node.input) < 3 or node.input[2] not in tensors:
            raise ValueError(f"{node.name}: an int8 weight without a stored zero point")
        for name in (node.input[0], node.input[2]):
            if name not in shifted:
                values = numpy_helper.to_array(tensors[name]).astype(np.int16) + SHIFT
                tensors[name].CopyFrom(numpy_helper.from_array(values.astype(np.uint8), name))
                shifted.add(name)
    if not shifted:
        raise ValueError("the graph holds no int8 weights to shift")
    return model.SerializeToString()


def largest_difference(graph: bytes, reference: bytes, photos: list[Path]) -> float:
    """Largest |output| difference of graph (optimised, as seesay runs it) from reference run as written."""
    import onnxruntime as ort

    plain = ort.SessionOptions()
    plain.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    a = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(reference, plain, providers=["CPUExecutionProvider"])
    name = a.get_inputs()[0].name
    feeds = [ObjectDetector.prepare(ObjectDetector.letterbox(load_image(p))[0]) for p in photos]
    return max(float(np.abs(x - y).max()) for f in feeds
               for x, y in zip(a.run(None, {name: f}), b.run(None, {name: f}), strict=True))


def ship(entry: dict, out: Path, photos: list[Path]) -> dict:
    """Write the unsigned graph beside the int8 one entry names; entry with it recorded."""
    int8 = (out / entry["file"]).read_bytes()
    if hashlib.sha256(int8).hexdigest() != entry["sha256"]:
        raise SystemExit(f"{entry['file']} is not the graph the manifest records")
    data = unsigned(int8)
    (out / ObjectDetector.unsigned_graph).write_bytes(data)
    diff = largest_difference(data, int8, photos)
    print(f"{ObjectDetector.unsigned_graph}: {len(data) / 1e6:.1f} MB, max |fused - as written| {diff:.3g}")
    return entry | {"unsigned": {
        "file": ObjectDetector.unsigned_graph, "sha256": hashlib.sha256(data).hexdigest(),
        "from_sha256": entry["sha256"], "tool": "python -m training.unsigned_weights",
        "weights": f"the int8 weights + {SHIFT} as uint8, zero point {SHIFT}: the same real numbers",
        "used_where": "x86 CPUs without VNNI, where ONNX Runtime's uint8 x int8 products saturate",
        "check_photos": [p.name for p in photos], "max_abs_difference_from_unoptimised_int8": diff}}


def main(argv: list[str] | None = None) -> None:
    from .convert_detectors import check_photos

    p = argparse.ArgumentParser(prog="python -m training.unsigned_weights", description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=int, default=4, help="COCO-mini val photos to check on")
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help="the folder of the graphs and manifest")
    args = p.parse_args(argv)
    manifest = json.loads((args.out / MANIFEST).read_text())
    manifest["models"]["nanodet"] = ship(manifest["models"]["nanodet"], args.out, check_photos(args.photos))
    (args.out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
