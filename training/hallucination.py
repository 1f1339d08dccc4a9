"""Object hallucination in descriptions, CHAIR-style (Rohrbach et al. 2018, "Object Hallucination in Image
Captioning"): which of MS-COCO's 80 object categories a description names that none of its photo's
reference captions name.

Per description: *hallucinated* when it names at least one category the references do not; *informative*
when it names at least one category the references do. Over a set: the shares of both (CHAIR-s is the
hallucinated share), and CHAIR-i, the share of all named objects that are hallucinated. The references
stand in for COCO's object annotations, so an object every reference left out counts as hallucinated
even if it is in the photo; this is the measure issue 16 asks for, and it is the same for every
describer compared. Categories and synonyms: training/coco_objects.json (its source is stated there).

Details: the words of a caption that are neither objects the describer checks nor function words
(model/describing/phrasing.py): what people are doing, where, colours, counts; and people words that say more than
"person" (gender, age, role: "woman", "skateboarder"). A detail is *founded* when some reference has a
word with the same Porter stem once plurals are folded ("running" ~ "runs", "men" ~ "man"). Synonyms
count as unfounded ("grass" vs "lawn"), so the unfounded share overstates what is false; it is the same
for every describer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from model.captioner.vocabulary import tokenize
from model.describing.concepts import plain_word
from model.describing.lexicon import Lexicon, singular
from model.describing.phrasing import is_detail

OBJECTS_FILE = Path(__file__).with_name("coco_objects.json")
_NOT_AN_OBJECT = ""  # the concept of phrases that only stop their words from matching


@lru_cache(maxsize=1)
def coco_lexicon() -> Lexicon:
    """The 80 COCO categories and their synonyms, with the blocking phrases."""
    data = json.loads(OBJECTS_FILE.read_text())
    return Lexicon({**data["categories"], _NOT_AN_OBJECT: data.get("_not_objects", [])})


def coco_objects(text: str) -> set[str]:
    """The COCO categories a text names (people words are all 'person')."""
    return coco_lexicon().find(text) - {_NOT_AN_OBJECT}


@dataclass(frozen=True)
class ObjectCheck:
    """One description's named objects against its references'."""

    named: frozenset[str]
    referenced: frozenset[str]

    @property
    def hallucinated(self) -> frozenset[str]:
        """Objects named that no reference names."""
        return self.named - self.referenced

    @property
    def correct(self) -> frozenset[str]:
        """Objects named that some reference names."""
        return self.named & self.referenced


def check_objects(texts: Sequence[str], references: Sequence[Sequence[str]],
                  boxes: Sequence[Iterable[str]] | None = None) -> list[ObjectCheck]:
    """Per description, the COCO objects it names and those its references name; boxes: per description, the
    categories with an annotated box, which count as present too (CHAIR reads both)."""
    if len(texts) != len(references) or (boxes is not None and len(boxes) != len(texts)):
        raise ValueError(f"one list of references per description: got {len(texts)} texts, {len(references)} lists")
    boxes = boxes if boxes is not None else [()] * len(texts)
    return [
        ObjectCheck(frozenset(coco_objects(t)), frozenset().union(*(coco_objects(r) for r in refs), b))
        for t, refs, b in zip(texts, references, boxes)
    ]


def hallucination_scores(texts: Sequence[str], references: Sequence[Sequence[str]],
                         boxes: Sequence[Iterable[str]] | None = None) -> dict[str, float]:
    """Shares over descriptions: hallucinated (CHAIR-s), informative, silent (names no object), and CHAIR-i."""
    checks = check_objects(texts, references, boxes)
    if not checks:
        raise ValueError("no descriptions to check")
    n = len(checks)
    named = sum(len(c.named) for c in checks)
    return {
        "hallucinated": sum(bool(c.hallucinated) for c in checks) / n,
        "informative": sum(bool(c.correct) for c in checks) / n,
        "no_object": sum(not c.named for c in checks) / n,
        "chair_i": sum(len(c.hallucinated) for c in checks) / named if named else 0.0,
    }


@lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem.porter import PorterStemmer  # rule-based: needs none of nltk's downloadable data

    return PorterStemmer()


def stems(texts: Sequence[str]) -> frozenset[str]:
    """The Porter stems of every word of some texts."""
    stem = _stemmer().stem
    return frozenset(stem(singular(w)) for t in texts for w in tokenize(t))


def detail_positions(text: str, objects: Lexicon) -> list[int]:
    """Positions (in tokenize(text)) of a caption's details: words outside the objects' phrases that are not
    function words, and people words that say more than "person" ("woman", "skateboarder")."""
    tokens = tokenize(text)
    mentions = objects.mentions(text)
    inside = {i for m in mentions for i in range(m.start, m.end)}
    specific = {m.start for m in mentions if plain_word(m, tokens) is not None}  # what the describer would make plain
    return [i for i, w in enumerate(tokens) if (i not in inside and is_detail(w)) or i in specific]


def founded_details(text: str, references: Sequence[str], objects: Lexicon) -> list[tuple[int, bool]]:
    """Each detail of a caption and whether some reference has a word of its stem."""
    ref = stems(references)
    stem = _stemmer().stem
    words = tokenize(text)
    return [(i, stem(singular(words[i])) in ref) for i in detail_positions(text, objects)]


def detail_scores(texts: Sequence[str], references: Sequence[Sequence[str]], objects: Lexicon) -> dict[str, float]:
    """Details per description and the share of details no reference founds (module docstring)."""
    if len(texts) != len(references):
        raise ValueError(f"one list of references per description: got {len(texts)} texts, {len(references)} lists")
    checked = [founded_details(t, refs, objects) for t, refs in zip(texts, references)]
    total = sum(len(c) for c in checked)
    return {
        "details_per_description": total / len(texts) if texts else 0.0,
        "details_unfounded": sum(not ok for c in checked for _, ok in c) / total if total else 0.0,
    }
