"""Evidence of people in a photo, which ImageNet has no class for: OpenCV's HOG pedestrian detector and
Haar face cascades, both shipped inside the opencv-python wheel (no download).

The detectors' raw outputs become a person probability through a logistic model whose weights, like the
thresholds for saying "a person", are calibrated on labelled dev photos (model/data/calibration.json,
`python -m training.calibrate_recognition`); the describer adds the caption's own belief in its people
words, recognised clothing and the person probe on the encoder's features to the same model. The
calibration keeps a detector only where it adds to the others (today it keeps neither: the probe separates
people far better), and the describer runs only the detectors the model weighs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image

# The order of the features the calibrated logistic model weighs (model/data/calibration.json "people").
PEOPLE_FEATURES = ("hog", "faces", "caption_person", "clothing", "probe")
MAX_FACES = 3  # the people model counts more faces than this as this many


@dataclass(frozen=True)
class PeopleEvidence:
    """What the detectors found in one photo."""

    hog: float  # best HOG pedestrian SVM score (0 when nothing was found)
    bodies: int  # HOG detections
    faces: int  # frontal face detections
    probe: float = 0.0  # the person probe's logit on the encoder's pooled features (Recognizer.person_logits)


class PeopleDetector:
    """HOG pedestrians and Haar frontal faces on a photo scaled to `side` pixels on its long side.

    OpenCV and each detector load on first use, so a describer that never looks for people, or a process
    that exits before describing, never pays for them (issue 15).
    """

    def __init__(self, side: int = 320, hog_scale: float = 1.1) -> None:
        self.side = side
        self.hog_scale = hog_scale

    @cached_property
    def cv2(self):
        import cv2  # imported here: a describer without people evidence never pays for OpenCV

        return cv2

    @cached_property
    def hog(self):
        """The HOG descriptor with OpenCV's default people SVM."""
        hog = self.cv2.HOGDescriptor()
        hog.setSVMDetector(self.cv2.HOGDescriptor_getDefaultPeopleDetector())
        return hog

    @cached_property
    def face_cascade(self):
        """The Haar frontal face cascade.

        Frontal faces only: the profile cascade doubled the detector's time (about 30 ms more per photo
        on 2 cores) for the few faces seen side-on.
        """
        cv2 = self.cv2
        faces = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        if faces.empty():
            raise FileNotFoundError(f"OpenCV's Haar face cascade is missing from {cv2.data.haarcascades}")
        return faces

    def detect(self, image: Image.Image, *, faces: bool = True) -> PeopleEvidence:
        """People evidence for one RGB photo; faces=False leaves out the face detector (the slower of the
        two, about 50 ms a photo on one core) and counts no faces."""
        gray = self._gray(image)
        boxes, weights = self.hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8), scale=self.hog_scale)
        hog = float(np.max(weights)) if len(weights) else 0.0
        return PeopleEvidence(hog=hog, bodies=len(boxes), faces=self._count_faces(gray) if faces else 0)

    def count_faces(self, image: Image.Image) -> int:
        """Frontal faces in one RGB photo: the `faces` of detect(image)."""
        return self._count_faces(self._gray(image))

    def _gray(self, image: Image.Image) -> np.ndarray:
        """The photo as both detectors see it: grey, `side` pixels on its long side, at least one HOG window."""
        scale = self.side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        gray = np.asarray(image.convert("L").resize(size, Image.BILINEAR))  # (H, W) uint8
        if min(gray.shape) < 128:  # smaller than the HOG window: pad so the detector can run
            gray = np.pad(gray, ((0, max(0, 128 - gray.shape[0])), (0, max(0, 64 - gray.shape[1]))), mode="edge")
        return gray

    def _count_faces(self, gray: np.ndarray) -> int:
        eq = self.cv2.equalizeHist(gray)
        return len(self.face_cascade.detectMultiScale(eq, scaleFactor=1.15, minNeighbors=5, minSize=(20, 20)))


def people_features(evidence: PeopleEvidence | None, caption_person: float, clothing: float) -> dict[str, float]:
    """The named inputs of the person model: detector scores, the caption's belief, clothing recognised."""
    return {
        "hog": evidence.hog if evidence else 0.0,
        "faces": float(min(evidence.faces, MAX_FACES)) if evidence else 0.0,
        "caption_person": caption_person,
        "clothing": clothing,
        "probe": evidence.probe if evidence else 0.0,
    }


def person_probability(features: Mapping[str, float], model: Mapping[str, object]) -> float:
    """Calibrated probability that a person is in the photo: logistic(bias + sum of weight * feature).

    model: {"weights": {feature: weight}, "bias": b} from the calibration file; features it does not
    weigh are ignored, and missing features count as 0.
    """
    weights: Mapping[str, float] = model.get("weights", {})  # type: ignore[assignment]
    z = float(model.get("bias", 0.0)) + sum(float(w) * float(features.get(k, 0.0)) for k, w in weights.items())
    return 1.0 / (1.0 + math.exp(-z))


def feature_matrix(rows: Sequence[Mapping[str, float]], names: Sequence[str] = PEOPLE_FEATURES) -> np.ndarray:
    """rows of named features as an (N, F) array in `names` order."""
    return np.array([[float(r.get(n, 0.0)) for n in names] for r in rows], dtype=np.float64)
