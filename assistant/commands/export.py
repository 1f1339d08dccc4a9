"""`seesay export`: the whole index as JSON, CSV, or a COCO results file.

In CSV, a cell that starts with =, +, -, @, a tab or a carriage return is written with a single quote in
front ('=...), so that a spreadsheet opening the file shows it as text instead of running it as a formula
(CSV injection: a file name, or text read from a photo, is anyone's to choose). JSON is written as stored.
"""

from __future__ import annotations

import argparse
import csv
import errno
import json
import os
import sys

from .arguments import add_db, path_text, refuse_a_database

HELP = "write the whole index as JSON, CSV or a COCO results file"
FIELDS = ["path", "sha256", "width", "height", "caption", "confidence", "sentence", "objects", "text", "model",
          "created"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_db(p)
    p.add_argument("--format", choices=("json", "csv", "coco"), default="json",
                   help="json: every field; csv: one row per file, a cell starting with = + - @ or a tab "
                        "prefixed with ' so that spreadsheets show it as text, not a formula; coco: the COCO "
                        "caption results format, [{image_id, caption}], that pycocotools' COCO.loadRes reads "
                        "(default: json)")
    p.add_argument("--output", "-o", type=path_text, metavar="FILE",
                   help="write here instead of standard output ('-' for standard output)")


def coco_results(rows: list[dict]) -> list[dict]:
    """COCO caption results: one {image_id, caption} per photo, ids numbered by path order.

    COCO's image ids are numbers; seesay numbers photos in the order of their first path, and writes
    that path and the model's name next to each result, which loadRes leaves alone.
    """
    ids: dict[str, int] = {}
    out = []
    for r in rows:
        if r["sha256"] in ids:
            continue
        ids[r["sha256"]] = len(ids) + 1
        out.append({"image_id": ids[r["sha256"]], "caption": r["caption"], "file_name": r["path"], "model": r["model"]})
    return out


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A CSV cell a spreadsheet shows as text: a string it would read as a formula gets a ' in front (OWASP)."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def write(rows: list[dict], fmt: str, out) -> None:
    if fmt == "json":
        json.dump(rows, out, indent=1)
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)
    else:
        json.dump(coco_results(rows), out, indent=1)


def run(args: argparse.Namespace) -> int:
    from store import StoreError

    from ..folders import script_path
    from ..runtime import Runtime

    runtime = Runtime.load(db=args.db)
    runtime.report_warnings()
    store = runtime.store(writable=False, create=False)
    try:
        rows = [{**r, "path": script_path(r["path"])} for r in store.export_rows()]  # the file's own path
    except StoreError as exc:
        print(f"seesay: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if not args.output or args.output == "-":
        write(rows, args.format, sys.stdout)
        return 0
    if refuse_a_database(args.output):
        return 2
    try:
        with _open_output(args.output) as out:
            write(rows, args.format, out)
    except OSError as exc:
        why = "it is a named pipe that nothing is reading from" if exc.errno == errno.ENXIO else exc.strerror
        print(f"seesay: cannot write {args.output}: {why or exc}", file=sys.stderr)
        return 2
    print(f"{len(rows)} descriptions written to {args.output}", file=sys.stderr)
    return 0


def _open_output(name: str):
    """The output file opened for writing text. Opened without blocking, so that a FIFO nothing reads
    from fails at once (ENXIO) instead of waiting for ever; a pipe with a reader (`-o >(gzip > x)`) is used."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC, 0o666)
    try:
        os.set_blocking(fd, True)
        return open(fd, "w", newline="", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise
