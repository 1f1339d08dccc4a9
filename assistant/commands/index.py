"""`seesay index FOLDER...`: describe new or changed photos into the index, forget the ones that are gone."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..settings import option
from .arguments import add_db, add_model, add_reading, model_overrides, path_text

HELP = "describe the photos in folders into the search index"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folders", nargs="+", type=path_text, metavar="FOLDER",
                   help="folders to index (links inside are not followed)")
    add_db(p)
    add_model(p)
    add_reading(p)
    p.add_argument("--batch-size", type=option("batch_size"), default=16, metavar="N",
                   help="photos described together (default: 16)")
    p.add_argument("--no-embeddings", action="store_true",
                   help="skip sentence embeddings: faster, but only word search will find these photos")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from model.images import display_path as printable
    from store import StoreError

    from ..runtime import Runtime

    runtime = Runtime.load(**model_overrides(args), db=args.db, read_text=args.read_text,
                           embeddings=False if args.no_embeddings else None)
    gone = [f for f in args.folders if not os.path.lexists(f)]
    missing = [f for f in args.folders if not Path(f).is_dir() and f not in gone]
    if gone:  # a folder indexed and since deleted: its rows are forgotten, or it was never a folder
        missing += _forget_gone_roots(runtime, gone)
    if missing:
        print(f"seesay: not a folder: {', '.join(map(printable, missing))}", file=sys.stderr)
        return 2
    folders = [f for f in args.folders if f not in gone]
    if not folders:
        return 0
    runtime.report_warnings()
    _ = runtime.describer  # loaded before the index opens: a missing model is said at once
    store = runtime.store(writable=True, create=True)
    columns = (TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, disable=args.quiet, transient=True, redirect_stderr=False) as bar:
            task = bar.add_task("indexing", total=None)
            report = runtime.index(store, folders, batch_size=args.batch_size,
                                   on_progress=lambda done, total: bar.update(task, completed=done, total=total))
        if runtime.index_embedder is not None:
            store.embedding_index()  # the search's copy of the embeddings, made now rather than by the first search
    except StoreError as exc:
        print(f"seesay: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    for path, why in report.failed:
        print(f"skipping {printable(path)}: {why}", file=sys.stderr)
    for path, why in report.notes:
        print(f"{printable(path)}: {why}", file=sys.stderr)
    secs = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
    print(f"{report.described} described, {report.linked} already known under another name, "
          f"{report.unchanged} unchanged, {len(report.failed)} unreadable, {report.forgotten} gone and forgotten, "
          f"of {report.seen} photos ({secs})")
    return 0


def _forget_gone_roots(runtime, gone: list[str]) -> list[str]:
    """Forget what the index holds under folders that no longer exist, saying so; returns those it held
    nothing under (never indexed folders, as far as seesay knows)."""
    from model.images import display_path as printable
    from store import StoreError

    from ..indexer import forget_folders
    from ..runtime import SetupError

    if not os.path.exists(runtime.db_path):  # never raises, even for a name too long
        return gone
    store = runtime.store(writable=True, create=False)
    unknown = []
    try:
        for folder in gone:
            count = forget_folders(store, [folder])
            if count:
                print(f"{printable(folder)} no longer exists: {count} photo{'s' * (count != 1)} recorded "
                      "in it forgotten", file=sys.stderr)
            else:
                unknown.append(folder)
    except StoreError as exc:
        raise SetupError(str(exc)) from None
    finally:
        store.close()
    return unknown
