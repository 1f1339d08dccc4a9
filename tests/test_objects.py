"""Saying what is there (issue 26): objects found by the detector, counted and placed, fused with the other
evidence by the calibrated object models; real photos from scikit-image and the shared COCO data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from model.detection import Detection
from model.objects import ObjectCalibration, ObjectFinder, how_many, load_categories, phrase, where
from model.recognition import CALIBRATION_FILE, Calibration
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
    from model.detection import COCO_CATEGORIES

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
    assert Calibration.load().objects == json.loads(CALIBRATION_FILE.read_text())["objects"]


# --- the describer with the bundled detector, on real photos ------------------------------------------------

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


@pytest.fixture(scope="module")
def describer():
    from model.describer import Describer
    from model.detection import ObjectDetector
    from model.onnx_captioner import OnnxCaptioner

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
