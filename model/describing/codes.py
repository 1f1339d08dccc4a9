"""QR codes and barcodes in a photo, found, decoded and said in plain words (issue 30).

    reader = CodeReader()
    found = reader.read(image)       # CodesSeen(codes=(Code(...), ...), unread=(Sighting(...), ...))
    found.codes[0].said              # "QR code, a web address: site example.com, page menu/today."

zxing-cpp (a maintained C++ port of ZXing with wheels for every platform) finds and decodes QR codes, Data
Matrix, EAN-13/EAN-8, UPC-A/UPC-E and Code 128; without it OpenCV's QR code detector is the fallback. Only
those formats are looked for: every one of them carries a checksum or error correction, so a decoded code
is what was printed, and patterns without one (Code 39, Codabar) are what stripes and railings are
misread as. A code that is found but cannot be decoded is kept as a `Sighting` with where it lies, so a
live view can guide the aim ("a code, top left: move closer").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
from PIL import Image

# zxing-cpp's format names -> what is said.
KINDS = {
    "QRCode": "QR code", "MicroQRCode": "QR code", "DataMatrix": "Data Matrix code", "EAN13": "EAN-13 barcode",
    "EAN8": "EAN-8 barcode", "UPCA": "UPC-A barcode", "UPCE": "UPC-E barcode", "Code128": "Code 128 barcode",
}
# How product codes are printed under their bars, so the digits are said in the same groups.
GROUPS = {"EAN13": (1, 6, 6), "UPCA": (1, 5, 5, 1), "EAN8": (4, 4), "UPCE": (1, 6, 1)}
MAX_SAID = 200  # characters of a code's plain text said; the rest is in `text`
READ_SIDE = 1280  # longer photos are read at this size: codes a camera can read stay far larger than a pixel


@dataclass(frozen=True)
class Code:
    """A decoded code: its kind, its text as encoded and its box (x0, y0, x1, y1) in pixels."""

    kind: str  # zxing-cpp's format name: "QRCode", "EAN13", ...
    text: str
    box: tuple[float, float, float, float]

    @property
    def said(self) -> str:
        """The code in plain words: a web address as site and page, Wi-Fi as network and password, a
        product code as its digits in their printed groups."""
        return f"{KINDS.get(self.kind, 'code')}, {plain_words(self.kind, self.text)}"

    def to_json(self) -> dict[str, Any]:
        """Plain data for `--json`: type, text, box and what is said."""
        return {"type": self.kind, "text": self.text, "box": [round(v, 1) for v in self.box], "said": self.said}


@dataclass(frozen=True)
class Sighting:
    """A code found but not decoded: where it lies, as fractions of the photo (x0, y0, x1, y1)."""

    box: tuple[float, float, float, float]

    @property
    def said(self) -> str:
        """Where the code is and what to do to read it."""
        return f"A code, {place(self.box)}: move closer."


@dataclass(frozen=True)
class CodesSeen:
    """What one photo holds: the decoded codes and those seen but not decoded."""

    codes: tuple[Code, ...] = ()
    unread: tuple[Sighting, ...] = ()


def place(box: Sequence[float]) -> str:
    """Where a box (fractions of the photo) lies, in words: "top left", "centre", "bottom"."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else ""
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    return " ".join(w for w in (row, col) if w) or "centre"


def plain_words(kind: str, text: str) -> str:
    """What a code's text means, said plainly."""
    if kind in GROUPS and text.isdigit() and len(text) == sum(GROUPS[kind]):
        return f"product number {_grouped(text, GROUPS[kind])}."
    if text.upper().startswith("WIFI:"):
        return _wifi(text[5:])
    if re.match(r"(?i)(https?://|www\.)", text):
        return _web(text)
    if text.lower().startswith("mailto:"):
        return f"an email address: {unquote(text[7:].split('?')[0])}."
    if text.lower().startswith("tel:"):
        return f"a phone number: {text[4:]}."
    plain = " ".join(text.split())
    cut = f"{plain[:MAX_SAID]} and {len(plain) - MAX_SAID} more characters" if len(plain) > MAX_SAID else plain
    return f"it says: {cut}."


def _grouped(digits: str, groups: Sequence[int]) -> str:
    out, i = [], 0
    for g in groups:
        out.append(digits[i : i + g])
        i += g
    return " ".join(out)


def _web(text: str) -> str:
    url = urlsplit(text if "://" in text else f"http://{text}")
    site = (url.hostname or "").removeprefix("www.")
    page = unquote(url.path).strip("/")
    said = f"a web address: site {site}"
    return said + (f", page {page[:MAX_SAID]}." if page else ".")


