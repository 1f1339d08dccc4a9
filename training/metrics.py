"""Caption metrics with pycocoevalcap's scorers: BLEU-1..4, METEOR, ROUGE-L, CIDEr.

SPICE is left out: it downloads Stanford CoreNLP at run time and cannot work offline. The PTB tokenizer
and METEOR need Java; without it captions are tokenised by seesay's own tokenizer and METEOR is skipped,
and the result says so.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from collections.abc import Mapping, Sequence

from model import tokenize

METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr")


def java_available() -> bool:
    return shutil.which("java") is not None


@contextlib.contextmanager
def _quiet():
    """Silence stdout and the Java subprocesses' stderr (they print progress lines on both)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _tokenized(refs: Mapping[int, Sequence[str]], hyps: Mapping[int, str], use_java: bool):
    if use_java:
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        tok = PTBTokenizer()
        with _quiet():
            r = tok.tokenize({k: [{"caption": c} for c in v] for k, v in refs.items()})
            h = tok.tokenize({k: [{"caption": hyps[k]}] for k in refs})
        return r, h
    return (
        {k: [" ".join(tokenize(c)) for c in v] for k, v in refs.items()},
        {k: [" ".join(tokenize(hyps[k]))] for k in refs},
    )


def score_captions(
    references: Mapping[int, Sequence[str]], hypotheses: Mapping[int, str], *, metrics: Sequence[str] = METRICS,
    use_java: bool | None = None,
) -> dict[str, float]:
    """Corpus-level scores of one hypothesis per image against all its references."""
    if set(references) != set(hypotheses):
        raise ValueError("references and hypotheses must cover the same image ids")
    if not references:
        raise ValueError("no captions to score")
    use_java = java_available() if use_java is None else use_java
    refs, hyps = _tokenized(references, hypotheses, use_java)
    out: dict[str, float] = {}
    with _quiet():  # the scorers print progress
        if any(m.startswith("BLEU") for m in metrics):
            from pycocoevalcap.bleu.bleu import Bleu

            bleu, _ = Bleu(4).compute_score(refs, hyps)
            out.update({f"BLEU-{n + 1}": float(b) for n, b in enumerate(bleu) if f"BLEU-{n + 1}" in metrics})
        if "METEOR" in metrics and use_java:
            from pycocoevalcap.meteor.meteor import Meteor

            scorer = Meteor()
            try:
                out["METEOR"] = float(scorer.compute_score(refs, hyps)[0])
            finally:
                with contextlib.suppress(Exception):
                    scorer.close()
        if "ROUGE-L" in metrics:
            from pycocoevalcap.rouge.rouge import Rouge

            out["ROUGE-L"] = float(Rouge().compute_score(refs, hyps)[0])
        if "CIDEr" in metrics:
            from pycocoevalcap.cider.cider import Cider

            out["CIDEr"] = float(Cider().compute_score(refs, hyps)[0])
    return out


STOPWORDS = frozenset(
    "a an the is are was were be been being of in on at to for with by from and or but his her its their "
    "some two three four five one other another another's this that these those into onto near while up "
    "down out over under through there it he she they them who which as has have had does do".split()
)


def content_words(text: str) -> set[str]:
    """The words of a caption that carry its content (not in STOPWORDS)."""
    return {w for w in tokenize(text) if w not in STOPWORDS}


def content_precision(caption: str, references: Sequence[str]) -> float:
    """Share of the caption's content words found in any reference (0 for a caption with none)."""
    words = content_words(caption)
    if not words:
        return 0.0
    ref = set().union(*(content_words(r) for r in references))
    return len(words & ref) / len(words)
