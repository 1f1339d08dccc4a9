"""Words for a listener: search results, file names and what each key of the app says (issue 28).

A search result used to take 10-12 s to hear ("A dog.. 1001773457_577c3a7d70.jpg", the number read as
"one billion three million ..."), and 8 of the top 10 results for "dog" differed only in that number.
Here a result is said description first, then the file's name as words (a camera number left out), then
its folder; results below a relevance cut-off are not said at all, and the count comes first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

# A result is kept when its score is at least this share of the best one's (scores are larger-better
# within a mode: BM25, cosine similarity or reciprocal-rank fusion). With fusion, a photo found by both
# rankings scores about 2/61 and one found by one ranking at rank 10 about 1/70: the cut keeps the
# first kind and the top of the second.
RELEVANCE = 0.5
# Words that cameras and phones put in front of their numbers: no listener wants to hear them.
CAMERA_WORDS = frozenset({"img", "dsc", "dscn", "dscf", "pxl", "mvimg", "vid", "gopr", "dji", "sam", "wp",
                          "pict", "p", "image", "photo", "screenshot", "scan", "mg"})
_PARTS = re.compile(r"[_\-\s.+()\[\]]+|(?<=[a-z])(?=[A-Z])")


def file_words(path: str | Path) -> str:
    """A file's or folder's name as words: "beach-walk_2019.jpg" -> "beach walk 2019", while a camera's
    number says nothing ("IMG_20230101_123456.jpg", "1001773457_577c3a7d70.jpg" -> "")."""
    words = []
    for part in _PARTS.split(Path(path).stem if Path(path).suffix else Path(path).name):
        if not part or part.lower() in CAMERA_WORDS:
            continue
        digits = sum(c.isdigit() for c in part)
        if digits and (digits > 4 or not part.isdigit()):
            continue  # a counter, a date-time stamp or a hash, not a name
        words.append(part)
    return " ".join(words)


def relevant(hits: Sequence, share: float = RELEVANCE) -> list:
    """The hits whose score is at least share of the best one's (all of them when scores are not positive)."""
    if not hits or hits[0].score <= 0:
        return list(hits)
    best = max(h.score for h in hits)
    return [h for h in hits if h.score >= share * best]


def spoken_result(hit) -> str:
    """One search result for a listener: "A dog. Beach walk, in the folder holiday." ("A photo" where the
    name is only a camera number)."""
    sentence = hit.caption.strip()
    sentence = sentence if sentence.endswith((".", "!", "?")) else sentence + "."
    from .folders import shown_name  # the index's own name for the file has its backslashes doubled

    shown = shown_name(hit.path)
    name, folder = file_words(shown), file_words(Path(shown).parent.name)
    where = f"in the folder {folder}" if folder else "in the top folder"
    return f"{sentence} {name.capitalize() if name else 'A photo'}, {where}."


def results_summary(query: str, hits: Sequence) -> str:
    """The count first, then the best result: "3 photos found for dog. First: A dog. ..."."""
    if not hits:
        return f"No photos match {query}."
    plural = "" if len(hits) == 1 else "s"
    return f"{len(hits)} photo{plural} found for {query}. First: {spoken_result(hits[0])}"
