"""ONNX graphs with their float32 weights stored as float16: half the file, widened by a Cast node each, which
ONNX Runtime folds once when it loads the graph. Used by every export that ships a graph (the captioner's,
the sentence model's, the detectors'); `widen` undoes it where a tool needs plain float32 weights."""

from __future__ import annotations

import numpy as np


def store_half(model, *, exact: bool = True, min_size: int = 64):
    """The ONNX model, changed in place, with each float32 weight of at least min_size values stored as
    float16 and widened by a Cast. exact: only weights float16 holds exactly, so every output is unchanged;
    else all of them (rounded)."""
    import onnx
    from onnx import numpy_helper

    kept, casts = [], []
    for init in model.graph.initializer:
        a = numpy_helper.to_array(init)
        if a.dtype == np.float32 and a.size >= min_size and (
                not exact or np.array_equal(a.astype(np.float16).astype(np.float32), a)):
            half = numpy_helper.from_array(a.astype(np.float16), f"{init.name}/float16")
            kept.append(half)
            casts.append(onnx.helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
        else:
            kept.append(init)
    nodes = [*casts, *model.graph.node]
    del model.graph.initializer[:], model.graph.node[:]
    model.graph.initializer.extend(kept)
    model.graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model


def widen(model):
    """store_half undone: the ONNX model, changed in place, with each float16 weight widened by a Cast stored
    as the float32 it stands for (a quantiser reads weights only from initializers)."""
    import onnx
    from onnx import numpy_helper

    halves = {i.name: i for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16}
    casts = [n for n in model.graph.node if n.op_type == "Cast" and n.input[0] in halves]
    wide = [numpy_helper.from_array(numpy_helper.to_array(halves[n.input[0]]).astype(np.float32), n.output[0])
            for n in casts]
    kept = [i for i in model.graph.initializer if i.name not in {n.input[0] for n in casts}]
    nodes = [n for n in model.graph.node if n not in casts]
    del model.graph.initializer[:], model.graph.node[:]
    model.graph.initializer.extend(kept + wide)
    model.graph.node.extend(nodes)
    return model
