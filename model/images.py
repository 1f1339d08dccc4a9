"""Turning files and camera frames into RGB PIL images: the one place colour order is decided."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]


class ImageError(ValueError):
    """A file or array that cannot be read as a photo."""


def load_image(path: str | os.PathLike) -> Image.Image:
    """Read a photo file fully into memory as RGB, raising ImageError with the reason."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()  # decode now: truncated files fail here, not later in a worker
            return img.convert("RGB")
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise ImageError(f"{path}: damaged image ({exc})") from None


def from_bgr_frame(frame: np.ndarray) -> Image.Image:
    """An OpenCV frame (H, W, 3) in BGR order, as an RGB image.

    OpenCV delivers BGR; the networks were trained on RGB. Feeding BGR gives plausible but wrong
    captions, so every camera path goes through this one function.
    """
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        raise ImageError(f"expected an (H, W, 3) BGR frame, got {getattr(frame, 'shape', type(frame))!r}")
    return Image.fromarray(np.ascontiguousarray(frame[:, :, ::-1]))


def to_rgb_image(image: ImageLike) -> Image.Image:
    """A path, PIL image or RGB uint8 array (H, W, 3) as an RGB PIL image."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ImageError(f"expected an RGB uint8 array (H, W, 3), got {image.dtype} {image.shape}")
        return Image.fromarray(image)
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    raise ImageError(f"expected a path, PIL image or RGB array, got {type(image).__name__}")
