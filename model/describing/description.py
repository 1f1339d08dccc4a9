"""What seesay says about one photo, and the evidence behind it: the describer's answer (describer.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..captioner.caption import Caption
from .codes import Code
from .objects import Found, covered_groups, phrase
from .reading import Part
from .recognition import Recognition


@dataclass(frozen=True)
class Description:
    """What seesay says about one photo, and the evidence behind it."""

    caption: Caption  # the captioner's best caption, as the model wrote it
    objects: tuple[Recognition, ...]  # the top recognitions, most probable first (empty without a recognizer)
    person: float | None  # calibrated probability of a person (None without people evidence, or when the
    # face count could not change what is said and was not looked for: Describer's all_evidence)
    sentence: str  # what is spoken
    parts: tuple[Part, ...]  # the sentence piece by piece, with sources
    kept_caption: str | None = None  # the n-best caption the sentence uses, if any
    text_lines: tuple[str, ...] = ()  # text read in the photo
    codes: tuple[Code, ...] = ()  # QR codes and barcodes decoded in it
    seconds: float = 0.0  # this photo's share of the describe time
    found: tuple[Found, ...] = ()  # COCO categories with evidence, most salient first (with a detector)

    def index_terms(self) -> list[str]:
        """What the photo index stores for finding it again: each thing said as it was said ("two dogs on the
        left") and by its name, then the confident recognitions."""
        said = [f for f in self.found if f.said]
        recognized = [r.name for r in self.objects if r.confident and not (self.found and r.name in covered_groups())]
        return list(dict.fromkeys([f.said_as or phrase(f) for f in said] + [f.category for f in said] + recognized))

    @property
    def from_caption(self) -> str:
        """The part of the sentence taken from a caption ("" when none is)."""
        return " ".join(p.text for p in self.parts if p.source == "caption")

    def to_json(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {
            "sentence": self.sentence,
            "parts": [{"text": p.text, "source": p.source} for p in self.parts],
            "caption": self.caption.text,
            "caption_confidence": round(self.caption.confidence, 4),
            "kept_caption": self.kept_caption,
            "objects": [{**f.to_json(), "say": f.said_as or phrase(f)} for f in self.found],
            "recognized": [
                {"name": r.name, "say": r.say, "probability": round(r.probability, 4), "confident": r.confident,
                 "top_class": r.top_class}
                for r in self.objects
            ],
            "person_probability": None if self.person is None else round(self.person, 4),
            "text": list(self.text_lines),
            "codes": [c.to_json() for c in self.codes],
            "seconds": round(self.seconds, 4),
        }
