"""What the describer can name: concepts, the phrases that name them, and how a caption's words are read
(which concepts it names, how sure the captioner was of them, how many it says)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..captioner.caption import Caption
from ..captioner.vocabulary import tokenize
from .lexicon import Lexicon, Mention, words_of
from .objects import NUMBERS, load_categories
from .recognition import DATA, load_groups

OBJECT_WORDS_FILE = DATA / "object_words.json"
PERSON = "person"
# People words said as they are: the plain ones, and collectives, which "a crowd of people" needs whole.
PLAIN_PEOPLE = frozenset({"person", "people", "someone", "crowd", "team", "couple", "family", "audience"})


@dataclass(frozen=True)
class Concepts:
    """What the describer can name: every concept, the phrases that name it, and its evidence source."""

    lexicon: Lexicon
    say: dict[str, str]  # concept -> spoken phrase
    group: dict[str, int] = field(default_factory=dict)  # concept -> recognizer group index
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)  # concept -> COCO categories naming it

    def counts(self, said: str) -> dict[str, tuple[int, bool]]:
        """How many of each COCO category a sentence says: category -> (the number, or the least a plural or a
        collective means, which is 2; whether the number is exact)."""
        tokens = tokenize(said)
        claims: dict[str, tuple[int, bool]] = {}
        for m in self.lexicon.mentions(said):
            for name in self.categories.get(m.concept, ()):
                before = tokens[m.start - 1] if m.start else ""
                if before in NUMBERS[2:]:
                    n, exact = NUMBERS.index(before), True
                elif tokens[m.end - 1] != m.phrase.split()[-1] or m.phrase in PLAIN_PEOPLE - {"person", "someone"}:
                    n, exact = 2, False  # a plural or a collective: two or more
                else:
                    n, exact = 1, True
                total, was_exact = claims.get(name, (0, True))
                claims[name] = (total + n, was_exact and exact)
        return claims

    @classmethod
    def load(cls) -> Concepts:
        """Recognition groups first (so "dog" is the dog group), then people, then caption-only objects, then the
    COCO categories' own words (model/data/coco_words.json) where no concept has them yet."""
        return _concepts()


@lru_cache(maxsize=1)
def _concepts() -> Concepts:
    _, groups = load_groups()
    extra = json.loads(Path(OBJECT_WORDS_FILE).read_text())
    phrases: dict[str, list[str]] = {g.name: list(g.words) for g in groups}
    phrases[PERSON] = phrases.get(PERSON, []) + list(extra["person"])
    for name, words in extra["caption_only"].items():
        phrases.setdefault(name, []).extend(words)
    coco = load_categories()
    for name, category in coco.items():
        phrases.setdefault(name, []).extend(category.words)
    say = {g.name: g.say for g in groups}
    say[PERSON] = "a person"
    lexicon = Lexicon(phrases)
    categories: dict[str, list[str]] = {}
    for name, category in coco.items():  # a concept is covered by a category of its name, or of whose groups it is
        for concept in {name, *category.groups}:
            categories.setdefault(concept, []).append(name)
    claimed = {tuple(words_of(w)): name for name, category in coco.items() for w in category.words}
    for key, concept in lexicon.table.items():  # else by a category one of whose words it claimed first
        if concept not in categories and key in claimed:
            categories[concept] = [claimed[key]]
    return Concepts(lexicon, say, {g.name: i for i, g in enumerate(groups)},
                    {c: tuple(sorted(n)) for c, n in categories.items()})


def person_word_probability(candidates: Sequence[Caption], concepts: Concepts) -> float:
    """The best caption's belief in a person: the highest probability of a people word in it (0 if none)."""
    if not candidates:
        return 0.0
    return max((mention_probability(candidates[0], m) for m in concepts.lexicon.mentions(candidates[0].text)
                if m.concept == PERSON), default=0.0)


def mention_probability(caption: Caption, mention: Mention) -> float:
    """Probability the captioner gave the words of a mention (their minimum; 0 without word probabilities)."""
    probs = caption.word_probs[mention.start : mention.end]
    return float(min(probs)) if len(probs) == mention.end - mention.start and probs else 0.0


def plain_word(mention: Mention, tokens: Sequence[str]) -> str | None:
    """The plain word for a people word whose role, age or gender is a claim of its own ("skateboarder",
    "woman", "boys" -> "person", "people"); None for other objects and for the plain words themselves."""
    if mention.concept != PERSON or mention.phrase in PLAIN_PEOPLE:
        return None
    plural = tokens[mention.end - 1] != mention.phrase.split()[-1]  # "men" was folded to "man"
    return "people" if plural else "person"
