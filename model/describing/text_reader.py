"""Reading the text in a photo (signs, labels, letters, screens), offline, as lines in reading order.

Engine: RapidOCR (PP-OCR detection, orientation and recognition networks run by onnxruntime on the CPU).
Its ONNX models ship inside the `rapidocr` wheel; this module hands their paths to RapidOCR explicitly, so
its downloader is never reached, and raises TextReaderUnavailable if they are missing (issue 14).

Why RapidOCR and not Tesseract 5.3 (benchmarks/ocr_accuracy.py; same photos; provisional timings taken on a
2-core machine shared with other jobs): on clean rendered text both reach median CER 0 (mean 0.000 vs 0.062,
Tesseract splitting the receipt's prices from their rows); on 56 photograph-degraded photos the mean CER is
0.003 vs 0.241 (Tesseract reads nothing on heavy noise and fails on blur); on the three shipped photos 0.066
vs 0.480 (Tesseract reads nothing on OpenCV's rotated page). On 83 text-free photos it hallucinates 2
characters at MIN_CONFIDENCE against Tesseract's 17. RapidOCR installs from PyPI alone; Tesseract needs an apt
package. Tesseract is faster: about 1.2-1.7 s against 2.9-4.5 s per photo under that load (1.4 s for
RapidOCR on skimage's page when the machine was quiet).

Shapes: N text fragments found by the detector, each a quadrilateral of 4 (x, y) corners, (N, 4, 2).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..captioner.caption import NoModelError
from ..images import ImageLike, to_rgb_image
from ..onnx_runtime import import_onnxruntime

# Fragments whose recognition confidence is below this are dropped as likely hallucinations.
# Measured by benchmarks/ocr_accuracy.py (its calibrate() on a dev set kept apart from the test photos):
# characters read on text-free photos (Flickr8k / COCO-mini photos whose references mention nothing
# written, checked by eye) against edits on rendered photos of text. Rerunning the benchmark prints the
# measured value and flags it if it differs from this one. The numbers that produced it:
MIN_CONFIDENCE = 0.88
MIN_CONFIDENCE_PROVENANCE = (
    "benchmarks/ocr_accuracy.py calibration, dev set of 36 rendered text photos (4 texts x 9 conditions) and "
    "77 text-free photos (Flickr8k val, COCO-mini train2017): hallucinated characters 92 at no threshold, 49 at "
    "0.5, 33 at 0.8, 25 at 0.88-0.94, 22 at 0.96; edits on the text photos 6 up to 0.94, 27 at 0.96, 206 at "
    "0.98; 0.88 is the lowest threshold with the fewest edits + hallucinated characters (31). On the test "
    "set's 83 text-free photos: 65 characters at no threshold, 20 at RapidOCR's default 0.5, 2 at 0.88."
)

RAPIDOCR_LOGGER = "RapidOCR"  # the name rapidocr.utils.log gives its logger
# Long, narrow pictures (issue 27). RapidOCR scales the long side down to max_side and rounds both sides to a
# multiple of 32, so a short side that comes to under 16 px becomes 0 and the engine raises (a 1 x 65535 PNG,
# a 2 x 16383 WebP); and its detector scales the short side up to 736 px, so a 20 x 2000 picture is searched
# at 736 x 73600, minutes where a photo takes seconds (benchmarks/narrow_pictures.py). Pictures longer than
# MAX_ASPECT times their width are padded to that shape first (a plain border the detector finds nothing in),
# and those narrower than MIN_SIDE pixels, too thin to hold a readable letter, are not read at all.
MAX_ASPECT = 4.0
MIN_SIDE = 8


class TextReaderUnavailable(NoModelError):
    """The OCR engine (rapidocr with onnxruntime) or its bundled models are not installed."""


@dataclass(frozen=True)
class TextLine:
    """One line of text as it would be read aloud: text, confidence in [0, 1], and box (x0, y0, x1, y1)."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]  # pixel coordinates of the input image


