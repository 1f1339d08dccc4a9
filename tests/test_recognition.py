"""Recognition from the captioner's own encoder features, on real photos that scikit-image ships:
skimage.data.chelsea() (a tabby cat) and skimage.data.coffee() (a cup of coffee on a saucer)."""

from __future__ import annotations

import json

import pytest
import torch
from skimage import data

from model.describing.calibration import CALIBRATION_FILE, Calibration
from model.describing.recognition import Recognizer, load_groups


@pytest.fixture(scope="module")
def photos():
    return {"cat": data.chelsea(), "coffee": data.coffee()}


@pytest.fixture(scope="module")
def recognizer(default_captioner):
    r = Recognizer.for_captioner(default_captioner)
    assert r is not None
    return r


def test_recognition_from_the_captions_features_equals_the_encoders_own_classifier(default_captioner, recognizer, photos):
    pictures = list(photos.values())
    features = default_captioner.encode(pictures)  # (B, P, C): what the captioner attends over
    batch = torch.stack([default_captioner.encoder.preprocess(p) for p in pictures])
    with torch.inference_mode():
        direct = default_captioner.encoder.net.eval()(batch).softmax(-1)  # a second, full pass
    probs = recognizer.class_probabilities(features.logits)  # (B, K)
    torch.testing.assert_close(torch.from_numpy(probs), direct, atol=1e-4, rtol=1e-3)


def test_the_cat_and_the_coffee_are_named_the_way_a_person_would(default_captioner, recognizer, photos):
    features = default_captioner.encode([photos["cat"], photos["coffee"]])
    top = recognizer.recognize(features.logits, top=3)
    assert (top[0][0].name, top[0][0].say) == ("cat", "a cat") and top[0][0].probability > 0.8
    assert top[0][0].top_class in {"tabby", "tiger cat", "Egyptian cat"}
    assert (top[1][0].name, top[1][0].say) == ("coffee", "a cup of coffee") and top[1][0].top_class == "espresso"
    assert top[0][0].confident and top[1][0].confident


def test_every_imagenet_class_is_in_exactly_one_group_and_groups_sum_to_one(default_captioner, recognizer, photos):
    classes, groups = load_groups()
    members = sorted(i for g in groups for i in g.classes)
    assert len(classes) == 1000 and members == list(range(1000))
    dog = next(g for g in groups if g.name == "dog")
    assert set(range(151, 269)) <= set(dog.classes)  # every ImageNet dog breed, Chihuahua to Mexican hairless
    assert classes[151] == "Chihuahua" and classes[268] == "Mexican hairless"
    probs = recognizer.group_probabilities(default_captioner.encode([photos["cat"]]).logits)
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-4)


def test_an_encoder_without_an_imagenet_head_has_no_recognizer():
    from model import Captioner, CaptionerConfig, Vocabulary, build_model

    words = ["<pad>", "<bos>", "<eos>", "<unk>", "a", "dog"]
    captioner = Captioner(build_model(CaptionerConfig(encoder="resnet18"), len(words), pretrained=False),
                          Vocabulary(words))
    assert captioner.classes == 0 and Recognizer.for_captioner(captioner) is None


def test_when_a_recognition_is_confident_is_read_from_the_calibration_file(tmp_path, default_captioner, photos):
    logits = default_captioner.encode([photos["cat"]]).logits
    shipped = json.loads(CALIBRATION_FILE.read_text())
    confident = {}
    for say in (0.5, 0.999):
        cal = dict(shipped, recognition={"say": say, "support": 0.1})
        path = tmp_path / f"calibration-{say}.json"
        path.write_text(json.dumps(cal))
        r = Recognizer.for_captioner(default_captioner, calibration=Calibration.load(path))
        confident[say] = r.recognize(logits, top=1)[0][0].confident
    assert confident == {0.5: True, 0.999: False}


def test_a_calibration_file_without_thresholds_is_refused(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"recognition": {"say": 0.5}}))
    with pytest.raises(ValueError, match="no recognition thresholds"):
        Calibration.load(path)


def test_the_person_probe_scores_photos_of_people_above_photos_without(default_captioner, recognizer):
    import numpy as np

    people = [data.astronaut(), np.stack([data.camera()] * 3, axis=-1)]  # an astronaut, a cameraman
    others = [data.chelsea(), data.coffee(), data.rocket()]  # a cat, a cup of coffee, a rocket on its pad
    logits = recognizer.person_logits(default_captioner.encode(people + others).pooled)
    assert logits is not None and logits.shape == (5,)
    assert float(logits[:2].min()) > float(logits[2:].max())


def test_a_person_probe_fitted_on_another_encoder_is_not_used(tmp_path, default_captioner):
    from model.describing.recognition import PROBE_FILE, load_person_probe

    probe = json.loads(PROBE_FILE.read_text())
    name, channels = default_captioner.encoder_name, default_captioner.feature_channels
    assert probe["encoder"] == name and load_person_probe(name, channels)
    other = tmp_path / "probe.json"
    other.write_text(json.dumps({**probe, "encoder": "efficientnet-lite2"}))
    assert load_person_probe(name, channels, other) is None
    assert load_person_probe(name, channels, tmp_path / "missing.json") is None


def test_the_person_probe_gives_each_held_out_photo_the_logit_of_a_fit_that_never_saw_it():
    import numpy as np

    from training.logistic import fit_logistic
    from training.person_probe import out_of_fold

    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    y = (x[:, 0] + rng.normal(scale=0.5, size=40) > 0).astype(float)
    held = np.zeros(40, bool)
    held[-6:] = True
    weight = np.where(held, 5.0, 1.0)
    oof = out_of_fold(x, y, weight, held, l2=0.1, folds=6)  # one held photo per fold: leave one out
    for i, row in enumerate(np.flatnonzero(held)):
        keep = np.arange(40) != row
        w, b = fit_logistic(x[keep], y[keep], weight[keep], l2=0.1)
        assert oof[i] == pytest.approx(x[row] @ w + b)
    w, b = fit_logistic(x, y, weight, l2=0.1)  # the fit that saw them all says something else of them
    assert not np.allclose(oof, x[held] @ w + b)


def test_the_calibration_reads_the_held_out_probe_logits_of_photos_the_probe_learnt_from(default_captioner):
    """The COCO-mini train photos are both probe training and calibration data: thresholds must rest on
    out-of-fold logits, which the probe file carries and the collection of dev evidence uses."""
    from model.describing.people import PeopleDetector
    from model.describing.recognition import PROBE_FILE
    from training.calibrate_recognition import collect
    from training.data import load_records

    from .conftest import COCO_MINI

    held = json.loads(PROBE_FILE.read_text())["out_of_fold"]["coco-mini-train"]
    records = load_records(COCO_MINI / "annotations" / "captions_train2017.json", COCO_MINI / "train2017")[:2]
    assert all(str(r.image_id) in held for r in records)  # every COCO-mini train photo has one
    recognizer = Recognizer.for_captioner(default_captioner)
    args = {"beam_size": 1, "no_repeat_ngram": 2}
    own = collect(default_captioner, recognizer, PeopleDetector(), records, "coco-mini-train", **args)
    used = collect(default_captioner, recognizer, PeopleDetector(), records, "coco-mini-train", **args,
                   held_out_probe={str(records[0].image_id): held[str(records[0].image_id)]})
    assert used[0].people.probe == held[str(records[0].image_id)] != own[0].people.probe
    assert used[1].people.probe == own[1].people.probe
