"""ONNX graphs with their float32 weights stored as float16: half the file, widened by a Cast node each, which
ONNX Runtime folds once when it loads the graph. Used by every export that ships a graph (the captioner's,
the sentence model's, the detectors')."""

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