def _wifi(fields: str) -> str:
    """WIFI:T:WPA;S:name;P:secret;; (the ZXing Wi-Fi format; \\ escapes ; , : and \\)."""
    values: dict[str, str] = {}
    for part in re.split(r"(?<!\\);", fields):
        key, sep, value = part.partition(":")
        if sep:
            values[key.upper()] = re.sub(r"\\(.)", r"\1", value)
    network = values.get("S", "with no name")
    password = values.get("P")
    said = f"Wi-Fi network {network}"
    return said + (f", password {password}." if password else ", no password.")


class CodeReader:
    """Finds and decodes the codes in photos; zxing-cpp, else OpenCV's QR code detector."""

    def __init__(self, engine: str = "auto") -> None:
        """engine: "auto" (zxing-cpp where installed, else OpenCV), "zxing-cpp" or "opencv"."""
        if engine not in ("auto", "zxing-cpp", "opencv"):
            raise ValueError(f"engine must be auto, zxing-cpp or opencv, got {engine!r}")
        try:
            if engine == "opencv":
                raise ImportError("OpenCV asked for")
            import zxingcpp
        except ImportError:  # the fallback: QR codes only
            if engine == "zxing-cpp":
                raise
            self._zxing = None
        else:
            self._zxing = zxingcpp

    @property
    def engine(self) -> str:
        """Which decoder reads: "zxing-cpp" or "opencv"."""
        return "opencv" if self._zxing is None else "zxing-cpp"

    def read(self, image: Image.Image | np.ndarray) -> CodesSeen:
        """The codes in one RGB photo (PIL image or (H, W, 3) uint8 array)."""
        picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
        grey = np.asarray(picture.convert("L"))
        h, w = grey.shape  # (H, W)
        scale = min(1.0, READ_SIDE / max(h, w))
        if scale < 1.0:
            small = Image.fromarray(grey).resize((round(w * scale), round(h * scale)), Image.Resampling.BILINEAR)
            grey = np.asarray(small)
        codes, unread = self._read_zxing(grey) if self._zxing is not None else self._read_opencv(grey)
        codes = [Code(k, t, tuple(v / scale for v in box)) for k, t, box in codes]
        gh, gw = grey.shape
        sightings = [Sighting((b[0] / gw, b[1] / gh, b[2] / gw, b[3] / gh)) for b in unread]
        return CodesSeen(tuple(codes), tuple(sightings))

    def _read_zxing(self, grey: np.ndarray) -> tuple[list, list]:
        # Barcodes turned on their side are not looked for (try_rotate): that pass alone took two thirds of
        # the time of a frame with no code in it (benchmarks/codes.py); QR and Data Matrix read at any angle.
        # The formats are made per read, not kept: a zxing-cpp object alive when Python exits makes its bindings
        # print a page of "leaked" warnings (seesay app, on quitting).
        formats = self._zxing.barcode_formats_from_str(",".join(KINDS))
        found = self._zxing.read_barcodes(grey, formats=formats, try_rotate=False, return_errors=True)
        codes, unread, seen = [], [], set()
        for b in found:
            box = _box([(p.x, p.y) for p in (b.position.top_left, b.position.top_right, b.position.bottom_right,
                                            b.position.bottom_left)])
            kind = b.format.name
            if b.valid and b.text and (kind, b.text) not in seen:
                seen.add((kind, b.text))
                codes.append((kind, b.text, box))
            elif not b.valid and kind == "QRCode" and not any(_overlap(box, u) for u in unread):
                # three finder squares: rarely seen where no code is (a Data Matrix's L-shaped edge is: a
                # doorway was one, among the Flickr8k test photos); one code is found at several scales
                unread.append(box)
        return codes, unread

    def _read_opencv(self, grey: np.ndarray) -> tuple[list, list]:
        import cv2

        detector = cv2.QRCodeDetector()
        try:
            ok, texts, points, _ = detector.detectAndDecodeMulti(grey)
        except cv2.error:
            return [], []
        codes, unread = [], []
        for text, quad in zip(texts if ok else (), points if ok and points is not None else ()):
            box = _box(quad.tolist())
            if text:
                codes.append(("QRCode", text, box))
            else:
                unread.append(box)
        return codes, unread


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two boxes share more than half of the smaller one."""
    w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w > 0 and h > 0 and w * h > 0.5 * small


def _box(points: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
    return min(xs), min(ys), max(xs), max(ys)
