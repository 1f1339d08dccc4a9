"""How every graph seesay ships runs (the captioner's, the detectors', the sentence model's): an ONNX Runtime
session on the CPU, quiet, whose threads sleep between runs. Imports ONNX Runtime only when a session is made.
"""

from __future__ import annotations

import os
import platform
import threading
from functools import lru_cache
from pathlib import Path
from types import ModuleType

_IMPORTING = threading.Lock()


def import_onnxruntime() -> ModuleType:
    """The onnxruntime module, imported by one thread at a time: its package imports itself in a circle, and
    two threads importing it at once can end in Python's import-deadlock error (a `seesay caption` start in
    about 25 on a busy machine, when the captioner loaded on one thread and the text reader on another)."""
    with _IMPORTING:
        import onnxruntime

    return onnxruntime


def cpu_session(path: str | os.PathLike, threads: int | None = None):
    """An InferenceSession of the graph at path; threads: intra-op threads (None: one per core)."""
    ort = import_onnxruntime()

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are about graph rewrites, not the user
    if threads:
        options.intra_op_num_threads = threads
    # Its threads sleep between runs instead of spinning: a describer shares the cores with the sentence
    # embedder, the text reader and the app, and spinning threads slowed those by half.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=1)
def int8_products_saturate() -> bool:
    """Whether ONNX Runtime's uint8 x int8 products saturate on this CPU: an x86-64 one without VNNI, where
    they are added in pairs in 16 bits (VPMADDUBSW) instead of in 32 (VPDPBUSD). Read from Linux's list of
    the processor's features; an x86 CPU whose features cannot be read is taken to saturate (the exact graph
    is only slower). Other CPUs (ARM) compute them exactly."""
    if platform.machine().lower() not in ("x86_64", "amd64", "x86", "i686"):
        return False
    try:
        flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), [])
    except OSError:
        return True
    return not {"avx512_vnni", "avx_vnni", "amx_int8"} & set(flags)


def load_errors() -> tuple[type[Exception], ...]:
    """What ONNX Runtime raises for a graph it cannot load: damaged, foreign, or missing."""
    import_onnxruntime()
    from onnxruntime.capi import onnxruntime_pybind11_state as e

    return (e.Fail, e.InvalidArgument, e.InvalidGraph, e.InvalidProtobuf, e.NoSuchFile, e.NotImplemented,
            e.RuntimeException)


def first_line(exc: BaseException) -> str:
    """An error's first line, to be said in one ("... cannot be loaded (FIRST LINE)")."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
