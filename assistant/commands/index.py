"""`seesay index FOLDER...`: describe new or changed photos into the index, forget the ones that are gone."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import add_db, add_model, add_reading, positive_int

HELP = "describe the photos in folders into the search index"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folders", nargs="+", metavar="FOLDER", help="folders to index (links inside are not followed)")
    add_db(p)
    add_model(p)
    add_reading(p, default=True)
    p.add_argument("--batch-size", type=positive_int, default=16, metavar="N",
                   help="photos described together (default: 16)")
    p.add_argument("--no-embeddings", action="store_true",
                   help="skip sentence embeddings: faster, but only word search will find these photos")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from model.images import display_path as printable
    from store import StoreError

    from ..indexer import index_folders
    from ..runtime import Runtime

    missing = [f for f in args.folders if not Path(f).is_dir()]
    if missing:
        print(f"seesay: not a folder: {', '.join(map(printable, missing))}", file=sys.stderr)
        return 2
    runtime = Runtime(args)
    runtime.report_warnings()
    describer = runtime.describer
    store = runtime.store(writable=True, create=True)
    embedder = None if args.no_embeddings else runtime.embedder
    columns = (TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, disable=args.quiet, transient=True, redirect_stderr=False) as bar:
            task = bar.add_task("indexing", total=None)
            report = index_folders(store, describer, args.folders, embedder=embedder, batch_size=args.batch_size,
                                   beam_size=runtime.beam_size,
                                   on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    except StoreError as exc:
        print(f"seesay: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    for path, why in report.failed:
        print(f"skipping {printable(path)}: {why}", file=sys.stderr)
    secs = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
    print(f"{report.described} described, {report.linked} already known under another name, "
          f"{report.unchanged} unchanged, {len(report.failed)} unreadable, {report.forgotten} gone and forgotten, "
          f"of {report.seen} photos ({secs})")
    return 0
