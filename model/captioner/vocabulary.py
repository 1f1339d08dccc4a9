"""Word vocabulary: tokenisation, special tokens, encode/decode. Saved inside every checkpoint."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    """Lower-case words and numbers; punctuation dropped (the captions' '.' carries no meaning)."""
    return _WORD.findall(text.lower())


class Vocabulary:
    """A fixed mapping between words and ids; ids 0..3 are PAD, BOS, EOS, UNK."""

    def __init__(self, words: Sequence[str]) -> None:
        words = list(words)
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {tuple(words[:4])!r}")
        if len(set(words)) != len(words):
            raise ValueError("a vocabulary must not repeat words")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}

    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 5) -> Vocabulary:
        """Keep words seen at least min_count times, most frequent first (ties alphabetical)."""
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count!r}")
        counts = Counter(w for c in captions for w in tokenize(c))
        kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls([*SPECIALS, *kept])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """BOS, word ids (UNK for unknown words, truncated to max_length words), EOS."""
        ids = [self.index.get(w, self.unk_id) for w in tokenize(text)]
        if max_length is not None:
            ids = ids[:max_length]
        return [self.bos_id, *ids, self.eos_id]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words up to the first EOS, without BOS or PAD."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i in (self.bos_id, self.pad_id):
                continue
            out.append(self.words[i])
        return out
