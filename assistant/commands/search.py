"""`seesay search WORDS`: find photos by what is in them, what they show and what they say."""

from __future__ import annotations

import argparse
import json
import sys

from ..settings import option
from .arguments import add_db, visible

HELP = "find photos by what is in them"
NOTHING = "seesay: nothing to search for: give some words (not only 'a', 'the' ...)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", help="words to look for, e.g. 'dog on a beach' or a word written in the photo")
    add_db(p)
    p.add_argument("--limit", type=option("limit"), default=10, metavar="N", help="most results to show (default: 10)")
    p.add_argument("--mode", choices=("text", "semantic", "hybrid"), default="hybrid",
                   help="text: the words themselves (BM25); semantic: similar meaning (sentence embeddings); "
                        "hybrid: both, fused (default)")
    p.add_argument("--json", action="store_true", help="one JSON object per result")
    p.add_argument("--speak", action="store_true",
                   help="also say the results aloud: how many, then each that is relevant (its description, file "
                        "name and folder), as the app says them")


def run(args: argparse.Namespace) -> int:
    from ..runtime import Runtime

    runtime = Runtime.load(db=args.db)
    runtime.report_warnings()
    if not visible(args.query):  # before the sentence model loads; semantic search ranked every photo for ''
        print(NOTHING, file=sys.stderr)
        return 2
    # Before the store's imports, so that the sentence model loads while SQLAlchemy is imported (issue 29).
    embedding = None if args.mode == "text" else _embed_aside(runtime, args.query)
    from store import StoreError, fts_query

    from ..folders import script_path, shown_name

    if fts_query(args.query) is None and args.mode != "semantic":
        print(NOTHING, file=sys.stderr)
        return 2
    store = runtime.store(writable=False, create=False)
    try:
        if args.mode == "text":
            hits = store.text_search(args.query, args.limit)
        else:
            store.embedding_index()  # read while the query is embedded: SQLite, too, lets go of Python's lock
            vector = embedding.result()
            hits = (store.semantic_search(vector, args.limit) if args.mode == "semantic"
                    else store.hybrid_search(args.query, vector, args.limit))
    except (StoreError, FileNotFoundError) as exc:  # FileNotFoundError: the sentence model, installed without it
        print(f"seesay: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    for rank, h in enumerate(hits, start=1):
        if args.json:
            print(json.dumps({"rank": rank, "path": script_path(h.path), "description": h.caption, "text": h.reading,
                              "score": round(h.score, 6), "mode": args.mode}))
        else:
            said = f"{h.caption}" + (f"  [text: {h.reading.splitlines()[0]}]" if h.reading else "")
            print(f"{rank:3d}  {shown_name(h.path)}\t{said}")
    if not hits and not args.json:
        print(f"no photos match {args.query!r}", file=sys.stderr)
    if args.speak:
        _speak(runtime, args.query, hits)
    return 0


def _speak(runtime, query: str, hits) -> None:
    """The results for a listener (assistant/spoken.py): the count of relevant ones first, then each, heard
    whole before the command ends."""
    from ..speech import speech_seconds
    from ..speech_queue import RESULTS
    from ..spoken import relevant, results_summary, spoken_result

    heard = relevant(hits)
    said = [results_summary(query, heard), *(spoken_result(h) for h in heard[1:])]
    speaker = runtime.speaker(on_status=lambda m: print(f"seesay: {m}", file=sys.stderr))
    try:
        for text in said:
            speaker.say(text, kind=RESULTS)
        speaker.available(timeout=sum(speech_seconds(t, speaker.voice) for t in said) + 60)  # let it finish
    finally:
        speaker.close()


def _embed_aside(runtime, query: str):
    """The query's embedding, computed on a thread while the index opens: ONNX Runtime loads its graph
    without holding Python's lock, so on 2 cores loading the sentence model and opening the index overlap."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1, thread_name_prefix="seesay-embed")
    embedding = pool.submit(lambda: runtime.embedder.embed([query])[0])
    pool.shutdown(wait=False)
    return embedding
