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
    """This machine in a line: architecture, cores, and PyTorch's version when it is loaded."""
    import sys

    torch = sys.modules.get("torch")
    return f"{platform.machine()}, {os.cpu_count()} cores" + (f", torch {torch.__version__}" if torch else "")


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
