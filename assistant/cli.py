"""The `seesay` command: one sub-command per job. Heavy imports happen inside each job."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _caption(args: argparse.Namespace) -> int:
    from model import ImageError, load_image
    from model.attention_map import render_attention

    captioner = load_captioner(args)
    if captioner is None:
        return 2
    if args.attention_dir:
        Path(args.attention_dir).mkdir(parents=True, exist_ok=True)
    done = 0
    for path in args.images:
        try:
            image = load_image(path)
        except ImageError as exc:
            print(f"skipping {exc}", file=sys.stderr)
            continue
        cap = captioner.caption([image], beam_size=args.beam)[0]
        done += 1
        if args.json:
            print(json.dumps({"path": str(path), "caption": cap.text, "sentence": cap.sentence,
                              "confidence": round(cap.confidence, 4), "uncertain": cap.uncertain,
                              "seconds": round(cap.seconds, 4)}), flush=True)
        else:
            print(f"{path}\t{cap.sentence}\t(confidence {cap.confidence:.2f})", flush=True)
        if args.attention_dir and cap.words:
            out = Path(args.attention_dir) / f"{Path(path).stem}.attention.png"
            render_attention(image, cap.words, cap.attention).save(out)
    return 0 if done else 1


def load_captioner(args: argparse.Namespace):
    from model import Captioner, CheckpointError, MissingWeightsError, NoModelError

    try:
        return Captioner.from_checkpoint(args.model, args.device) if args.model else Captioner.default(args.device)
    except (NoModelError, CheckpointError, MissingWeightsError) as exc:
        print(f"seesay: {exc}", file=sys.stderr)
        return None


def open_store(args: argparse.Namespace):
    from store import Store, StoreError, default_db_path

    path = Path(args.db) if args.db else default_db_path()
    try:
        return Store(path)
    except StoreError as exc:
        print(f"seesay: {exc}", file=sys.stderr)
        return None


def _index(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from store import StoreError

    from .embedder import SentenceEmbedder
    from .indexer import index_folders

    missing = [f for f in args.folders if not Path(f).is_dir()]
    if missing:
        print(f"seesay: not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    captioner = load_captioner(args)
    store = open_store(args)
    if captioner is None or store is None:
        return 2
    embedder = None if args.no_embeddings else SentenceEmbedder()
    try:
        with Progress(disable=args.quiet, transient=True) as bar:
            task = bar.add_task("indexing", total=None)
            report = index_folders(store, captioner, args.folders, embedder=embedder, batch_size=args.batch_size,
                                   beam_size=args.beam,
                                   on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    except StoreError as exc:
        print(f"seesay: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    for path, why in report.failed:
        print(f"skipping {path}: {why}", file=sys.stderr)
    secs = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
    print(f"{report.captioned} captioned, {report.unchanged} unchanged, {len(report.failed)} unreadable "
          f"of {report.seen} photos ({secs})")
    return 0


def _search(args: argparse.Namespace) -> int:
    from store import StoreError

    store = open_store(args)
    if store is None:
        return 2
    try:
        if args.mode == "text":
            hits = store.text_search(args.query, args.limit)
        else:
            from .embedder import SentenceEmbedder

            vec = SentenceEmbedder().embed([args.query])[0]
            hits = (store.semantic_search(vec, args.limit) if args.mode == "semantic"
                    else store.hybrid_search(args.query, vec, args.limit))
    except StoreError as exc:
        print(f"seesay: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    for h in hits:
        if args.json:
            print(json.dumps({"path": h.path, "caption": h.caption, "score": round(h.score, 6)}))
        else:
            print(f"{h.score:8.4f}  {h.path}\t{h.caption}")
    if not hits and not args.json:
        print("no matches", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    import csv

    store = open_store(args)
    if store is None:
        return 2
    try:
        rows = store.export_rows()
    finally:
        store.close()
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        if args.format == "json":
            json.dump(rows, out, indent=1)
        elif args.format == "csv":
            writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["path", "caption"])
            writer.writeheader()
            writer.writerows(rows)
        else:  # COCO results-style file with an images table
            ids = {p: i for i, p in enumerate(dict.fromkeys(r["path"] for r in rows), start=1)}
            json.dump({"images": [{"id": i, "file_name": p} for p, i in ids.items()],
                       "annotations": [{"id": n, "image_id": ids[r["path"]], "caption": r["caption"],
                                        "confidence": r["confidence"], "model": r["model"]}
                                       for n, r in enumerate(rows, start=1)]}, out, indent=1)
    finally:
        if args.output:
            out.close()
    return 0


def _training(command: str):
    def run(args: argparse.Namespace) -> int:
        from training import cli  # loaded only for these two commands

        try:
            return cli.run_train(args) if command == "train" else cli.run_evaluate(args)
        except (ValueError, FileNotFoundError) as exc:
            print(f"seesay: {exc}", file=sys.stderr)
            return 2

    return run


def _headless(name: str):
    def run(args: argparse.Namespace) -> int:
        from . import headless

        return getattr(headless, name)(args)

    return run


def _app(args: argparse.Namespace) -> int:
    from .app import run_app

    return run_app(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seesay", description="Describe photos and camera frames, offline.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("caption", help="describe photo files")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", help="checkpoint file (default: the bundled model)")
    p.add_argument("--beam", type=int, default=3, help="beam size (1 = greedy)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--attention-dir", help="write a PNG per photo showing where each word looked")
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=_caption)

    p = sub.add_parser("index", help="caption the photos in folders into the search index")
    p.add_argument("folders", nargs="+", metavar="DIR")
    p.add_argument("--db", help="index file (default: $SEESAY_DB or the user data directory)")
    p.add_argument("--model", help="checkpoint file (default: the bundled model)")
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--no-embeddings", action="store_true", help="skip sentence embeddings (text search only)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=_index)

    p = sub.add_parser("search", help="find photos by what is in them")
    p.add_argument("query")
    p.add_argument("--db")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--mode", choices=("text", "semantic", "hybrid"), default="hybrid")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_search)

    p = sub.add_parser("export", help="write the whole index as JSON, CSV or COCO")
    p.add_argument("--db")
    p.add_argument("--format", choices=("json", "csv", "coco"), default="json")
    p.add_argument("--output", "-o")
    p.set_defaults(run=_export)

    p = sub.add_parser("app", help="the terminal app: live camera, watched folders, speech, search")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, help="camera device index (default: from the settings)")
    source.add_argument("--video", help="a video file or stream URL instead of a camera")
    p.add_argument("--watch", nargs="*", default=None, metavar="DIR", help="folders to watch")
    p.add_argument("--no-camera", action="store_true", help="start without a camera")
    p.add_argument("--db")
    p.add_argument("--model")
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=_app)

    p = sub.add_parser("live", help="describe what a camera sees, one line per new scene")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, help="camera device index (default: from the settings)")
    source.add_argument("--video", help="a video file or stream URL instead of a camera")
    p.add_argument("--loop", action="store_true", help="play a video file again at its end")
    p.add_argument("--speak", action="store_true", help="say each description aloud")
    p.add_argument("--beam", type=int, default=0, help="beam size (default: from the settings)")
    p.add_argument("--model")
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=_headless("run_live"))

    p = sub.add_parser("watch", help="describe and index photos as they appear in folders")
    p.add_argument("folders", nargs="*", metavar="DIR", help="default: the folders in the settings")
    p.add_argument("--speak", action="store_true", help="say each description aloud")
    p.add_argument("--db")
    p.add_argument("--model")
    p.add_argument("--beam", type=int, default=0)
    p.add_argument("--settle", type=float, default=1.0, help="seconds a file must stay unchanged before reading")
    p.add_argument("--seconds", type=float, default=0, help="stop after this long (default: run until Ctrl-C)")
    p.add_argument("--no-embeddings", action="store_true")
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=_headless("run_watch"))

    p = sub.add_parser("say", help="speak text, or write it as speech to a WAV file")
    p.add_argument("text")
    p.add_argument("--to", metavar="FILE.wav", help="write a WAV file instead of playing")
    p.add_argument("--rate", type=int, help="words per minute")
    p.add_argument("--volume", type=float, help="0 to 1")
    p.add_argument("--voice", help="a voice id of the speech engine")
    p.set_defaults(run=_headless("run_say"))

    from training.cli import add_evaluate_arguments, add_train_arguments  # argument lists only

    p = sub.add_parser("train", help="train a captioner on COCO-format data")
    add_train_arguments(p)
    p.set_defaults(run=_training("train"))
    p = sub.add_parser("evaluate", help="score a checkpoint on a held-out split")
    add_evaluate_arguments(p)
    p.set_defaults(run=_training("evaluate"))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv or ["app"])  # plain `seesay` opens the app
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
