"""`seesay forget FOLDER...`: forget what the index holds in folders, whether or not they still exist."""

from __future__ import annotations

import argparse
import sys

from .arguments import add_db, path_text

HELP = "forget the photos the index holds in folders (a folder deleted or no longer wanted)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folders", nargs="+", type=path_text, metavar="FOLDER", help="folders to forget")
    add_db(p)


def run(args: argparse.Namespace) -> int:
    from model.images import display_path as printable
    from store import StoreError

    from ..indexer import forget_folders
    from ..runtime import Runtime

    runtime = Runtime.load(db=args.db)
    runtime.report_warnings()
    store = runtime.store(writable=True, create=False)
    try:
        for folder in args.folders:
            count = forget_folders(store, [folder])
            print(f"{printable(folder)}: {count} photo{'s' * (count != 1)} forgotten")
    except StoreError as exc:
        print(f"seesay: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0
