"""The colours of a photo, of a part of it or of an object in it, in plain words (issue 30).

    colours(image)                          # [Colour("blue", 0.46, "light"), Colour("white", 0.31, "")]
    colours(image, box=(0.3, 0.3, 0.7, 0.7))  # the centre of the view
    say_colours(colours(image))             # "Mostly light blue, with white."

Pixels are named in CIELAB (D65), where equal distances look about equally different, not by distance in
RGB: each pixel's lightness L*, chroma C* and hue angle h give one of the eleven basic colour terms of
Berlin and Kay (black, white, grey, red, orange, yellow, green, blue, purple, pink, brown). A colour's
pixels are counted together and "light" or "dark" added when their median lightness is well above or below
what is usual for that colour. The sRGB to CIELAB formulas are the standard's (IEC 61966-2-1, CIE 15).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

TERMS = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")
# The lightness usual for each colour: "light" above it by LIGHTER, "dark" below it by DARKER.
USUAL = {"grey": 47, "red": 45, "orange": 65, "yellow": 82, "green": 50, "blue": 45, "purple": 40, "pink": 70,
         "brown": 40}
LIGHTER, DARKER = 18.0, 18.0
BLACK_BELOW, WHITE_ABOVE = 22.0, 72.0  # L* limits of black and of white among the near-neutral colours
SIDE = 64  # pixels on the long side of the thumbnail named
MIN_SHARE = 0.15  # a colour said is at least this share of the pixels
WHITE_PERCENTILE, MAX_CAST, MAX_GAIN = 98.0, 1.5, 4.0
_WHITE = np.array([0.95047, 1.0, 1.08883])  # D65 reference white, X Y Z
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],  # IEC 61966-2-1 (linear sRGB, D65)
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])


@dataclass(frozen=True)
class Colour:
    """A colour named in a photo: its basic term, the share of the pixels it covers, and "light"/"dark"/""."""

    term: str
    share: float
    shade: str = ""

    @property
    def name(self) -> str:
        """The colour as said: "light blue", "red"."""
        return f"{self.shade} {self.term}".strip()


def crop(image: Image.Image | np.ndarray, box: Sequence[float] | None) -> Image.Image:
    """An RGB photo cut to a box of fractions (x0, y0, x1, y1) and made at most SIDE pixels on its long side."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    img = img.convert("RGB")
    if box is not None:
        x0, y0, x1, y1 = (float(v) for v in box)
        if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
            raise ValueError(f"box must be fractions x0 < x1, y0 < y1 within 0..1, got {tuple(box)!r}")
        w, h = img.size
        img = img.crop((int(x0 * w), int(y0 * h), max(int(x0 * w) + 1, round(x1 * w)),
                        max(int(y0 * h) + 1, round(y1 * h))))
    scale = SIDE / max(img.size)
    if scale < 1.0:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.BOX)
    return img


def object_box(box: Sequence[float], keep: float = 0.8) -> tuple[float, float, float, float]:
    """The middle of an object's box (fractions x0, y0, x1, y1), keep of each side: an object's box holds
    background at its edges and corners, its own colour in the middle."""
    x0, y0, x1, y1 = (float(v) for v in box)
    dx, dy = (x1 - x0) * (1 - keep) / 2, (y1 - y0) * (1 - keep) / 2
    return x0 + dx, y0 + dy, x1 - dx, y1 - dy