@dataclass(frozen=True)
class TextReaderConfig:
    """How the text reader runs: the confidence below which fragments are dropped, and CPU threads."""

    min_confidence: float = MIN_CONFIDENCE
    # onnxruntime intra-op threads: the target's 2 cores. On a machine shared with other jobs 1 thread was
    # faster (2.9 s vs 4.5 s a photo); rerun benchmarks/ocr_accuracy.py on an idle machine to settle it.
    threads: int = 2
    max_side: int = 2000  # longer photo sides are scaled down to this before detection (RapidOCR's default)
    use_orientation: bool = True  # the 0/180 degree classifier, for labels held upside down

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence!r}")
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads!r}")
        if self.max_side < 64:
            raise ValueError(f"max_side must be at least 64, got {self.max_side!r}")


@dataclass(frozen=True)
class Fragment:
    """What the engine returns for one detected text region: its text, score and corners (4, 2)."""

    text: str
    confidence: float
    corners: np.ndarray  # (4, 2) x, y: top-left, top-right, bottom-right, bottom-left


def _silence_rapidocr() -> None:
    """Keep RapidOCR's log lines off stdout, stderr and any terminal UI.

    rapidocr attaches a colour StreamHandler to the "RapidOCR" logger at import unless that logger already
    has a handler, and sets the level from its config; a NullHandler installed first, propagation off and
    the logger disabled mean no record goes anywhere, whatever level it later sets.
    """
    log = logging.getLogger(RAPIDOCR_LOGGER)
    for handler in list(log.handlers):
        if not isinstance(handler, logging.NullHandler):
            log.removeHandler(handler)
    if not log.handlers:
        log.addHandler(logging.NullHandler())
    log.propagate = False
    log.disabled = True


