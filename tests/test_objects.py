"""Saying what is there (issue 26): objects found by the detector, counted and placed, fused with the other
evidence by the calibrated object models; real photos from scikit-image and the shared COCO data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from model.describing.calibration import CALIBRATION_FILE, Calibration
from model.describing.detection import Detection
from model.describing.objects import ObjectCalibration, ObjectFinder, how_many, load_categories, phrase, where
from training.hallucination import coco_objects

from .conftest import DATA

CATEGORIES = load_categories()


def test_positions_are_said_in_words_a_listener_can_act_on():
    assert where([(0.0, 0.2, 0.25, 0.8)]) == "on the left"
    assert where([(0.4, 0.2, 0.6, 0.8)]) == "in the middle"
    assert where([(0.7, 0.1, 0.95, 0.5), (0.8, 0.5, 0.9, 0.9)]) == "on the right"
    assert where([(0.05, 0.0, 0.95, 0.9)]) == "close in front of you"
    assert where([(0.0, 0.2, 0.2, 0.8), (0.8, 0.2, 1.0, 0.8)]) == ""  # spread across: no one place
    assert where([]) == ""


def test_counts_are_said_as_numbers_and_a_crowd_past_five():
    assert how_many(CATEGORIES["dog"], 1) == "a dog"
    assert how_many(CATEGORIES["dog"], 2) == "two dogs"
    assert how_many(CATEGORIES["person"], 3) == "three people"
    assert how_many(CATEGORIES["person"], 9) == "a crowd of people"
    assert how_many(CATEGORIES["sheep"], 4) == "four sheep"
    assert how_many(CATEGORIES["dining table"], 1) == "a table"


def test_every_category_the_detector_knows_has_words_and_a_synonym_table_entry():
    from model.describing.detection import COCO_CATEGORIES

    assert tuple(CATEGORIES) == COCO_CATEGORIES
    for name, c in CATEGORIES.items():
        assert c.one and c.many and name in coco_objects(f"there is {c.one} here"), name


def test_the_finder_reads_its_models_and_thresholds_from_the_calibration_file(tmp_path):
    data = json.loads(CALIBRATION_FILE.read_text())
    cal = ObjectCalibration.from_json(data["objects"])
    finder = ObjectFinder(cal)
    dog = [Detection("dog", 0.9, (0.0, 0.3, 0.3, 0.9)), Detection("dog", 0.8, (0.05, 0.2, 0.3, 0.6))]
    found = {f.category: f for f in finder.find(dog, {}, {}, 0.0)}
    assert found["dog"].said and found["dog"].count == 2 and phrase(found["dog"]) == "two dogs on the left"
    assert not found["person"].said  # no evidence of a person at all
    data["objects"]["say"] = 1.01  # nothing is ever sure enough
    strict = ObjectFinder(ObjectCalibration.from_json(data["objects"]))
    assert not any(f.said for f in strict.find(dog, {}, {}, 0.0))
    del data["objects"]["person_model"]
    with pytest.raises(ValueError, match="person_model"):
        ObjectCalibration.from_json(data["objects"])
    data = json.loads(CALIBRATION_FILE.read_text())
    data["objects"]["model"]["features"] = ["detector"]
    with pytest.raises(ValueError, match="fitted on features"):
        ObjectCalibration.from_json(data["objects"])
    assert Calibration.load().objects == ObjectCalibration.from_json(json.loads(CALIBRATION_FILE.read_text())["objects"])


def test_people_counts_are_scored_by_what_went_wrong():
    from model.describing.concepts import Concepts
    from training.object_truth import LabelledPhoto, count_kind, truth_scores

    said_counts = Concepts.load().counts
    two = LabelledPhoto(1, "coco", Path("two.jpg"), (("person", 0.2, False), ("person", 0.05, False),
                                                     ("person", 0.001, False), ("dog", 0.3, False)))
    crowd = LabelledPhoto(2, "coco", Path("crowd.jpg"), (("person", 0.02, False), ("person", 0.4, True)))
    kinds = {s: count_kind(s, two, said_counts) for s in
             ("Two people and a dog.", "Three people.", "A man with a dog.", "People on a beach.", "A dog.",
              "A crowd of people.")}
    assert list(kinds.values()) == ["exact", "too_high", "too_low", "no_number", "unsaid", "too_high"], kinds
    assert count_kind("A crowd of people.", crowd, said_counts) == "exact"
    assert count_kind("Five people.", crowd, said_counts) == "too_low"
    scores = truth_scores(["Three people.", "A crowd of people.", "A cat."],
                          [two, crowd, LabelledPhoto(3, "coco", Path("cat.jpg"), (("cat", 0.5, False),))], said_counts)
    assert scores["people_counts"] == {"exact": 1, "too_high": 1, "too_low": 0, "no_number": 0, "unsaid": 0}
    assert scores["photos_with_people"] == 2 and scores["count_right"] == 0.5


# --- the describer with the bundled detector, on real photos ------------------------------------------------

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


@pytest.fixture(scope="module")
def describer():
    from model.captioner.onnx_engine import OnnxCaptioner
    from model.describing.describer import Describer
    from model.describing.detection import ObjectDetector

    return Describer.for_captioner(OnnxCaptioner.default(), detector=ObjectDetector.default())


def _side_by_side(*images: np.ndarray, height: int = 240) -> np.ndarray:
    """Real photos scaled to one height and put next to each other, as one wide scene."""
    scaled = [np.asarray(Image.fromarray(im).resize((round(im.shape[1] * height / im.shape[0]), height))) for im in images]
    return np.concatenate(scaled, axis=1)


def _card(text: str, colour: str) -> np.ndarray:
    """A plain coloured card with white text on it, as a sign or a notice is photographed."""
    card = Image.new("RGB", (640, 400), colour)
    ImageDraw.Draw(card).text((60, 150), text, font=ImageFont.truetype(FONT, 72), fill="white")
    noise = np.random.default_rng(0).normal(0, 4, (400, 640, 3))
    return np.clip(np.asarray(card, dtype=np.float64) + noise, 0, 255).astype(np.uint8)


def test_what_the_detector_finds_is_named_on_real_photos(describer):
    """scikit-image's cat and astronaut, and held-out COCO photos of a bus, a stop sign, a street, giraffes,
    zebras and sheep (which the captioner, trained on Flickr8k, calls dogs)."""
    from skimage import data

    coco = {"coco-tiny/val2017/000000359937.jpg": "bus", "coco-mini/val2017/000000460229.jpg": "stop sign",
            "coco-tiny/val2017/000000454661.jpg": "car", "coco-mini/val2017/000000261712.jpg": "giraffe",
            "coco-mini/val2017/000000244592.jpg": "zebra", "coco-mini/val2017/000000269196.jpg": "sheep"}
    photos = [data.chelsea(), data.astronaut(), *(str(DATA / p) for p in coco)]
    said = [d.sentence for d in describer.describe(photos)]
    for sentence, wanted in zip(said, ["cat", "person", *coco.values()]):
        assert wanted in coco_objects(sentence), (wanted, sentence)
        assert "dog" not in coco_objects(sentence), sentence


def test_a_thing_found_keeps_imagenets_finer_name_where_the_recognizer_is_sure(describer):
    from model.describing.objects import Found
    from model.describing.recognition import Recognition

    cup = Found("cup", 0.9, 1, ((0.3, 0.3, 0.6, 0.7),), "in the middle", True, True)
    espresso = Recognition("coffee", "a cup of coffee", 0.97, True, "espresso")
    unsure = Recognition("coffee", "a cup of coffee", 0.3, False, "espresso")
    assert describer._say("cup", None, [cup], [espresso]) == "a cup of coffee in the middle"
    assert describer._say("cup", None, [cup], [unsure]) == "a cup in the middle"
    sign = Recognition("street sign", "a street sign", 0.9, True, "street sign")  # coarser: not said instead
    stop = Found("stop sign", 0.9, 1, ((0.3, 0.3, 0.6, 0.7),), "in the middle", True, True)
    assert describer._say("stop sign", None, [stop], [sign]) == "a stop sign in the middle"


def test_constructed_scenes_are_counted_and_placed(describer):
    """Real photos side by side: a cat left of a bus; the astronaut three times."""
    from skimage import data

    from model.images import load_image

    bus = np.asarray(load_image(DATA / "coco-tiny/val2017/000000359937.jpg"))
    cat_bus, astronauts = describer.describe([_side_by_side(data.chelsea(), bus), _side_by_side(*[data.astronaut()] * 3)])
    found = {f.category: f for f in cat_bus.found if f.said}
    assert found["cat"].where.endswith("on the left") and found["bus"].where == "on the right", cat_bus.sentence
    assert "on the left" in cat_bus.sentence and "on the right" in cat_bus.sentence
    assert astronauts.sentence.startswith("Three people"), astronauts.sentence
    people = next(f for f in astronauts.found if f.category == "person")
    assert people.count == 3 and [round((b[0] + b[2]) * 1.5) for b in sorted(people.boxes)] == [0, 1, 2]


def test_no_person_is_said_of_cards_an_empty_street_or_a_blank_wall(describer):
    wall = np.clip(np.full((480, 640, 3), (200, 190, 170), float)
                   + np.random.default_rng(1).normal(0, 3, (480, 640, 3)), 0, 255).astype(np.uint8)
    street = str(DATA / "coco-tiny/val2017/000000454661.jpg")  # cars and traffic lights; no person has a box
    said = describer.describe([_card("EXIT ONLY", "#1a7f3c"), _card("PLATFORM 4", "#1f4e9c"), street, wall])
    for d in said:
        assert "person" not in coco_objects(d.sentence), d.sentence
        assert not any(f.said for f in d.found if f.category == "person")


def test_json_carries_each_thing_found_with_its_boxes_count_and_place(describer):
    from skimage import data

    record = describer.describe([_side_by_side(*[data.astronaut()] * 2)])[0].to_json()
    people = next(o for o in record["objects"] if o["name"] == "person")
    assert people["said"] and people["count"] == 2 and len(people["boxes"]) == 2
    assert people["say"] == "two people" and all(0 <= v <= 1 for b in people["boxes"] for v in b)
    assert {"name", "probability", "count", "where", "said", "boxes", "say"} <= set(people)
    assert record["recognized"] and record["sentence"].startswith("Two people")


def test_the_index_finds_a_photo_by_what_was_found_even_where_the_caption_never_learnt_the_word(describer, tmp_path):
    """Held-out COCO photos of giraffes and zebras: the captioner (trained on Flickr8k) writes "a dog ...", the
    detector finds them, and `seesay search giraffe` / `two giraffes` finds the photo."""
    import shutil

    from assistant.indexer import index_folders
    from store import Store

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("coco-mini/val2017/000000261712.jpg", "coco-mini/val2017/000000244592.jpg"):
        shutil.copy(DATA / name, folder / name.replace("/", "-"))
    with Store(tmp_path / "index.sqlite") as store:
        index_folders(store, describer, [folder])
        giraffes = store.text_search("giraffe")
        assert [Path(h.path).name for h in giraffes] == ["coco-mini-val2017-000000261712.jpg"]
        two = [Path(h.path).name for h in store.text_search("two giraffes")]  # "two zebras" ranks below
        assert two[0] == Path(giraffes[0].path).name
        assert [Path(h.path).name for h in store.text_search("zebras")] == ["coco-mini-val2017-000000244592.jpg"]
        rows = {Path(r["path"]).name: r for r in store.export_rows()}
    assert "giraffe" not in rows["coco-mini-val2017-000000261712.jpg"]["caption"]  # the caption never says it


def test_a_change_in_view_is_told_as_what_arrived_and_what_left():
    from model.describing.objects import Found, changes

    def found(category, count, box, said=True):
        return Found(category, 0.9, count, (box,) * count, where([box] * count), said, said)

    dog = found("dog", 1, (0.4, 0.3, 0.6, 0.8))
    person = found("person", 1, (0.0, 0.2, 0.2, 0.9))
    assert changes([dog], [dog, person]) == "Now: a person on the left."
    assert changes([dog, person], [person]) == "No longer in view: a dog."
    assert changes([dog], [found("dog", 2, (0.4, 0.3, 0.6, 0.8))]) == "Now: two dogs in the middle."
    assert changes([dog], [found("dog", 1, (0.0, 0.3, 0.2, 0.8))]) == ""  # a move alone is not told
    assert changes([dog], [found("cat", 1, (0.7, 0.3, 0.9, 0.8)), found("bird", 1, (0, 0, 0.1, 0.1), said=False)]) \
        == "Now: a cat on the right. No longer in view: a dog."
