"""Turning files and camera frames into RGB PIL images: the one place colour order is decided.

Every photo file goes through `load_image`, which is also the one guard against hostile files (issue 12):
whatever the file is, it returns an upright RGB image no bigger than `max_side`, or raises `ImageError`
with one line naming the file and why, and it never blocks on something that is not a regular file.
A file whose bytes are wanted as well (the index hashes them) is read once by `read_image_file`, with the same
checks, and decoded from those bytes by `load_image_bytes`, the same way to the same image or message.
"""

from __future__ import annotations

import io
import os
import sys
import warnings
from functools import lru_cache
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from .photo_files import MAX_FILE_BYTES as MAX_FILE_BYTES  # re-exported: model.images is where callers look
from .photo_files import FileChangedError as FileChangedError
from .photo_files import ImageError, check_size, open_regular_file, read_regular_file

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]

# The long side a photo is decoded to. The encoders need 224 px (260 for EfficientNet-Lite2) and reading
# text in a photo wants about 1600-2000 px, so 2048 loses nothing either needs, while a 10000 x 10000
# photo costs 12 MB of pixels instead of 300 MB (benchmarks/image_memory.py).
DEFAULT_MAX_SIDE = 2048
# Pillow's own decompression-bomb limit (2 x Image.MAX_IMAGE_PIXELS, about 179 megapixels) is what a file
# may claim; this is what may be decoded at full size. Pillow keeps RGB as 4 bytes a pixel, so 100
# megapixels (10000 x 10000) is 400 MB: with PyTorch and the model (~580 MB) a 10000 x 10000 PNG peaks just
# under 1 GB. A JPEG up to Pillow's limit is decoded at 1/2..1/8 scale (draft mode), far below this.
MAX_DECODED_PIXELS = 100_000_000

# Pillow's EXIF Orientation -> transposition, as in PIL.ImageOps.exif_transpose (applied after the photo
# has been reduced, which is cheaper than rotating the full-size one).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION = 0x0112
# ISO base-media "ftyp" brands of HEIF/HEIC stills (what iPhones write), which Pillow cannot read alone.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}

# Pillow's warnings about a file's content ("Corrupt EXIF data", "Palette images with Transparency expressed
# in bytes ...") printed two lines of Pillow's own source paths, without the photo's name, among the
# descriptions; the photo is read all the same, or refused with its one line. Set once, here: a
# catch_warnings around decoding is not safe on the index's decoding thread.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL(\.|$)")


def display_path(path: str | bytes | os.PathLike) -> str:
    """A file name safe to print on one line: undecodable bytes and control characters backslash-escaped.

    A name that is not valid UTF-8 reaches Python with surrogate escapes, which raise UnicodeEncodeError
    when printed or stored; this shows the original bytes as `\\xff` instead.
    """
    try:
        raw = os.fsencode(path)
    except (TypeError, UnicodeError):
        return ascii(path)
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in text)


def load_image(path: str | os.PathLike, max_side: int | None = DEFAULT_MAX_SIDE) -> Image.Image:
    """Read a photo file as an upright RGB image whose long side is at most max_side (None: full size).

    Raises ImageError("NAME: reason") for anything that is not a readable photo, never another exception.
    """
    _check_max_side(max_side)
    name = display_path(path)
    try:
        fd = open_regular_file(path)
    except ImageError as exc:
        raise ImageError(f"{name}: {exc}") from None
    with os.fdopen(fd, "rb") as f:
        return _decode_named(f, name, max_side)


def read_image_file(path: str | os.PathLike, *, follow_links: bool = True) -> bytes:
    """A photo file's bytes, read once, after the checks load_image makes (a regular file, neither empty nor
    over MAX_FILE_BYTES, opened without blocking); follow_links=False refuses a symbolic link as well.

    Raises ImageError("NAME: reason"), or FileChangedError where the file changed while being read: the bytes
    returned are one version of the file, to be hashed and decoded (load_image_bytes) as they are.
    """
    try:
        return read_regular_file(path, follow_links)
    except ImageError as exc:  # FileChangedError stays one
        raise type(exc)(f"{display_path(path)}: {exc}") from None


