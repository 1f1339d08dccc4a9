"""The one place that decides what seesay says about a photo: caption, recognition and people evidence,
composed so that only what has support is spoken (issue 16).

    describer = Describer(captioner, Recognizer.for_captioner(captioner), PeopleDetector())
    [d] = describer.describe(["photo.jpg"])
    d.sentence   # "A cat." / "A man is riding a bike." / "I can't tell what this is."

Rules, applied to each photo:
1. A *confident* object is an ImageNet group at or above its calibrated `say` probability, or a person at
   or above the people model's `say` probability.
2. The beam's n-best captions are tried best first. A caption is kept when every object it names has
   support (its recognition group at or above `support`; for people, the people model at or above its
   `support`; or, for an object no recognizer covers, the caption's own word probability at or above its
   calibrated threshold) and, when something is confident, it names at least one confident object. So a
   caption that contradicts a confident recognition loses to it, and re-ranking by agreement is the same
   rule applied down the n-best list. Confident objects the kept caption missed are added.
3. With no caption kept, the confident objects are said on their own ("A cup of coffee.").
4. With nothing confident either: "I can't tell what this is."
Every threshold comes from model/data/calibration.json (training/calibrate_recognition.py), none from code.

A text reader (any object with `read(image) -> list of lines with .text and .confidence`) adds
"It says: ..." when it finds text; a code reader (model/describing/codes.py) adds the QR codes and barcodes decoded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from ..captioner.caption import Caption
from ..captioner.engine import Encoded, Engine
from ..captioner.vocabulary import tokenize
from ..images import ImageLike, to_rgb_image, tone
from .calibration import Calibration
from .codes import CodeReader, CodesSeen
from .concepts import PERSON, Concepts, mention_probability, person_word_probability, plain_word
from .description import Description
from .lexicon import Mention
from .light import light_level
from .objects import MAX_COUNT, Found, ObjectFinder, covered_groups, join, load_categories, phrase
from .people import MAX_FACES, PeopleDetector, PeopleEvidence, people_features, person_probability
from .phrasing import Span, render, supported_prefix
from .reading import Part, TextLine, TextReader, code_parts, text_part
from .recognition import Recognition, Recognizer

NOTHING = "I can't tell what this is."
DARK, BLANK = "It is too dark to see anything.", "There is nothing to see: the picture is one even shade."


def _sentence(text: str) -> str:
    text = text.strip()
    return f"{text[0].upper()}{text[1:]}." if text else ""


def _said(d: Description) -> tuple:
    """What a description says, part by part, and the caption it keeps: all that a listener or the index sees."""
    return d.sentence, d.parts, d.kept_caption, d.text_lines


_NO_CAPTION = Caption([], 0.0, 0.0, np.zeros((0, 1, 1)))


def _with_codes(d: Description, seen: CodesSeen) -> Description:
    """A description with the codes read beside its text, which, like text, replace "I can't tell"."""
    said = code_parts(seen)
    if not said:
        return d
    parts = tuple(p for p in d.parts if p.source != "none") + tuple(said)
    return replace(d, parts=parts, sentence=" ".join(p.text for p in parts), codes=seen.codes)


class Describer:
    """Turns photos into spoken descriptions; the one describer every command and screen uses."""

    def __init__(
        self, captioner: Engine, recognizer: Recognizer | None = None, people: PeopleDetector | None = None,
        *, reader: TextReader | None = None, calibration: Calibration | None = None, max_objects: int | None = None,
        all_evidence: bool = False, codes: CodeReader | None = None, detector: Any = None,
        detect_beside: bool = False,
    ) -> None:
        """captioner: either engine (model.captioner.engine.Engine: PyTorch or ONNX Runtime).
        recognizer None: no ImageNet evidence (e.g. a ResNet checkpoint); people None: no detectors.
        calibration: thresholds (default: the recognizer's, else model/data/calibration.json).
        all_evidence: count faces in every photo, even where the count cannot change what is said (the face
        detector is the slowest part of describing on a CPU); needed for an exact `person` in every Description.
        detector: an object detector (detection.ObjectDetector) whose boxes, fused with the other evidence
        by the calibration's object models, decide which COCO categories are said, how many and where; None:
        recognition and the people model alone (the calibration is then read as before).
        detect_beside: run the detector on a thread of its own while the captioner encodes and searches: only
        where each has its share of the cores, as assistant/runtime.py builds them (README, Beside the captioner)."""
        self.captioner = captioner
        self.recognizer = recognizer
        self.people = people
        self.reader = reader
        self.codes = codes  # None: codes are not looked for
        self.all_evidence = all_evidence
        self.calibration = calibration or (recognizer.calibration if recognizer else Calibration.load())
        self.concepts = Concepts.load()
        cal = self.calibration
        self.no_repeat_ngram = cal.decoding[1]
        self.word_support = cal.caption.word_support  # > 1: caption words never suffice
        self.detail_support = cal.caption.detail_support  # > 1: no detail is ever said
        self.people_model = dict(cal.people.model)
        self.detectors = cal.people.detectors  # the only people detectors run
        self.people_say = cal.people.say
        self.people_support = cal.people.support
        self.blank_spread = cal.image.blank_spread
        self.detector = detector if cal.objects is not None else None
        self.finder = ObjectFinder(cal.objects) if self.detector is not None else None
        # Two kept threads: two callers at once (a camera frame, a photo asked about) never wait on each other.
        self._beside = ThreadPoolExecutor(2, "seesay-detect") if detect_beside and self.detector is not None else None
        self.max_objects = max_objects or (3 if self.finder is not None else 2)  # things said on their own, at most
        # A new way of composing sentences is a new model version for the photo index (assistant/indexer.py).
        identity = json.dumps(cal.source.get("objects", {}), sort_keys=True) + str(getattr(detector, "path", ""))
        self.version = "" if self.finder is None else "objects " + hashlib.sha256(identity.encode()).hexdigest()[:16]
        if recognizer is not None:
            self.say_thr = np.array([cal.recognition.say_threshold(g.name) for g in recognizer.groups])  # (G,)
            self.support_thr = np.array([cal.recognition.support_threshold(g.name) for g in recognizer.groups])  # (G,)
            self.clothing = np.array([g.kind == "clothing" for g in recognizer.groups])  # (G,)
            self.speakable = np.array([g.kind not in ("clothing", "person") for g in recognizer.groups])  # (G,)
            self.covered = np.array([g.name in covered_groups() for g in recognizer.groups])  # (G,) said via a category

    @classmethod
    def for_captioner(cls, captioner: Engine, *, people: bool = True, reader: TextReader | None = None,
                      all_evidence: bool = False, codes: CodeReader | None = None, detector: Any = None,
                      detect_beside: bool = False) -> Describer:
        """The describer with every evidence source this captioner's encoder and this install allow."""
        return cls(captioner, Recognizer.for_captioner(captioner), PeopleDetector() if people else None,
                   reader=reader, all_evidence=all_evidence, codes=codes, detector=detector,
                   detect_beside=detect_beside)

    def detections(self, pictures: Sequence[Image.Image]) -> list | None:
        """What the object detector finds in these photos (RGB), run ahead for describe(detections=); None: none."""
        return self.detector.detect(pictures) if self.detector is not None else None

    def describe(self, images: Sequence[ImageLike], beam_size: int = 3, *,
                 detections: Sequence | Future | None = None) -> list[Description]:
        """Describe photos (paths, PIL images or RGB arrays), one Description each, in order.

        Each photo is decoded once; the encoder runs once per batch and its features feed both the
        captioner and the recognizer. Raises ImageError for an unreadable photo. Each Description's
        `seconds` is its share of the whole: decoding, encoding, searching and every other evidence.
        detections: what detections() found in these very photos, or its work on them under way, if it was run.
        """
        if not images:
            return []
        start = time.perf_counter()
        pictures = [to_rgb_image(img) for img in images]
        if detections is None and self._beside is not None:
            with contextlib.suppress(RuntimeError):  # shutting down (a camera thread's last frame): detect inline
                detections = self._beside.submit(self.detections, pictures)
        try:
            return self.describe_features(pictures, self.captioner.encode(pictures), beam_size, started=start,
                                          detections=detections)
        except BaseException:
            if isinstance(detections, Future):  # not left queued before another caller's
                detections.cancel()
            raise

    def describe_features(
        self, pictures: Sequence[Image.Image], features: Encoded, beam_size: int = 3, *,
        started: float | None = None, detections: Sequence | Future | None = None,
    ) -> list[Description]:
        """Describe photos already decoded (RGB) and encoded (captioner.encode); started: when the work
        for them began (default: now), which each Description's `seconds` counts from; detections: what the
        detector found in these photos, or its work on them under way (None: it runs here)."""
        start = time.perf_counter() if started is None else started
        candidates = self.captioner.n_best(features, beam_size, no_repeat_ngram=self.no_repeat_ngram)
        if self.recognizer is not None:
            class_probs = self.recognizer.class_probabilities(features.logits)  # (B, K)
            group_probs = class_probs @ self.recognizer.member  # (B, G)
            recognized = [self.recognizer.recognitions(c, g, top=5) for c, g in zip(class_probs, group_probs)]
            probes = self.recognizer.person_logits(features.pooled)  # (B,) or None
        else:
            group_probs, recognized, probes = None, [[] for _ in pictures], None
        lines = [self.reader.read(p) for p in pictures] if self.reader is not None else [()] * len(pictures)
        sightings = [self.codes.read(p) for p in pictures] if self.codes is not None else [CodesSeen()] * len(pictures)
        detections = detections.result() if isinstance(detections, Future) else detections
        boxes = (self.detections(pictures) if detections is None else detections) or [None] * len(pictures)
        out = [
            self._describe_one(pictures[i], cands, None if group_probs is None else group_probs[i], recognized[i],
                               lines[i], 0.0 if probes is None else float(probes[i]), boxes[i])
            for i, cands in enumerate(candidates)
        ]
        share = (time.perf_counter() - start) / len(out)
        return [replace(_with_codes(d, f), seconds=share) for d, f in zip(out, sightings)]

    def _describe_one(self, picture: Image.Image, candidates: Sequence[Caption], group_probs: np.ndarray | None,
                      recognized: Sequence[Recognition], lines: Sequence[TextLine], probe: float,
                      detections: Sequence[Any] | None = None) -> Description:
        """compose() with the people evidence of one photo: the detectors the people model weighs (none, when
        calibration found they add nothing to the probe), and faces only where they could matter.

        The face count reaches the sentence only through min(faces, MAX_FACES) (the people model) and faces +
        bodies >= 2 ("people"), so composing with 0 to MAX_FACES faces covers every count: when all say the same,
        the face detector is not run and `person`, which the count would change, is left unknown (None).
        """
        if tone(picture)[1] < self.blank_spread:  # a covered lens, a dark room, a blank wall: no evidence to weigh
            texts, said = text_part(lines)  # text on it is still read, and is then the whole description
            dark = light_level(picture).word in ("dark", "dim")  # by lightness: a red wall is not "too dark"
            parts = (said,) if said else (Part(DARK if dark else BLANK, "image"),)
            return Description(caption=candidates[0] if candidates else _NO_CAPTION, objects=tuple(recognized),
                               person=None, sentence=" ".join(p.text for p in parts), parts=parts,
                               kept_caption=None, text_lines=texts)
        if self.finder is not None:  # the detector's people, fused with the probe: no other people detector runs
            found = self.find(detections or (), candidates, group_probs, probe)
            return self.compose(candidates, group_probs, None, recognized, lines, found=found)
        if self.people is None:
            return self.compose(candidates, group_probs, None, recognized, lines)
        if "hog" in self.detectors:
            bodies = replace(self.people.detect(picture, faces=False), probe=probe)  # faces=0
        else:  # the calibrated people model does not weigh the pedestrian detector: not run
            bodies = PeopleEvidence(hog=0.0, bodies=0, faces=0, probe=probe)
        if "faces" not in self.detectors:
            return self.compose(candidates, group_probs, bodies, recognized, lines)
        if not self.all_evidence:
            said = [self.compose(candidates, group_probs, replace(bodies, faces=n), recognized, lines)
                    for n in range(MAX_FACES + 1)]
            if len({_said(d) for d in said}) == 1:
                return replace(said[0], person=None)
        evidence = replace(bodies, faces=self.people.count_faces(picture))
        return self.compose(candidates, group_probs, evidence, recognized, lines)

    def category_evidence(self, candidates: Sequence[Caption],
                          group_probs: np.ndarray | None) -> tuple[dict[str, float], dict[str, float]]:
        """The recognition and caption evidence model/describing/objects.py weighs: ImageNet group -> probability, and
        COCO category -> the best caption's probability for a word naming it."""
        groups = {} if group_probs is None else {g.name: float(p) for g, p in zip(self.recognizer.groups, group_probs)}
        words: dict[str, float] = {}
        if candidates:
            for m in self.concepts.lexicon.mentions(candidates[0].text):
                for name in self.concepts.categories.get(m.concept, ()):
                    words[name] = max(words.get(name, 0.0), mention_probability(candidates[0], m))
        return groups, words

    def find(self, detections: Sequence[Any], candidates: Sequence[Caption], group_probs: np.ndarray | None,
             probe: float) -> tuple[Found, ...]:
        """The COCO categories with evidence in one photo (model/describing/objects.py), most salient first."""
        groups, words = self.category_evidence(candidates, group_probs)
        return tuple(self.finder.find(detections, groups, words, probe))

    def person_probability(self, candidates: Sequence[Caption], group_probs: np.ndarray | None,
                           evidence: PeopleEvidence | None) -> float | None:
        """Calibrated probability of a person from the detectors, the caption and clothing recognised."""
        if not self.people_model:
            return None
        clothing = float(group_probs[self.clothing].sum()) if group_probs is not None else 0.0
        feats = people_features(evidence, person_word_probability(candidates, self.concepts), clothing)
        return person_probability(feats, self.people_model)

    def supported(self, concept: str, caption: Caption, mention: Mention, group_probs: np.ndarray | None,
                  person: float | None, found: Sequence[Found] | None = None) -> bool:
        """Whether the evidence backs this caption's mention of a concept."""
        if mention_probability(caption, mention) >= self.word_support:
            return True
        if found is not None and concept in self.concepts.categories:  # a COCO category: the fused evidence
            names = self.concepts.categories[concept]
            return any(f.supports for f in found if f.category in names)
        if concept == PERSON:
            return person is not None and person >= self.people_support
        j = self.concepts.group.get(concept)
        return j is not None and group_probs is not None and bool(group_probs[j] >= self.support_thr[j])

    def compose(
        self, candidates: Sequence[Caption], group_probs: np.ndarray | None, evidence: PeopleEvidence | None,
        recognized: Sequence[Recognition] = (), lines: Sequence[TextLine] = (), *,
        found: Sequence[Found] | None = None,
    ) -> Description:
        """The description of one photo from its n-best captions (best first), group probabilities (G,),
        people evidence, recognitions, text lines and, with a detector, the COCO categories found (then the
        people evidence is the fused person category's, and recognition groups a category covers are said
        only through it)."""
        if found is None:
            person = self.person_probability(candidates, group_probs, evidence)
        else:
            person = next((f.probability for f in found if f.category == PERSON), 0.0)
        confident: list[tuple[float, str]] = []  # (probability, concept), most salient first
        if group_probs is not None:
            ok = (group_probs >= self.say_thr) & self.speakable  # (G,)
            if found is not None:
                ok &= ~self.covered
            confident += [(float(group_probs[j]), self.recognizer.groups[j].name) for j in np.flatnonzero(ok)]
        if found is None:
            if person is not None and person >= self.people_say:
                confident.append((person, PERSON))
            confident.sort(reverse=True)
        else:  # what the detector evidence says, in order of salience, before recognition alone
            confident = [(f.probability, f.category) for f in found if f.said] + sorted(confident, reverse=True)
        confident = confident[: self.max_objects]
        wanted = {c for _, c in confident}

        parts: list[Part] = []
        kept, said = self._keep_caption(candidates, group_probs, person, wanted, found)
        if kept is not None:
            parts.append(Part(_sentence(said), "caption"))
            named = self._named(said)
            missed = [c for _, c in confident if c not in named]
            if missed:
                parts.append(Part(f"I also see {join([self._say(c, evidence, found, recognized) for c in missed])}.",
                                  self._source(missed, found)))
        if kept is None and confident:
            for i, (_, c) in enumerate(confident):
                text = self._say(c, evidence, found, recognized)
                if i == 0:
                    text = text[0].upper() + text[1:]
                text += "." if i == len(confident) - 1 else (" and" if i == len(confident) - 2 else ",")
                parts.append(Part(text, self._source([c], found)))
        texts, said_text = text_part(lines)
        if not parts and not texts:  # with text to read, what it says is the description
            parts.append(Part(NOTHING, "none"))
        if said_text:
            parts.append(said_text)
        best = candidates[0] if candidates else _NO_CAPTION
        return Description(
            caption=best, objects=tuple(recognized), person=person, sentence=" ".join(p.text for p in parts),
            parts=tuple(parts), kept_caption=kept.text if kept is not None else None, text_lines=texts,
            found=tuple(replace(f, said_as=self._say(f.category, None, found, recognized)) if f.said else f
                        for f in found or ()),
        )

    def _named(self, said: str) -> set[str]:
        """The concepts a sentence names, with the COCO categories that cover them."""
        named = self.concepts.lexicon.find(said)
        return named | {c for n in named for c in self.concepts.categories.get(n, ())}

    @staticmethod
    def _source(concepts: Sequence[str], found: Sequence[Found] | None) -> str:
        if list(concepts) == [PERSON]:
            return "people"
        return "objects" if found is not None and any(f.category in concepts for f in found) else "recognition"

    def trimmed(self, caption: Caption, group_probs: np.ndarray | None, person: float | None,
                found: Sequence[Found] | None = None) -> str:
        """The part of a caption its evidence supports (model/describing/phrasing.py): its objects checked, its other
        words kept only where the captioner was sure of them. Empty when not even its subject is."""
        tokens = caption.words
        spans = [Span(m.start, m.end, self.supported(m.concept, caption, m, group_probs, person, found),
                      plain_word(m, tokens))
                 for m in self.concepts.lexicon.mentions(caption.text)]
        return render(supported_prefix(tokens, caption.word_probs, spans, self.detail_support))

    def _keep_caption(self, candidates: Sequence[Caption], group_probs: np.ndarray | None, person: float | None,
                      wanted: set[str], found: Sequence[Found] | None = None) -> tuple[Caption | None, str]:
        """The n-best caption to say and what of it is said: the first one said whole, else the first with a
        supported part. A kept part names an object, and a confident one when anything is confident; with a
        detector, it says as many of each thing as were counted."""
        fallback: tuple[Caption | None, str] = (None, "")
        for cand in candidates:
            said = self.trimmed(cand, group_probs, person, found)
            named = self._named(said)
            if not named or (wanted and not named & wanted):
                continue
            if found is not None and not self._counts_agree(said, found):
                continue
            if said == render(list(enumerate(cand.words))):  # nothing left out
                return cand, said
            if fallback[0] is None:
                fallback = (cand, said)
        return fallback

    def said_counts(self, said: str) -> dict[str, tuple[int, bool]]:
        """How many of each COCO category a sentence says (Concepts.counts)."""
        return self.concepts.counts(said)

    def _counts_agree(self, said: str, found: Sequence[Found]) -> bool:
        """Whether a sentence says as many of each counted category as were counted: "a man" of one person,
        "two dogs" of two, "a crowd" of more than MAX_COUNT people; a plural without a number never, so that
        every count a listener hears is the count."""
        claims = self.said_counts(said)
        for f in found:
            if f.count and f.category in claims:
                n, exact = claims[f.category]
                crowd = f.count > MAX_COUNT and "crowd" in tokenize(said)
                if not crowd and (not exact or n != f.count):
                    return False
        return True

    def _say(self, concept: str, evidence: PeopleEvidence | None, found: Sequence[Found] | None = None,
             recognized: Sequence[Recognition] = ()) -> str:
        for f in found or ():
            if f.category == concept:  # counted and placed; one thing keeps ImageNet's finer name when sure
                category = load_categories()[concept]
                name = category.one.split(maxsplit=1)[-1]  # a finer name says it: "a cup of coffee" of a cup
                finer = next((r.say for r in recognized if r.confident and r.name in category.groups
                              and f" {name} " in f" {r.say} "), None)
                if f.count <= 1 and finer and finer != category.one:
                    return f"{finer} {f.where}" if f.where else finer
                return phrase(f)
        if concept == PERSON and evidence is not None and evidence.faces + evidence.bodies >= 2:
            return "people"
        return self.concepts.say.get(concept, concept)
