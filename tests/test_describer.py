"""The describer says only what has support: constructed evidence for each rule, and real photos that
scikit-image ships (skimage.data.chelsea(), a cat; skimage.data.coffee(), a cup of coffee)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import pytest
from skimage import data

from model import Caption, load_image
from model.describing.calibration import CALIBRATION_FILE, Calibration
from model.describing.describer import BLANK, DARK, NOTHING, Describer
from model.describing.people import PeopleEvidence
from model.describing.recognition import Recognizer
from training.hallucination import coco_objects

RULES = {
    "recognition": {"say": 0.5, "support": 0.2},
    "people": {"model": {"weights": {"faces": 3.0, "caption_person": 0.0}, "bias": -2.0}, "say": 0.7, "support": 0.5},
    "caption": {"word_support": 0.95, "detail_support": 0.5},
}


def caption(text: str, p: float = 0.6) -> Caption:
    words = text.split()
    return Caption(words, p, len(words) * float(np.log(p)), np.zeros((len(words), 7, 7)), (p,) * len(words))


def calibration(tmp_path, **changes) -> Calibration:
    rules = json.loads(json.dumps(RULES))
    for section, values in changes.items():
        rules[section].update(values)
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(rules))
    return Calibration.load(path)


@pytest.fixture(scope="module")
def recognizer(default_captioner):
    return Recognizer.for_captioner(default_captioner)


@pytest.fixture
def describer(tmp_path, default_captioner, recognizer):
    return Describer(default_captioner, recognizer, calibration=calibration(tmp_path))


def groups(recognizer, **probs) -> np.ndarray:
    g = np.zeros(len(recognizer.groups))  # (G,)
    for name, p in probs.items():
        g[recognizer.index[name.replace("_", " ")]] = p
    return g


NO_ONE = PeopleEvidence(hog=0.0, bodies=0, faces=0)
FACE = PeopleEvidence(hog=0.0, bodies=0, faces=1)


def test_a_confident_recognition_wins_over_a_caption_that_contradicts_it(describer, recognizer):
    d = describer.compose([caption("a man is riding a bike")], groups(recognizer, dog=0.9), NO_ONE)
    assert d.sentence == "A dog."
    assert [p.source for p in d.parts] == ["recognition"] and d.kept_caption is None
    assert coco_objects(d.sentence) == {"dog"}


def test_with_nothing_confident_it_says_it_cannot_tell(describer, recognizer):
    d = describer.compose([caption("a man is riding a bike")], groups(recognizer, dog=0.1, bicycle=0.1), NO_ONE)
    assert d.sentence == NOTHING and [p.source for p in d.parts] == ["none"]
    assert coco_objects(d.sentence) == set()


def test_a_caption_the_recognition_agrees_with_is_kept(describer, recognizer):
    d = describer.compose([caption("a dog is running through the grass")], groups(recognizer, dog=0.9), NO_ONE)
    assert d.sentence == "A dog is running through the grass."
    assert [p.source for p in d.parts] == ["caption"]


def test_the_n_best_list_is_searched_for_a_caption_whose_every_object_has_support(describer, recognizer):
    cands = [caption("a dog is chasing a cat"), caption("a dog is running on the grass")]
    d = describer.compose(cands, groups(recognizer, dog=0.9, cat=0.01), NO_ONE)
    assert d.sentence == "A dog is running on the grass." and d.kept_caption == cands[1].text
    assert "cat" not in d.sentence


def test_a_confident_object_the_kept_caption_missed_is_added(describer, recognizer):
    d = describer.compose([caption("a dog is lying on a couch")], groups(recognizer, dog=0.3, couch=0.6, cat=0.0),
                          NO_ONE)
    assert d.sentence == "A dog is lying on a couch."  # the dog has support, the couch is confident
    d = describer.compose([caption("a man sits at a table")], groups(recognizer, coffee=0.8, table=0.3), FACE)
    assert d.sentence == "A man sits at a table. I also see a cup of coffee."
    assert [p.source for p in d.parts] == ["caption", "recognition"]


def caption_with(text: str, sure: dict[str, float], p: float = 0.3) -> Caption:
    """A caption whose words have probability p except those given."""
    words = text.split()
    probs = tuple(sure.get(w, p) for w in words)
    return Caption(words, p, float(np.log(probs).sum()), np.zeros((len(words), 7, 7)), probs)


def test_details_the_captioner_was_unsure_of_are_left_out(describer, recognizer):
    g = groups(recognizer, dog=0.9)
    d = describer.compose([caption_with("a dog is running through the grass", {"running": 0.8})], g, NO_ONE)
    assert d.sentence == "A dog is running." and d.kept_caption == "a dog is running through the grass"
    d = describer.compose([caption_with("a black and white dog is running", {"white": 0.9})], g, NO_ONE)
    assert d.sentence == "A dog."  # "black and white" is said whole or not at all; an unsure verb ends it
    d = describer.compose([caption_with("two dogs are playing in the snow", {"snow": 0.9})], g, NO_ONE)
    assert d.sentence == "Dogs."  # the count was unsure, and the verb; "in the snow" cannot follow alone
    d = describer.compose([caption_with("an old dog", {})], g, NO_ONE)
    assert d.sentence == "A dog."  # the article agrees with what is left


def test_people_words_the_captioner_was_unsure_of_become_person_or_people(describer, recognizer):
    g = groups(recognizer)
    d = describer.compose([caption_with("a skateboarder is jumping on a ramp", {"jumping": 0.9, "ramp": 0.9})], g, FACE)
    assert d.sentence == "A person is jumping on a ramp."
    d = describer.compose([caption_with("a man and a woman are sitting on a bench", {})], g, FACE)
    assert d.sentence == "People."  # not "A person and a person."
    d = describer.compose([caption_with("two men are walking", {"walking": 0.9})], g, FACE)
    assert d.sentence == "People are walking."


def test_a_caption_is_cut_before_an_object_without_support(describer, recognizer):
    cand = caption_with("a dog is running with a frisbee", {"running": 0.9})
    d = describer.compose([cand], groups(recognizer, dog=0.9), NO_ONE)
    assert d.sentence == "A dog is running."  # frisbee: no recognizer covers it, its word is unsure
    assert coco_objects(d.sentence) == {"dog"}


def test_people_are_said_on_the_people_evidence_alone(describer, recognizer):
    d = describer.compose([caption("a dog is running")], groups(recognizer), FACE)
    assert d.sentence == "A person." and [p.source for p in d.parts] == ["people"]
    d = describer.compose([caption("a man is running")], groups(recognizer), NO_ONE)
    assert d.sentence == NOTHING


def test_thresholds_come_from_the_calibration_file(tmp_path, default_captioner, recognizer):
    said = {}
    for say in (0.5, 0.95):
        describer = Describer(default_captioner, recognizer, calibration=calibration(tmp_path, recognition={"say": say}))
        said[say] = describer.compose([caption("a man is riding a bike")], groups(recognizer, dog=0.9), NO_ONE).sentence
    assert said == {0.5: "A dog.", 0.95: NOTHING}
    strict = Describer(default_captioner, recognizer, calibration=calibration(tmp_path, caption={"word_support": 0.5}))
    assert strict.compose([caption("a man is riding a bike")], groups(recognizer), NO_ONE).kept_caption is not None
    terse = Describer(default_captioner, recognizer, calibration=calibration(tmp_path, caption={"detail_support": 0.95}))
    cand = [caption("a dog is running through the grass")]
    assert terse.compose(cand, groups(recognizer, dog=0.9), NO_ONE).sentence == "A dog."


def test_without_a_recognizer_only_captions_the_calibration_trusts_are_said(tmp_path, default_captioner):
    describer = Describer(default_captioner, None, calibration=calibration(tmp_path))
    assert describer.compose([caption("a dog runs", 0.99)], None, None).sentence == "A dog runs."
    assert describer.compose([caption("a dog runs", 0.6)], None, None).sentence == NOTHING


@dataclass(frozen=True)
class Line:
    text: str
    confidence: float


class Reader:
    def read(self, image):
        return [Line("EXIT", 0.9), Line("Push to open", 0.8), Line("Fire door", 0.7)]


def test_text_found_in_the_photo_is_read_out(tmp_path, default_captioner, recognizer):
    describer = Describer(default_captioner, recognizer, reader=Reader(), calibration=calibration(tmp_path))
    [d] = describer.describe([data.coffee()])
    assert d.sentence.endswith("It says: EXIT; Push to open and 1 more line.")
    assert d.parts[-1].source == "text" and d.text_lines == ("EXIT", "Push to open", "Fire door")


def test_real_photos_are_described_by_what_they_show_with_one_encoder_pass(default_captioner, recognizer, monkeypatch):
    calls = []
    encode = default_captioner.encode
    monkeypatch.setattr(default_captioner, "encode", lambda images: calls.append(len(images)) or encode(images))
    describer = Describer(default_captioner, recognizer, calibration=Calibration.load(CALIBRATION_FILE))
    cat, coffee = describer.describe([data.chelsea(), data.coffee()])
    assert calls == [2]
    assert "cat" in cat.sentence and coco_objects(cat.sentence) == {"cat"}
    assert "coffee" in coffee.sentence and coco_objects(coffee.sentence) <= {"cup"}
    record = cat.to_json()
    assert record["recognized"][0]["name"] == "cat" and record["caption"] == cat.caption.text
    assert {p["source"] for p in record["parts"]} <= {"caption", "recognition", "people"}
    assert json.loads(json.dumps(record)) == record


def test_the_n_best_list_starts_with_the_caption_and_blocked_repeats_never_recur(default_captioner):
    features = default_captioner.encode([data.chelsea(), data.coffee()])  # (2, P, E)
    best = default_captioner.caption_features(features, 3)
    nbest = default_captioner.n_best(features, 3)
    assert [c[0].text for c in nbest] == [c.text for c in best] and all(len(c) == 3 for c in nbest)
    assert all(a.log_prob >= b.log_prob for c in nbest for a, b in zip(c, c[1:]))
    for cands in default_captioner.n_best(features, 3, no_repeat_ngram=2):
        for c in cands:
            pairs = list(zip(c.words, c.words[1:]))
            assert len(pairs) == len(set(pairs)) and len(c.word_probs) == len(c.words)


def test_a_photo_with_text_and_nothing_else_recognised_is_described_by_its_text(default_captioner):
    describer = Describer(default_captioner, None, reader=Reader())
    [d] = describer.describe([np.full((224, 224, 3), 255, dtype=np.uint8)])  # a blank page
    assert d.sentence == "It says: EXIT; Push to open and 1 more line."
    assert [p.source for p in d.parts] == ["text"]


def test_a_covered_lens_or_a_blank_wall_is_said_to_be_so_and_nothing_is_named(tmp_path, default_describer):
    rng = np.random.default_rng(0)
    covered = np.clip(data.chelsea() * 0.03 + rng.normal(0, 1.0, (300, 451, 3)), 0, 255).astype(np.uint8)
    wall = np.clip(np.full((224, 224, 3), (225, 215, 195)) + rng.normal(0, 1.5, (224, 224, 3)), 0, 255).astype(np.uint8)
    dark, blank, cat = default_describer.describe([covered, wall, data.chelsea()])
    assert (dark.sentence, blank.sentence) == (DARK, BLANK)  # both were "A person." before the check
    assert [p.source for p in dark.parts] == ["image"] and dark.person is None and dark.kept_caption is None
    assert coco_objects(cat.sentence) == {"cat"}  # a real photo is described as before
    assert default_describer.blank_spread == Calibration.load(CALIBRATION_FILE).image.blank_spread > 0  # from the file
    rules = json.loads(CALIBRATION_FILE.read_text())
    rules["image"]["blank_spread"] = 0.0
    (tmp_path / "never.json").write_text(json.dumps(rules))
    never = Describer(default_describer.captioner, default_describer.recognizer,
                      calibration=Calibration.load(tmp_path / "never.json"))
    [d] = never.describe([covered])
    assert d.sentence != DARK and d.parts[0].source != "image"  # the threshold is the calibration's


class CountingDetector:
    """People evidence as given, counting how often faces were looked for."""

    def __init__(self, faces: int) -> None:
        self.faces, self.face_counts = faces, 0

    def detect(self, image, *, faces: bool = True):
        return PeopleEvidence(hog=0.0, bodies=0, faces=self.count_faces(image) if faces else 0)

    def count_faces(self, image) -> int:
        self.face_counts += 1
        return self.faces


def test_faces_are_looked_for_only_where_their_count_could_change_what_is_said(tmp_path, default_captioner,
                                                                               recognizer):
    faint = calibration(tmp_path, people={"model": {"weights": {"faces": 0.1}, "bias": -2.0}})  # p < 0.15 always
    detector = CountingDetector(faces=1)
    [d] = Describer(default_captioner, recognizer, detector, calibration=faint).describe([data.coffee()])
    assert detector.face_counts == 0 and d.person is None and "person" not in d.sentence
    detector = CountingDetector(faces=1)
    [d] = Describer(default_captioner, recognizer, detector, calibration=calibration(tmp_path)).describe(
        [data.coffee()])
    assert detector.face_counts == 1 and d.person > 0.7 and "a person" in d.sentence  # one face makes the person
    detector = CountingDetector(faces=1)
    [d] = Describer(default_captioner, recognizer, detector, calibration=faint, all_evidence=True).describe(
        [data.coffee()])
    assert detector.face_counts == 1 and 0.1 < d.person < 0.15


def test_leaving_the_face_detector_out_never_changes_what_is_said_about_real_photos(tmp_path, default_captioner,
                                                                                   recognizer, flickr_records):
    from model.describing.people import PeopleDetector

    photos = [r.path for r in flickr_records if r.split == "test"][:12] + [data.chelsea(), data.coffee()]
    shipped = Calibration.load()
    weighs_faces = calibration(tmp_path, people={  # the shipped people model, with faces and HOG weighed
        "model": {"weights": {**shipped.people.model["weights"], "faces": 0.4, "hog": 0.2},
                  "bias": shipped.people.model["bias"]},
        "say": shipped.people.say, "support": shipped.people.support})
    lazy, full = (Describer(default_captioner, recognizer, PeopleDetector(), calibration=weighs_faces, all_evidence=a)
                  for a in (False, True))
    quick, exact = lazy.describe(photos), full.describe(photos)
    for q, e in zip(quick, exact):
        assert (q.sentence, q.parts, q.kept_caption) == (e.sentence, e.parts, e.kept_caption)
        assert q.person in (None, e.person) and e.person is not None
    assert any(q.person is None for q in quick)  # some photos were described without the face detector


def test_detectors_the_people_model_does_not_weigh_are_never_run(tmp_path, default_captioner, recognizer):
    class Refusing:
        def detect(self, image, *, faces=True):
            raise AssertionError("the pedestrian detector ran")

        def count_faces(self, image):
            raise AssertionError("the face detector ran")

    probe_only = calibration(tmp_path, people={"model": {"weights": {"probe": 1.0}, "bias": 0.0}})
    [d] = Describer(default_captioner, recognizer, Refusing(), calibration=probe_only, all_evidence=True).describe(
        [data.astronaut()])
    assert d.person is not None and d.person > 0.5  # the probe alone, and an exact probability
    assert Describer.for_captioner(default_captioner).detectors == frozenset()  # the shipped calibration's choice


def test_the_face_count_of_detect_is_count_faces(flickr_records):
    from model.describing.people import PeopleDetector

    detector = PeopleDetector()
    for path in [r.path for r in flickr_records if r.split == "test"][:6]:
        image = load_image(path)
        assert detector.detect(image) == replace(detector.detect(image, faces=False), faces=detector.count_faces(image))


def test_the_person_probe_is_people_evidence_the_calibrated_model_weighs(default_captioner, recognizer):
    describer = Describer(default_captioner, recognizer)  # the shipped calibration
    assert describer.people_model["weights"]["probe"] > 0  # fitted on the dev photos, read from the file
    probe = PeopleEvidence(hog=0.0, bodies=0, faces=0, probe=8.0)  # the probe alone, very sure
    assert describer.compose([caption("a dog is running")], groups(recognizer), probe).sentence == "A person."
    against = PeopleEvidence(hog=0.0, bodies=0, faces=0, probe=-8.0)
    assert describer.compose([caption("a man is running")], groups(recognizer), against).sentence == NOTHING


def test_what_is_said_of_a_caption_is_its_own_words_in_order_on_real_photos(default_captioner, recognizer,
                                                                              flickr_records):
    from model.captioner.vocabulary import tokenize

    describer = Describer.for_captioner(default_captioner)
    photos = [r.path for r in flickr_records if r.split == "test"][:24]
    checked = 0
    for d in describer.describe(photos):
        if not d.from_caption:
            continue
        caption = iter(tokenize(d.kept_caption))
        for word in tokenize(d.from_caption):  # a subsequence of the kept caption, people words made plain
            assert word in ("a", "an", "person", "people") or word in caption, (d.from_caption, d.kept_caption)
        checked += 1
    assert checked >= 12  # most Flickr8k photos keep part of a caption
