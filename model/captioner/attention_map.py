"""Pictures of attention: the photo, then one panel per word showing where the decoder looked."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..images import ImageLike, to_rgb_image

PANEL = 160  # pixels per panel side
LABEL = 22  # pixels under each panel for its word


def _heat(weights: np.ndarray) -> np.ndarray:
    """A (h, w) map scaled to [0, 1] as an RGB heat colour (dark blue -> red -> yellow), (h, w, 3) uint8."""
    x = weights - weights.min()
    x = x / x.max() if x.max() > 0 else x
    r = np.clip(3 * x, 0, 1)
    g = np.clip(3 * x - 1.5, 0, 1)
    b = np.clip(0.6 - 2 * x, 0, 1)
    return (np.stack([r, g, b], axis=-1) * 255).astype(np.uint8)


def render_attention(image: ImageLike, words: Sequence[str], attention: np.ndarray, columns: int = 5) -> Image.Image:
    """A grid: the photo, then a panel per word with its attention map (len(words), h, w) laid over it."""
    if len(words) != len(attention):
        raise ValueError(f"need one attention map per word, got {len(words)} words and {len(attention)} maps")
    photo = to_rgb_image(image).resize((PANEL, PANEL), Image.BILINEAR)
    panels = [("(photo)", photo)]
    for word, weights in zip(words, attention):
        heat = Image.fromarray(_heat(np.asarray(weights, dtype=np.float64))).resize((PANEL, PANEL), Image.BICUBIC)
        panels.append((word, Image.blend(photo, heat, 0.55)))
    columns = max(1, min(columns, len(panels)))
    rows = -(-len(panels) // columns)
    sheet = Image.new("RGB", (columns * PANEL, rows * (PANEL + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (word, panel) in enumerate(panels):
        x, y = (i % columns) * PANEL, (i // columns) * (PANEL + LABEL)
        sheet.paste(panel, (x, y))
        draw.text((x + 4, y + PANEL + 4), word, fill="black", font=font)
    return sheet
