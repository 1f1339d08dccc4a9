"""`seesay watch FOLDER...`: describe, say and index photos as they arrive, without a screen."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from ..settings import option
from .arguments import add_db, add_model, add_reading, add_speak, model_overrides, path_text

HELP = "describe and index photos as they appear in folders"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folders", nargs="*", type=path_text, metavar="FOLDER",
                   help="folders to watch (default: watch in the settings)")
    add_speak(p)
    add_db(p)
    add_model(p)
    add_reading(p)
    p.add_argument("--settle", type=option("settle", float), default=1.0, metavar="SECONDS",
                   help="how long a file must stay unchanged before it is read (default: 1)")
    p.add_argument("--seconds", type=option("seconds", float), default=0, metavar="SECONDS",
                   help="stop after this long (default: run until Ctrl-C)")
    p.add_argument("--no-embeddings", action="store_true",
                   help="skip sentence embeddings: faster, but only word search will find these photos")


def run(args: argparse.Namespace) -> int:
    from model.images import display_path as printable

    from ..runtime import Runtime
    from .lines import LineOutput

    runtime = Runtime.load(**model_overrides(args), db=args.db, watch=args.folders or None,
                           read_text=args.read_text, embeddings=False if args.no_embeddings else None)
    runtime.report_warnings()
    folders = runtime.watch_folders
    if not folders:
        print("seesay: name a folder to watch (or set `watch` in the settings)", file=sys.stderr)
        return 2
    missing = [f for f in folders if not Path(f).is_dir()]
    if missing:
        print(f"seesay: not a folder: {', '.join(map(printable, missing))}", file=sys.stderr)
        return 2
    _ = runtime.describer  # loaded before watching starts: a missing model is said at once
    store = runtime.store(writable=True, create=True)
    out = LineOutput()
    if args.speak:
        out.speaker = runtime.speaker(on_status=out.status)
    watcher = runtime.folder_watcher(store, on_description=out.describe, on_status=out.status,
                                     settle=args.settle).start()
    out.status(f"watching {', '.join(map(printable, folders))}; Ctrl-C to stop")
    finish = 120.0  # what was found is still said when --seconds ends; Ctrl-C stops at once
    try:
        threading.Event().wait(args.seconds or None)
    except KeyboardInterrupt:
        finish = 0.0
    finally:
        watcher.stop()
        store.close()
        out.close(finish=finish)
    return 0
