"""Trimming a caption to the part its evidence supports (issue 16).

A caption checks only its objects against the recognizer and the people model; the rest of it — what the
people are doing, where, in what colours, how many — rests on the captioner's word probabilities alone,
and on photos unlike its training data most of those words are wrong. So the describer keeps a caption's
details only where the captioner was sure of them:

    "a man in a blue shirt is standing on a mountain"
    chunks: [a man] [in a blue shirt] [is standing] [on a mountain]
    "blue" unsure, "shirt" sure, "standing" unsure  ->  "a man in a shirt"

Chunks are kept as a prefix, so what is said stays a grammatical phrase of the caption.

Rules, over the caption's tokens (model/captioner/vocabulary.py `tokenize`, aligned with Caption.word_probs):
- Object words (the lexicon's mentions) are checked by the describer: supported or not is given.
- Function words (FUNCTION_WORDS) carry no claim of their own.
- Every other word is a detail, kept only when its probability is at least `threshold` (calibrated in
  training/calibrate_recognition.py from how often such words appear in dev photos' references).
- A failing detail right before another content word is a modifier ("blue" in "blue shirt", "two" in
  "two dogs") and is dropped alone; modifiers joined by "and" ("black and white") are said all or not at
  all; "a group of" before a supported mention is dropped likewise.
- Any other failure, or an unsupported object, ends the sentence before its chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

AUXILIARIES = frozenset({"is", "are", "was", "were", "be", "being", "has", "have"})
# Words that open a new chunk (a prepositional phrase, a verb group or a coordinated phrase).
CHUNK_OPENERS = frozenset({
    "in", "on", "at", "with", "through", "near", "into", "onto", "over", "under", "by", "behind", "across",
    "along", "around", "toward", "towards", "against", "beside", "between", "from", "down", "up", "past",
    "inside", "outside", "underneath", "above", "below", "beneath", "off", "while", "and", "who", "that",
    "as", "for", "out", "next", "during", "after", "before", "among", "beyond", "like", "without", "to",
}) | AUXILIARIES
FUNCTION_WORDS = CHUNK_OPENERS | frozenset({
    "a", "an", "the", "of", "his", "her", "their", "its", "it", "him", "them", "they", "he", "she", "this",
    "these", "those", "there", "some", "each", "other", "another", "front", "top", "back", "one", "very",
    "something", "what", "which", "where", "or", "but", "so", "than", "then", "just",
})
QUANTIFIERS = frozenset({"group", "couple", "pair", "crowd", "team", "herd", "flock", "bunch", "lot", "few"})
DETERMINERS = frozenset({"a", "an", "the"})
POSSESSIVES = frozenset({"his", "her", "their", "its"})
NUMBERS = frozenset({"one", "two", "three", "four", "five", "six", "several", "many", "few", "dozen", "couple"})
# Words that turn a statement around or say the thing is not the real thing: never dropped as modifiers
# ("a man with no shirt" must not become "a man with shirt", nor "a toy car" "a car").
NEGATIONS = frozenset({"no", "not", "never", "nothing", "nobody", "without"})
NOT_REAL = frozenset({"toy", "fake", "stuffed", "plastic", "inflatable", "cardboard", "cartoon", "statue",
                      "sculpture", "model", "drawing", "painting", "picture", "photo", "poster", "image", "miniature"})
# Words said last only when they end a thought; a caption cut after "in", "a" or "and" loses them.
DANGLING = DETERMINERS | CHUNK_OPENERS | POSSESSIVES | frozenset({"of", "very", "or", "but", "so", "than"})


@dataclass(frozen=True)
class Span:
    """Tokens [start, end) that name one object, and whether the evidence backs it."""

    start: int
    end: int
    supported: bool
    plain: str | None = None  # said instead when the span's own words are unsure: "person" for "skateboarder"


def is_detail(word: str) -> bool:
    """Whether a word makes a claim of its own (not a function word)."""
    return word not in FUNCTION_WORDS


def chunks(tokens: Sequence[str], spans: Sequence[Span]) -> list[tuple[int, int]]:
    """The caption cut into chunks [start, end): before every chunk opener (outside an object's words), and
    before a bare -ing verb right after an object ("a dog running ...")."""
    inside = {i for s in spans for i in range(s.start + 1, s.end)}
    ends = {s.end for s in spans}
    starts = {s.start for s in spans}
    cuts = [0]
    for i in range(1, len(tokens)):
        if i in inside:
            continue
        word = tokens[i]
        opener = (word in CHUNK_OPENERS and not (word in AUXILIARIES and tokens[i - 1] in AUXILIARIES)
                  or word in NEGATIONS and tokens[i - 1] not in AUXILIARIES)  # "a man | not wearing ..."
        if word == "and":  # "a man and a woman", "a man and woman", "and two dogs"; not "black and white"
            opener = i + 1 < len(tokens) and (tokens[i + 1] in DETERMINERS | NUMBERS or i + 1 in starts)
        verb = word.endswith("ing") and len(word) > 4 and i in ends
        if (opener or verb) and tokens[i - 1] not in CHUNK_OPENERS - AUXILIARIES:
            cuts.append(i)
    cuts.append(len(tokens))
    return [(a, b) for a, b in pairwise(cuts) if b > a]


def supported_prefix(tokens: Sequence[str], probs: Sequence[float], spans: Sequence[Span],
                     threshold: float) -> list[tuple[int, str]]:
    """The words to say, each with the position it stands at: the longest run of whole chunks whose details
    are sure and whose objects are supported, with unsure modifiers dropped and an object's unsure words
    replaced by its plain word. Empty when even the first chunk fails."""
    if len(probs) != len(tokens):  # no word probabilities: no detail can be trusted
        probs = [0.0] * len(tokens)
    sure = [p >= threshold for p in probs]
    span_at = {s.start: s for s in spans}
    in_span = {i for s in spans for i in range(s.start, s.end)}
    kept: list[tuple[int, str]] = []
    for start, end in chunks(tokens, spans):
        chunk = _chunk(tokens, sure, start, end, span_at, in_span)
        if chunk is None or not any(is_detail(tokens[j]) or j in in_span for j, _ in chunk):
            break
        if tokens[start] == "and" and _nouns(chunk) <= _nouns(kept):  # "a hat and a hat" once blue/black went
            if _nouns(chunk) == {"person"}:  # "a person and a person": people
                kept = _people(kept)
            break  # what follows described the repeated thing, which is no longer there to attach to
        kept += chunk
    return kept


def _chunk(tokens: Sequence[str], sure: Sequence[bool], start: int, end: int, span_at: dict[int, Span],
           in_span: set[int]) -> list[tuple[int, str]] | None:
    """The words of one chunk to say, or None when the chunk cannot be said."""
    chunk: list[tuple[int, str]] = []
    i = start
    while i < end:
        span = span_at.get(i)
        if span is not None:
            if not span.supported:
                return None
            if span.plain is not None and not all(sure[span.start : span.end]):
                if chunk and chunk[-1][1] in POSSESSIVES:  # "his son" is not "his person"
                    return None
                while chunk and is_detail(chunk[-1][1]):  # "a little girl" is not "a little person"
                    chunk.pop()
                chunk.append((span.start, span.plain))
            else:
                chunk += [(j, tokens[j]) for j in range(span.start, span.end)]
            i = span.end
            continue
        word = tokens[i]
        run = _coordinated(tokens, i, end, in_span)
        if len(run) > 1:  # "black and white": said whole, dropped whole as a modifier, or the chunk fails
            if all(sure[j] for j in run):
                chunk += [(j, tokens[j]) for j in range(run[0], run[-1] + 1)]
            elif not _droppable(tokens, run, end, in_span):
                return None
            i = run[-1] + 1
            continue
        if not is_detail(word) or sure[i]:
            chunk.append((i, word))
        elif _is_quantifier(tokens, i, end, span_at):  # "a group of people" -> "people"
            if chunk and chunk[-1][1] in DETERMINERS:
                chunk.pop()
            i += 2
            continue
        elif _droppable(tokens, [i], end, in_span):
            if word in NUMBERS and chunk and chunk[-1][1] in ("a", "an"):  # "a few people" -> "people"
                chunk.pop()
        else:
            return None
        i += 1
    return chunk


def _droppable(tokens: Sequence[str], run: Sequence[int], end: int, in_span: set[int]) -> bool:
    """Whether unsure details (one word, or words joined by "and") are modifiers the sentence reads the
    same without: before another content word of their chunk, not a verb, not a negation or "toy"."""
    if any(tokens[j] in NEGATIONS | NOT_REAL for j in run):
        return False
    return _is_modifier(tokens, run[-1], end, in_span)


def _nouns(said: Sequence[tuple[int, str]]) -> set[str]:
    """The words that carry meaning in some said words ("people" and "person" as one)."""
    return {"person" if w == "people" else w for _, w in said if is_detail(w)}


def _people(said: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The last "a person" said as "people"."""
    k = max((k for k, (_, w) in enumerate(said) if w in ("person", "people")), default=None)
    if k is None:
        return said
    out = [*said[:k], (said[k][0], "people"), *said[k + 1 :]]
    if k > 0 and out[k - 1][1] in ("a", "an"):
        del out[k - 1]
    return out


def render(said: Sequence[tuple[int, str]]) -> str:
    """The words of supported_prefix as text, with "a"/"an" agreeing with the word after them, an "and"
    only between kept words, and a word never twice in a row."""
    keep = {i for i, _ in said}
    last = max(keep, default=-1)
    # an "and" stays between two kept words: not after a dropped one, not at the end
    words = [w for i, w in said if not (w == "and" and (i - 1 not in keep or i >= last))]
    words = [w for k, w in enumerate(words) if k == 0 or w != words[k - 1]]  # "a car car" -> "a car"
    for k, word in enumerate(words[:-1]):
        if word in ("a", "an"):
            words[k] = "an" if _vowel_sound(words[k + 1]) else "a"
    while words and words[-1] in DANGLING:  # never end on "a", "in" or "his"
        words.pop()
    return " ".join(words)


def _vowel_sound(word: str) -> bool:
    """Whether a word starts with a vowel sound, for "a" / "an" ("an apple", "a uniform", "an hour")."""
    if word.startswith(("uni", "use", "usu", "one", "eu")):
        return False
    return word[0] in "aeiou" or word.startswith(("hour", "honest", "honor", "honour"))


def _is_modifier(tokens: Sequence[str], i: int, end: int, in_span: set[int]) -> bool:
    """A detail right before another content word of its chunk ("blue shirt", "two dogs", "white" in
    "black and white dog"): the sentence reads the same without it. Not a verb ("playing" in
    "are playing basketball"): an -ing word, or the first word after "is"/"are"."""
    if tokens[i].endswith("ing") or (i > 0 and tokens[i - 1] in AUXILIARIES):
        return False
    return i + 1 < end and (i + 1 in in_span or is_detail(tokens[i + 1]))


def _coordinated(tokens: Sequence[str], i: int, end: int, in_span: set[int]) -> list[int]:
    """Positions of the details joined by "and" from position i ("black and white" -> [i, i + 2])."""
    run = [i]
    while (run[-1] + 2 < end and tokens[run[-1] + 1] == "and" and run[-1] + 2 not in in_span
           and is_detail(tokens[run[-1] + 2]) and is_detail(tokens[run[-1]])):
        run.append(run[-1] + 2)
    return run


def _is_quantifier(tokens: Sequence[str], i: int, end: int, span_at: dict[int, Span]) -> bool:
    """"group of" (and the like) right before a supported object."""
    nxt = span_at.get(i + 2)
    return (tokens[i] in QUANTIFIERS and i + 2 < end and tokens[i + 1] == "of" and nxt is not None
            and nxt.supported)