def linear_rgb(rgb: np.ndarray) -> np.ndarray:
    """Linear light (0-1) of sRGB values (..., 3) in 0-255 (the standard's transfer curve undone)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def white_gains(image: Image.Image | np.ndarray) -> np.ndarray:
    """Per-channel gains that make the photo's brightest surfaces white (3,): people name a surface's colour
    under the light it is in (a white truck in shade is white, not grey), so the light is divided out, as
    the white-patch model of colour constancy does (Land's retinex). The channels' gains differ by at most
    MAX_CAST, so a photo filled by one colour is not turned grey, and no gain is over MAX_GAIN."""
    linear = linear_rgb(np.asarray(crop(image, None)).reshape(-1, 3))  # (N, 3)
    gains = 1.0 / np.maximum(np.percentile(linear, WHITE_PERCENTILE, axis=0), 1e-3)  # (3,)
    gains = np.minimum(gains, MAX_CAST * gains.min())
    return np.minimum(gains, MAX_GAIN)


def srgb_to_lab(rgb: np.ndarray, gains: np.ndarray | None = None) -> np.ndarray:
    """CIELAB (L* 0-100, a*, b*) of sRGB values (..., 3) in 0-255, after per-channel gains if given."""
    linear = linear_rgb(rgb)  # (..., 3)
    if gains is not None:
        linear = np.minimum(linear * gains, 1.0)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE  # (..., 3), relative to white
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def lightness(image: Image.Image | np.ndarray, box: Sequence[float] | None = None) -> np.ndarray:
    """L* (0-100) of each pixel of the photo's thumbnail, or of a box in it (fractions x0, y0, x1, y1)."""
    return srgb_to_lab(np.asarray(crop(image, box)))[..., 0]


def term(lab: np.ndarray) -> np.ndarray:
    """The basic colour term (an index into TERMS) of each CIELAB value (..., 3)."""
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a)) % 360
    names = np.full(L.shape, TERMS.index("blue"))
    for t, lo, hi in (("pink", 345, 360), ("red", 0, 45), ("orange", 45, 80), ("yellow", 80, 105),
                      ("green", 105, 190), ("blue", 190, 312), ("purple", 312, 345)):
        names = np.where((hue >= lo) & (hue < hi), TERMS.index(t), names)
    idx = TERMS.index
    warm = (hue >= 20) & (hue < 100)  # red-orange to yellow: brown when dark
    names = np.where(warm & (L < 45 + 0.25 * (hue - 20)) & (chroma < 60), idx("brown"), names)
    names = np.where(warm & (L >= 55) & (L < 78) & (chroma < 30) & (hue < 80), idx("brown"), names)  # tan
    redish = (hue >= 345) | (hue < 40)
    names = np.where(redish & (L >= 62) & (chroma < 70), idx("pink"), names)  # light, soft reds are pink
    names = np.where((hue >= 345) & (L < 45) & (chroma >= 30), idx("red"), names)  # crimson
    names = np.where((names == idx("purple")) & (L >= 70) & (hue >= 320), idx("pink"), names)  # light magenta
    grey = chroma < 10 + 0.1 * np.abs(L - 50)  # near-neutral: more tolerance near black and white
    achromatic = np.where(L < BLACK_BELOW, idx("black"), np.where(L > WHITE_ABOVE, idx("white"), idx("grey")))
    return np.where(grey, achromatic, names)


def colours(image: Image.Image | np.ndarray, box: Sequence[float] | None = None, top: int = 3, *,
            constancy: bool = True) -> list[Colour]:
    """The dominant colours of a photo, or of a box in it (fractions x0, y0, x1, y1: the centre of the view,
    a detected object), most of the pixels first; each at least MIN_SHARE of them, the first always.
    constancy: name surfaces under the photo's light (white_gains), as people do; else the pixels as they are."""
    gains = white_gains(image) if constancy else None
    lab = srgb_to_lab(np.asarray(crop(image, box)).reshape(-1, 3), gains)  # (N, 3)
    names = term(lab)  # (N,)
    counts = np.bincount(names, minlength=len(TERMS))
    order = np.argsort(-counts, kind="stable")
    out = []
    for i in order[:top]:
        share = counts[i] / len(names)
        if out and share < MIN_SHARE:
            break
        out.append(Colour(TERMS[i], round(float(share), 3), _shade(TERMS[i], lab[names == i, 0])))
    return out


def _shade(name: str, lightness_values: np.ndarray) -> str:
    if name not in USUAL:
        return ""
    median = float(np.median(lightness_values))
    return "light" if median > USUAL[name] + LIGHTER else "dark" if median < USUAL[name] - DARKER else ""


def say_colours(found: Sequence[Colour]) -> str:
    """The colours as a sentence: "Mostly light blue, with white and grey."."""
    if not found:
        return "No colour to name."
    names = [c.name for c in found]
    first = ("Mostly " if found[0].share >= 0.5 else "") + names[0]
    rest = names[1:]
    if not rest:
        return f"{first[0].upper()}{first[1:]}."
    tail = rest[0] if len(rest) == 1 else ", ".join(rest[:-1]) + " and " + rest[-1]
    return f"{first[0].upper()}{first[1:]}, with {tail}."