def load_image_bytes(data: bytes, name: str | os.PathLike, max_side: int | None = DEFAULT_MAX_SIDE) -> Image.Image:
    """A photo file's bytes as load_image reads the file: the same image, or the same ImageError("NAME: reason"),
    name being the file's."""
    _check_max_side(max_side)
    shown = display_path(name)
    try:
        check_size(len(data))
    except ImageError as exc:
        raise ImageError(f"{shown}: {exc}") from None
    return _decode_named(io.BytesIO(data), shown, max_side)


def _check_max_side(max_side: int | None) -> None:
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels or None, got {max_side!r}")


def _decode_named(f, name: str, max_side: int | None) -> Image.Image:
    """_decode of an open file or buffer, every failure an ImageError("NAME: reason")."""
    try:
        try:
            return _decode(f, max_side)
        except UnidentifiedImageError:
            if not _heif_plugin_registered(f):
                raise
            f.seek(0)
            return _decode(f, max_side)  # a HEIC photo, now that pillow-heif is registered
    except ImageError as exc:
        raise ImageError(f"{name}: {exc}") from None
    except MemoryError:
        raise ImageError(f"{name}: image too large (out of memory decoding it)") from None
    except UnidentifiedImageError:
        reason = "not an image file"
        if _is_heif(f):
            heif = sys.modules.get("pillow_heif") is not None  # imported (None: known to be missing)
            reason = "damaged HEIC photo" if heif else "HEIC photos need the package pillow-heif"
        raise ImageError(f"{name}: {reason}") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: image too large ({_claimed_size(f)} pixels)") from None
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError, EOFError) as exc:
        # Truncated or corrupt data; Pillow's plugins raise all of these. The message may repeat the
        # file name, so it is made printable too.
        raise ImageError(f"{name}: damaged image ({display_path(str(exc))})") from None


def _decode(f, max_side: int | None) -> Image.Image:
    """Decode an open file to an upright RGB image, reduced while decoding where the format allows."""
    with warnings.catch_warnings():
        # Pillow warns above ~89 megapixels; MAX_DECODED_PIXELS below is the limit that applies here, since
        # a JPEG is decoded at reduced size. (Its hard limit, DecompressionBombError, still applies.)
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = Image.open(f)
    with img:
        orientation = _orientation(img)
        w, h = img.size
        if max_side is not None and max(w, h) > max_side:
            # JPEG (and MPO, what phones write) draft mode decodes at 1/2, 1/4 or 1/8 scale straight from
            # the DCT coefficients: the full-size pixels never exist. Ask for the scale that keeps the long
            # side >= max_side. Other formats ignore draft and are reduced after decoding.
            scale = max_side / max(w, h)
            img.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
        if img.size[0] * img.size[1] > MAX_DECODED_PIXELS:
            raise ImageError(f"image too large ({w} x {h} pixels)")
        img.load()  # decode now: truncated files fail here, not later in a worker
        out = img if img.mode in ("RGB", "RGBA", "L", "LA") else _eight_bit(img)
        if max_side is not None and max(out.size) > max_side:
            # Box-average by the whole factor first (cheap, and its output is small: 10000 -> 2500 px), then
            # resample to the exact size. (resize's own reducing_gap=2 would keep a 5000 px copy: +100 MB.)
            factor = max(out.size) // max_side
            if factor >= 2:
                out = out.reduce(factor)
            scale = max_side / max(out.size)
            size = (max(1, round(out.width * scale)), max(1, round(out.height * scale)))
            out = out.resize(size, Image.Resampling.LANCZOS)
        out = out.convert("RGB")  # a copy even when already RGB, so the file can be closed
    if orientation in _ORIENTATION:
        out = out.transpose(_ORIENTATION[orientation])
    return out


