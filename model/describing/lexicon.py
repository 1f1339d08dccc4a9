"""Finding the objects a sentence names: phrases matched to concepts, plurals folded to singular.

Used by the describer (which objects does a caption name?) and by training/hallucination.py (which objects
do a description and its references name?), each with its own table of concepts and phrases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..captioner.vocabulary import tokenize

_IRREGULAR = {
    "men": "man", "women": "woman", "children": "child", "people": "person", "persons": "person",
    "feet": "foot", "teeth": "tooth", "geese": "goose", "mice": "mouse", "oxen": "ox", "knives": "knife",
    "wolves": "wolf", "leaves": "leaf", "shelves": "shelf", "loaves": "loaf", "calves": "calf",
    "scarves": "scarf", "skis": "ski", "sheep": "sheep", "fish": "fish", "deer": "deer", "bus": "bus",
    "buses": "bus", "glasses": "glasses", "sunglasses": "sunglasses", "jeans": "jeans", "scissors": "scissors",
    "shorts": "shorts", "pants": "pants", "trousers": "trousers", "grass": "grass", "dress": "dress",
    "dresses": "dress", "boxes": "box", "foxes": "fox", "couches": "couch", "benches": "bench",
    "sandwiches": "sandwich", "watches": "watch", "dishes": "dish", "brushes": "brush", "glass": "glass",
    "class": "class", "canvas": "canvas", "tennis": "tennis", "lens": "lens", "walrus": "walrus",
    "octopus": "octopus", "cactus": "cactus", "mattress": "mattress", "series": "series", "species": "species",
    "this": "this", "is": "is", "his": "his", "its": "its", "was": "was", "has": "has", "as": "as",
    "us": "us", "across": "across", "always": "always", "bicycles": "bicycle", "bikes": "bike",
}


def singular(word: str) -> str:
    """A crude singular for English nouns: enough for matching object words, not a lemmatiser."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if word.endswith("oes") and word not in ("shoes", "canoes"):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def words_of(text: str) -> list[str]:
    """Lower-case singular tokens of a text."""
    return [singular(w) for w in tokenize(text)]


@dataclass(frozen=True)
class Mention:
    """One place where a text names a concept: tokens [start, end) of the singular token list."""

    concept: str
    phrase: str
    start: int
    end: int


class Lexicon:
    """Concepts and the phrases that name them; a longer phrase wins over the words inside it."""

    def __init__(self, phrases: Mapping[str, Iterable[str]]) -> None:
        """phrases: concept -> phrases naming it (any number; plurals are folded when matching)."""
        self.table: dict[tuple[str, ...], str] = {}
        for concept, names in phrases.items():
            for name in names:
                key = tuple(words_of(name))
                if key:
                    self.table.setdefault(key, concept)
        self.longest = max((len(k) for k in self.table), default=0)

    @property
    def concepts(self) -> frozenset[str]:
        """Every concept the lexicon knows."""
        return frozenset(self.table.values())

    def mentions(self, text: str) -> list[Mention]:
        """The concepts text names, in order, longest phrase first at each position."""
        tokens = words_of(text)
        out, i = [], 0
        while i < len(tokens):
            for n in range(min(self.longest, len(tokens) - i), 0, -1):
                concept = self.table.get(tuple(tokens[i : i + n]))
                if concept is not None:
                    out.append(Mention(concept, " ".join(tokens[i : i + n]), i, i + n))
                    i += n
                    break
            else:
                i += 1
        return out

    def find(self, text: str) -> set[str]:
        """The set of concepts text names."""
        return {m.concept for m in self.mentions(text)}
