"""`seesay app` (and plain `seesay`): the terminal app with live camera, watched folders, speech and search."""

from __future__ import annotations

import argparse

from .arguments import add_camera, add_db, add_model, camera_overrides, model_overrides

HELP = "the terminal app: live camera, watched folders, speech, search"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_camera(p)
    p.add_argument("--watch", nargs="*", default=None, metavar="FOLDER",
                   help="folders to watch (default: watch in the settings)")
    add_db(p)
    add_model(p, beam=False)


def run(args: argparse.Namespace) -> int:
    from ..app import SeesayApp
    from ..runtime import Runtime

    SeesayApp(Runtime.load(**model_overrides(args), **camera_overrides(args), db=args.db,
                           watch=args.watch or None)).run()
    return 0