# Modes whose samples are not 0-255: 16-bit grey (PNG, TIFF), 32-bit integer and 32-bit float (TIFF).
_WIDE_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})


def _eight_bit(img: Image.Image) -> Image.Image:
    """An RGB (or 8-bit grey) image by the picture's real sample format: 16-bit samples divided by 257,
    floats in 0..1 times 255, so that a 16-bit or float copy of a photo is seen as the 8-bit photo (issue 27:
    Pillow's own conversion clips 16-bit values to white and floats in 0..1 to black). Palette, CMYK and the
    other 8-bit modes go through Pillow's conversion."""
    if img.mode not in _WIDE_MODES:
        return img.convert("RGB")
    a = np.asarray(img, dtype=np.float64)  # (H, W)
    a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(a.min()), float(a.max())
    if img.mode == "F" and lo >= 0 and hi <= 1:
        a = a * 255
    elif img.mode.startswith("I;16") or (lo >= 0 and 255 < hi <= 65535):
        a = a / 257
    elif lo < 0 or hi > 255:  # 32-bit samples of no known range: stretched to what they hold
        a = (a - lo) * (255 / (hi - lo)) if hi > lo else np.zeros_like(a)
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), mode="L")


def _orientation(img: Image.Image) -> int:
    """The EXIF Orientation tag (1..8), or 1 when there is none or the EXIF block is unreadable."""
    try:
        return int(img.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a corrupt EXIF block must not lose the photo: Pillow raises many kinds here
        return 1


def _is_heif(f) -> bool:
    """Whether the file starts like a HEIF/HEIC photo (an ISO base-media "ftyp" box with a HEIF brand)."""
    try:
        f.seek(0)
        head = f.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def _heif_plugin_registered(f) -> bool:
    """For a HEIC file, register the optional pillow-heif plug-in with Pillow; False when not HEIC or absent."""
    if not _is_heif(f):
        return False
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()  # idempotent, and only ever reached for HEIC files
    return True


def _claimed_size(f) -> str:
    """'W x H' as the file's header claims it, read without decoding (for the bomb message)."""
    try:
        f.seek(0)
        prefix = f.read(16)
    except OSError:
        prefix = b""
    for fmt in list(Image.ID) if prefix else []:
        try:
            factory, accept = Image.OPEN[fmt]
            if accept is not None and accept(prefix) is True:
                f.seek(0)
                w, h = factory(f, "").size  # the plug-in reads the header only, skipping Image.open's check
                return f"{w} x {h}"
        except Exception:  # only a message is at stake
            continue
    return f"over {2 * (Image.MAX_IMAGE_PIXELS or 0)}"


def from_bgr_frame(frame: np.ndarray) -> np.ndarray:
    """An OpenCV frame (H, W, 3) in BGR order, as an RGB array (H, W, 3) uint8; (H, W) grey and (H, W, 4)
    BGRA also do.

    OpenCV delivers BGR; the networks were trained on RGB. Feeding BGR gives plausible but wrong
    captions, so every camera path goes through this one function. It is the frame's one conversion: the
    describer makes its picture of the array as it is (`to_rgb_image`), and the model's input of that.
    """
    return _rgb_array(frame, bgr=True)


def to_rgb_image(image: ImageLike) -> Image.Image:
    """A path, PIL image or RGB array (H, W, 3) as an RGB PIL image; (H, W) grey and (H, W, 4) RGBA also do."""
    if isinstance(image, Image.Image):
        if image.width == 0 or image.height == 0:
            raise ImageError(f"expected a non-empty image, got size {image.size}")
        return _eight_bit(image).convert("RGB") if image.mode in _WIDE_MODES else image.convert("RGB")
    if isinstance(image, np.ndarray):
        return Image.fromarray(_rgb_array(image, bgr=False))
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    raise ImageError(f"expected a path, PIL image or RGB array, got {type(image).__name__}")


def grey_thumbnail(picture: Image.Image | np.ndarray) -> np.ndarray:
    """The one 32 x 32 grey thumbnail (32, 32) float32 of a picture or an RGB array (H, W, 3) uint8: what
    `tone` measures and what live description compares frames by."""
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(picture)
    return np.asarray(picture.convert("L").resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32)


def tone(picture: Image.Image | np.ndarray) -> tuple[float, float]:
    """(mean, standard deviation) of a picture's grey levels, 0-255, over its grey thumbnail: how bright it
    is, and how much there is to see (a covered lens or a blank wall has almost no spread)."""
    grey = grey_thumbnail(picture)
    return float(grey.mean()), float(grey.std())


def model_input(image: ImageLike, side: int, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """One photo as an encoder takes it: (3, side, side) float32, scaled to [0, 1], less mean, over std.

    The photo is squashed to side x side rather than cropped, so nothing at the edges is cut away (the
    Flickr8k training images were squashed the same way). NumPy only, so that both engines share it to the
    last bit: the PyTorch encoder wraps this array, the ONNX Runtime engine feeds it as it is.
    """
    pixels = np.asarray(to_rgb_image(image).resize((side, side), Image.BILINEAR))  # (S, S, 3) uint8
    table = _input_table(tuple(mean), tuple(std))  # (3, 256)
    out = np.empty((3, side, side), dtype=np.float32)
    for c in range(3):
        np.take(table[c], pixels[:, :, c], out=out[c])
    return out


@lru_cache(maxsize=4)
def _input_table(mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """Each channel's 256 possible values as model_input gives them, (3, 256) float32: the arithmetic done
    once per value rather than once per pixel (the same float32 steps, so the same bits)."""
    levels = np.arange(256, dtype=np.float32)[None] / np.float32(255.0)  # (1, 256) in [0, 1]
    m = np.asarray(mean, dtype=np.float32).reshape(3, 1)
    s = np.asarray(std, dtype=np.float32).reshape(3, 1)
    return (levels - m) / s


def _rgb_array(a: np.ndarray, bgr: bool) -> np.ndarray:
    """A contiguous uint8 (H, W, 3) RGB copy of a grey, colour or colour+alpha pixel array.

    Converted only where the meaning is clear: uint8; bool; uint16 (scaled down); other integers already
    in 0..255; floats in 0..1 (scaled up) or 0..255. Anything else is an ImageError naming what it got.
    """
    order = "BGR" if bgr else "RGB"
    if not isinstance(a, np.ndarray):
        raise ImageError(f"expected an (H, W, 3) {order} array, got {type(a).__name__}")
    what = f"{a.dtype} array of shape {a.shape}"
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ImageError(f"expected an (H, W, 3) {order} array (or (H, W) grey, (H, W, 4) with alpha), got {what}")
    if a.size == 0:
        raise ImageError(f"expected a non-empty image array, got {what}")
    a = _to_uint8(a, what)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)  # (H, W, 3)
    a = a[:, :, 2::-1] if bgr else a[:, :, :3]  # (H, W, 3) RGB; the alpha channel is dropped
    return np.ascontiguousarray(a)


def _to_uint8(a: np.ndarray, what: str) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype == np.uint16:
        return (a.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        if a.min() >= 0 and a.max() <= 255:
            return a.astype(np.uint8)
        raise ImageError(f"expected integer pixel values in 0..255, got {what} with values {a.min()}..{a.max()}")
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageError(f"expected finite pixel values, got {what} with NaN or infinity")
        lo, hi = float(a.min()), float(a.max())
        if lo >= 0 and hi <= 1:
            return np.rint(a * 255).astype(np.uint8)
        if lo >= 0 and hi <= 255:
            return np.rint(a).astype(np.uint8)
        raise ImageError(f"expected float pixel values in 0..1 or 0..255, got {what} with values {lo:g}..{hi:g}")
    raise ImageError(f"expected a numeric pixel array, got {what}")
