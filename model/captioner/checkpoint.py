"""Checkpoint files: plain data (config, tensors, vocabulary, metadata), never pickled modules."""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

FORMAT = "seesay-captioner"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is missing, damaged, or not a seesay captioner checkpoint."""


@dataclass
class CheckpointData:
    """What a checkpoint file holds."""

    config: dict[str, Any]
    vocabulary: list[str]
    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. optimizer state in training checkpoints


def plain_data(x: Any) -> Any:
    """x reduced to what torch's safe loader accepts: dicts, lists, str, numbers, bool, None, tensors."""
    if isinstance(x, dict):
        return {(k if isinstance(k, (str, int)) else str(k)): plain_data(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain_data(v) for v in x]
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, bool) or x is None:
        return x
    for kind in (int, float):
        if isinstance(x, kind):
            return kind(x)
    return str(x)  # str subclasses (torch's TorchVersion), paths, anything else


def save_checkpoint(path: str | os.PathLike, data: CheckpointData, *, half: bool = False) -> Path:
    """Write atomically (temp file, then rename), so a crash never leaves half a checkpoint.

    half=True stores floating-point weights as fp16 (half the size; loading restores fp32).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
        for k, v in data.state_dict.items()
    }
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": plain_data(dict(data.config)),
        "vocabulary": [str(w) for w in data.vocabulary],
        "state_dict": state,
        "metadata": plain_data(dict(data.metadata)),
        "extra": plain_data(dict(data.extra)),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike) -> CheckpointData:
    """Read a checkpoint with torch's safe loader (weights_only), or raise CheckpointError saying why."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # PyTorch's own message goes on to suggest weights_only=False, i.e. running the file's code: never relay it.
        raise CheckpointError(f"{path} holds Python objects besides tensors and plain data, which seesay "
                              "refuses to load: it is not a seesay checkpoint, or it was tampered with") from None
    except Exception as exc:  # junk bytes make the unpickler fail in any number of ways (KeyError, EOFError ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckpointError(f"{path} is damaged or not a PyTorch file ({type(exc).__name__}: {first})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a seesay captioner checkpoint (no '{FORMAT}' format marker)")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {version!r}; this seesay reads up to {FORMAT_VERSION}")
    state = {k: (v.float() if v.dtype == torch.float16 else v) for k, v in payload["state_dict"].items()}
    return CheckpointData(
        config=payload["config"],
        vocabulary=payload["vocabulary"],
        state_dict=state,
        metadata=payload.get("metadata", {}),
        extra=payload.get("extra", {}),
    )
