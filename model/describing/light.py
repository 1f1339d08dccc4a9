"""How much light there is in view, in words and as a tone (issue 30).

    light_level(image)   # Light(word="dim", lightness=24.3)
    tone(24.3)           # int16 samples of a short beep whose pitch rises with the lightness

The measure is the mean CIE lightness L* (0 black to 100 white, perceptually even steps) of a 64 x 64
thumbnail. Lightness only grows when the light does (each pixel's value rises or stays with exposure), so
the words follow the light in order. The words' limits are lightness values a sighted person would name so:
below 12, where little but lamps shows, "dark"; below 30, "dim"; below 65, "bright"; above, "very bright",
where most of the view is near white (a window, a lamp up close, snow in sun).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .colour import lightness, linear_rgb

LEVELS: tuple[tuple[float, str], ...] = ((12.0, "dark"), (30.0, "dim"), (65.0, "bright"), (101.0, "very bright"))
LOW_HZ, OCTAVES = 220.0, 3.0  # black is 220 Hz, white three octaves higher (1,760 Hz)
RATE = 22_050  # samples a second of the tone


@dataclass(frozen=True)
class Light:
    """The light level of a view: its word and the mean lightness L* (0-100) it comes from."""

    word: str
    lightness: float

    @property
    def said(self) -> str:
        """The level as a sentence."""
        return f"The light is {self.word}."


def light_level(image: Image.Image | np.ndarray, box: Sequence[float] | None = None) -> Light:
    """The light level of a photo, or of a box in it (fractions x0, y0, x1, y1)."""
    value = float(lightness(image, box).mean())
    word = next(w for limit, w in LEVELS if value < limit)
    return Light(word, value)


def exposed(image: Image.Image, factor: float) -> Image.Image:
    """The photo as if exposed factor times as long: its linear light scaled and clipped, as a camera's
    sensor does, then encoded as sRGB again."""
    linear = linear_rgb(np.asarray(image.convert("RGB"))) * factor  # (H, W, 3)
    linear = np.clip(linear, 0.0, 1.0)
    out = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return Image.fromarray(np.round(out * 255).astype(np.uint8))


def pitch(lightness_value: float) -> float:
    """The tone's frequency in Hz for a lightness 0-100: even steps of lightness are even musical steps."""
    return LOW_HZ * 2.0 ** (OCTAVES * float(np.clip(lightness_value, 0.0, 100.0)) / 100.0)


def tone(lightness_value: float, seconds: float = 0.15, volume: float = 0.5) -> np.ndarray:
    """A short sine beep at pitch(lightness) as int16 samples at RATE, faded in and out (no clicks)."""
    t = np.arange(int(RATE * seconds)) / RATE  # (N,)
    wave = np.sin(2 * np.pi * pitch(lightness_value) * t)
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)  # 10 ms ramps
    return (wave * fade * volume * 32767).astype(np.int16)