def bundled_model_paths() -> dict[str, Path]:
    """The det / cls / rec ONNX files inside the installed rapidocr package, without importing it."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise TextReaderUnavailable("reading text needs the rapidocr package: pip install rapidocr onnxruntime")
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    found = {}
    for task in ("det", "cls", "rec"):
        candidates = sorted(models.glob(f"*_{task}_*.onnx"))
        if not candidates:
            raise TextReaderUnavailable(
                f"rapidocr's bundled {task} model is missing from {models}: reinstall with "
                "pip install --force-reinstall rapidocr"
            )
        found[task] = candidates[-1]
    return found


class TextReader:
    """Reads the text in photos; the engine loads on the first read, so constructing one is cheap."""

    def __init__(self, config: TextReaderConfig | None = None) -> None:
        self.config = config or TextReaderConfig()
        self._engine = None
        self._lock = threading.Lock()  # one load, and one read at a time: the engine is not re-entrant
        _silence_rapidocr()

    def _load(self):
        """Import rapidocr and onnxruntime and build the engine on the bundled models."""
        if self._engine is not None:
            return self._engine
        _silence_rapidocr()
        try:
            onnxruntime = import_onnxruntime()
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise TextReaderUnavailable(
                f"reading text needs rapidocr and onnxruntime ({exc.name or exc} is missing): "
                "pip install rapidocr onnxruntime"
            ) from None
        onnxruntime.set_default_logger_severity(4)  # fatal only: its warnings would reach stderr
        paths = bundled_model_paths()
        params = {
            "Global.log_level": "critical",
            "Global.text_score": 0.0,  # TextReader filters with its own measured threshold
            "Global.max_side_len": self.config.max_side,
            "Global.use_cls": self.config.use_orientation,
            "Det.model_path": str(paths["det"]),
            "Cls.model_path": str(paths["cls"]),
            "Rec.model_path": str(paths["rec"]),
            "EngineConfig.onnxruntime.intra_op_num_threads": self.config.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        engine = RapidOCR(params=params)
        _silence_rapidocr()  # RapidOCR() resets the level; keep it disabled
        self._engine = engine
        return engine

    def load(self) -> TextReader:
        """Load the engine now instead of on the first read (e.g. while the app starts)."""
        with self._lock:
            self._load()
        return self

    @staticmethod
    def unreadable(size: tuple[int, int]) -> str | None:
        """Why a picture of this (width, height) is not read for text, or None when it is."""
        w, h = size
        if min(w, h) < MIN_SIDE:
            return f"too narrow to hold readable text ({w} x {h} pixels), not read for text"
        return None

    def fragments(self, image: ImageLike) -> list[Fragment]:
        """Every text region the engine finds, unfiltered and in the engine's order; none in a picture of a
        shape the engine cannot take (see `unreadable`)."""
        rgb = np.asarray(to_rgb_image(image))  # (H, W, 3) RGB uint8; raises ImageError on bad input
        if self.unreadable((rgb.shape[1], rgb.shape[0])):
            return []
        rgb = _padded(rgb, MAX_ASPECT)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # RapidOCR takes arrays in OpenCV's BGR order
        with self._lock:
            result = self._load()(bgr)
        if getattr(result, "txts", None) is None or getattr(result, "boxes", None) is None:
            return []
        return [
            Fragment(text=str(t).strip(), confidence=float(s), corners=np.asarray(b, dtype=np.float64))
            for t, s, b in zip(result.txts, result.scores, result.boxes)
            if str(t).strip()
        ]

    def read(self, image: ImageLike) -> list[TextLine]:
        """The text in one photo as lines in reading order, low-confidence fragments dropped."""
        kept = [f for f in self.fragments(image) if f.confidence >= self.config.min_confidence]
        return reading_order(kept)

    def read_batch(self, images: Sequence[ImageLike]) -> list[list[TextLine]]:
        """read() for each photo; the engine runs one photo at a time, so this is a convenience."""
        return [self.read(image) for image in images]


def _padded(rgb: np.ndarray, aspect: float) -> np.ndarray:
    """rgb (H, W, 3) padded on the right or at the bottom with its mean colour to at most aspect : 1; the
    text keeps its pixel coordinates."""
    h, w = rgb.shape[:2]
    if max(h, w) <= aspect * min(h, w):
        return rgb
    fill = rgb.reshape(-1, 3).mean(axis=0).astype(np.uint8)  # (3,)
    out = np.empty((max(h, math.ceil(w / aspect)), max(w, math.ceil(h / aspect)), 3), dtype=np.uint8)
    out[:] = fill
    out[:h, :w] = rgb
    return out


def _deskew_angle(fragments: Sequence[Fragment]) -> float:
    """The dominant text angle in radians: the median slope of the top edges of wide fragments."""
    angles = []
    for f in fragments:
        (x0, y0), (x1, y1) = f.corners[0], f.corners[1]
        width = math.hypot(x1 - x0, y1 - y0)
        height = math.hypot(*(f.corners[3] - f.corners[0]))
        if width > 1.5 * height:  # short fragments give noisy angles
            angles.append(math.atan2(y1 - y0, x1 - x0))
    return float(np.median(angles)) if angles else 0.0


def _widest_gap(intervals: np.ndarray) -> tuple[float, float] | None:
    """The widest empty stretch between 1-D intervals (K, 2), as (start, end), or None if they overlap."""
    order = np.argsort(intervals[:, 0])
    best, reach = None, intervals[order[0], 1]
    for i in order[1:]:
        start, end = intervals[i]
        if start > reach and (best is None or start - reach > best[1] - best[0]):
            best = (float(reach), float(start))
        reach = max(reach, end)
    return best


# A gutter splits a group into columns only when both sides are at least this fraction of the group's width:
# two columns of prose pass, a receipt's narrow price column does not (its rows are read across).
COLUMN_MIN_FRACTION = 0.25


def _xy_cut(idx: list[int], bounds: np.ndarray) -> list[list[int]]:
    """Recursive X-Y cut (Nagy and Seth, 1984) of fragments into rows in reading order.

    bounds (N, 4) holds deskewed x0, x1 and a core band y0, y1 (the middle half of each box, since the
    detector's boxes are padded and overlap their neighbours). Columns are tried first, then the widest
    horizontal gap; what cannot be cut is one row, or rows clustered by their centres.
    """
    if len(idx) == 1:
        return [idx]
    b = bounds[idx]
    heights = (b[:, 3] - b[:, 2]) * 2
    gap = _widest_gap(b[:, 0:2])
    if gap is not None and gap[1] - gap[0] >= 0.5 * float(np.median(heights)):
        left = [i for i in idx if bounds[i, 1] <= gap[0]]
        right = [i for i in idx if bounds[i, 0] >= gap[1]]
        width = b[:, 1].max() - b[:, 0].min()
        lw = bounds[left, 1].max() - bounds[left, 0].min()
        rw = bounds[right, 1].max() - bounds[right, 0].min()
        if min(lw, rw) >= COLUMN_MIN_FRACTION * width:
            return _xy_cut(left, bounds) + _xy_cut(right, bounds)
    gap = _widest_gap(b[:, 2:4])
    if gap is not None:
        top = [i for i in idx if bounds[i, 3] <= gap[0]]
        bottom = [i for i in idx if bounds[i, 2] >= gap[1]]
        return _xy_cut(top, bounds) + _xy_cut(bottom, bounds)
    # No gap at all: one row, or lines so tight their core bands touch; cluster by centre height.
    rows: list[list[int]] = []
    for i in sorted(idx, key=lambda i: bounds[i, 2] + bounds[i, 3]):
        centre, height = (bounds[i, 2] + bounds[i, 3]) / 2, (bounds[i, 3] - bounds[i, 2]) * 2
        if rows:
            last = rows[-1]
            last_centre = float(np.mean([(bounds[j, 2] + bounds[j, 3]) / 2 for j in last]))
            if abs(centre - last_centre) < 0.5 * height:
                last.append(i)
                continue
        rows.append([i])
    return [sorted(r, key=lambda i: bounds[i, 0]) for r in rows]


def reading_order(fragments: Sequence[Fragment]) -> list[TextLine]:
    """Fragments as lines in reading order: columns left to right, rows top to bottom, a row's fragments
    joined left to right into one line."""
    if not fragments:
        return []
    angle = _deskew_angle(fragments)
    c, s = math.cos(-angle), math.sin(-angle)
    rotation = np.array([[c, -s], [s, c]])
    corners = np.stack([f.corners for f in fragments])  # (N, 4, 2)
    upright = corners @ rotation.T  # (N, 4, 2) with the text baseline horizontal
    x0, x1 = upright[:, :, 0].min(1), upright[:, :, 0].max(1)
    y0, y1 = upright[:, :, 1].min(1), upright[:, :, 1].max(1)
    centre, quarter = (y0 + y1) / 2, (y1 - y0) / 4
    bounds = np.stack([x0, x1, centre - quarter, centre + quarter], axis=1)  # (N, 4)
    lines = []
    for row in _xy_cut(list(range(len(fragments))), bounds):
        row = sorted(row, key=lambda i: bounds[i, 0])
        chars = [max(len(fragments[i].text), 1) for i in row]
        confidence = sum(fragments[i].confidence * n for i, n in zip(row, chars)) / sum(chars)
        pts = corners[row].reshape(-1, 2)  # (4 * len(row), 2)
        box = (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))
        lines.append(TextLine(" ".join(fragments[i].text for i in row), float(confidence), box))
    return lines


def spoken_text(lines: Sequence[TextLine], max_lines: int = 2) -> str:
    """The text phrased for speech, as the describer says it (model/describing/reading.py `said_text`, the
    one phrasing): 'It says: FIRST; SECOND and 5 more lines.'; '' when there is none."""
    from .reading import said_text

    return said_text([line.text for line in lines], max_lines)


def spoken_lines(lines: Sequence[TextLine]) -> list[str]:
    """Every line of the text, in reading order, as it is to be said: dates, times and phone numbers
    spoken as such (model/describing/speakable.py); empty lines left out."""
    from .speakable import speakable

    return [speakable(line.text.strip()) for line in lines if line.text.strip()]
