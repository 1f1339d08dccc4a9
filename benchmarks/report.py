"""What every benchmark does at its end: print a table, and write its numbers with the machine to JSON."""

from __future__ import annotations

import json
import os
import platform
import resource
from collections.abc import Iterable, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console()


def machine() -> str:
    """This machine in a line: architecture, processor, cores, and PyTorch's version when it is loaded.
    Machines lent for a run differ (the same code ran half again as fast on one as on another), so a figure
    says which it came from."""
    import sys

    torch = sys.modules.get("torch")
    return (f"{platform.machine()}{cpu_model()}, {os.cpu_count()} cores"
            + (f", torch {torch.__version__}" if torch else ""))


def cpu_model() -> str:
    """", NAME" of the processor as Linux reports it, or "" where it does not."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return ""
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return f", {names[0]}" if names else ""


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def show(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]], *notes: str) -> None:
    """Print a right-aligned table, then notes, one per line."""
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right")
    for row in rows:
        table.add_row(*(str(x) for x in row))
    console.print(table)
    for note in notes:
        console.print(note)


def save(path: str | os.PathLike, **numbers) -> None:
    """Write the numbers, with the machine and peak memory, as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine(), "peak_rss_mb": peak_rss_mb(), **numbers}
    path.write_text(json.dumps(data, indent=2) + "\n")


def spread(values: Sequence[float]) -> dict[str, object]:
    """Median of repeated runs with their spread: {"median", "min", "max", "runs": [...]}."""
    import statistics

    values = [float(v) for v in values]
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def fmt(s: dict[str, object], digits: int = 1) -> str:
    """A spread as 'median (min-max)'."""
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def matmul_gflops(device: str = "cpu", seconds: float = 1.0, clock=None) -> float:
    """This machine's measured matmul GFLOP/s, right now: fp32 on CPU (n = 2048), bf16 on CUDA (n = 8192).

    The bound a benchmark states its fraction of; measure it in the same run as the figures it bounds,
    several times, since on a shared machine it moves with everyone else's load. clock: time.perf_counter
    (default) or time.process_time, to match the figures' own clock.
    """
    import time

    import torch

    clock = clock or time.perf_counter

    cuda = device.startswith("cuda")
    dtype, n = (torch.bfloat16, 8192) if cuda else (torch.float32, 2048)
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    a @ b  # warm-up
    sync()
    reps, start = 0, clock()
    while reps < 2 or clock() - start < seconds:
        a @ b
        reps += 1
    sync()
    return 2 * n**3 * reps / (clock() - start) / 1e9


def add_data_argument(p) -> None:
    """--data: the shared data folder (training.data.data_root: $SEESAY_DATA or ../shared/data)."""
    from training.data import data_root

    p.add_argument("--data", default=str(data_root()), help="the shared data folder (default: %(default)s)")


def link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Put src at dst as a hard link (no space, and seesay reads it as a regular file), else as a copy."""
    import shutil

    try:
        os.link(src, dst)
    except OSError:
        shutil.copy(src, dst)
