"""Reading photo files and frames: every hostile input becomes one clear ImageError, quickly (issue 12).

Files are real files under tmp_path; anything that could block (a FIFO, a device) runs in a thread that
is given a deadline, so a regression fails the test instead of hanging the suite.
"""

import io
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.images import (
    MAX_DECODED_PIXELS,
    MAX_FILE_BYTES,
    FileChangedError,
    ImageError,
    from_bgr_frame,
    load_image,
    load_image_bytes,
    read_image_file,
    to_rgb_image,
)

FLICKR = Path(os.environ.get("SEESAY_DATA", Path(__file__).parents[2] / "shared" / "data")) / "flickr8k" / "images"
REPO = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A real photo (a Flickr8k one when the data is here), upright, as RGB."""
    files = sorted(FLICKR.glob("*.jpg"))[:1] if FLICKR.is_dir() else []
    if files:
        return Image.open(files[0]).convert("RGB")
    rng = np.random.default_rng(0)  # smooth colour blobs: compresses and rotates like a photo
    small = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((320, 240), Image.BICUBIC)


@pytest.fixture()
def jpeg(tmp_path, photo) -> Path:
    path = tmp_path / "photo.jpg"
    photo.save(path, quality=95)
    return path


def message(path, timeout: float = 20.0, **kwargs) -> str:
    """load_image's ImageError message for path, failing (not hanging) if it takes longer than timeout."""
    result: dict = {}

    def target():
        try:
            result["image"] = load_image(path, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported below, whatever it is
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"load_image({path!r}) still running after {timeout} s")
    assert "image" not in result, f"expected an ImageError, got an image of size {result['image'].size}"
    assert isinstance(result["error"], ImageError), f"expected ImageError, got {result['error']!r}"
    text = str(result["error"])
    assert "\n" not in text
    text.encode("utf-8")  # printable and storable as it is: no surrogates
    return text


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height (8-bit grey) but holds one empty row: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


# --- files that are photos ------------------------------------------------------------------------------


def test_a_photo_loads_as_rgb_at_its_own_size(jpeg, photo):
    image = load_image(jpeg)
    assert image.mode == "RGB" and image.size == photo.size


def test_a_big_jpeg_is_decoded_at_reduced_size_with_its_long_side_at_max_side(tmp_path, photo):
    path = tmp_path / "big.jpg"
    photo.resize((6000, 4000)).save(path, quality=85)
    assert load_image(path).size == (2048, 1365)
    assert load_image(path, max_side=260).size == (260, 173)
    assert load_image(path, max_side=None).size == (6000, 4000)


def test_a_big_png_is_reduced_after_decoding(tmp_path, photo):
    path = tmp_path / "big.png"
    photo.resize((1000, 3000)).save(path, compress_level=1)
    image = load_image(path, max_side=600)
    assert image.size == (200, 600) and image.mode == "RGB"


def test_a_reduced_photo_still_looks_like_the_photo(tmp_path, photo):
    path = tmp_path / "big.jpg"
    photo.resize((photo.width * 10, photo.height * 10), Image.BICUBIC).save(path, quality=90)
    small = np.asarray(load_image(path, max_side=max(photo.size)), dtype=np.float32)
    assert small.shape[:2] == (photo.height, photo.width)
    assert np.abs(small - np.asarray(photo, dtype=np.float32)).mean() < 6


@pytest.mark.parametrize("orientation, stored_as", [
    (3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270),
    (2, Image.Transpose.FLIP_LEFT_RIGHT),
])
def test_a_photo_stored_sideways_with_an_exif_orientation_loads_upright(tmp_path, photo, orientation, stored_as):
    upright = photo.crop((0, 0, photo.width, photo.height * 2 // 3))  # not square: the sides must swap back
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"phone-{orientation}.jpg"
    upright.transpose(stored_as).save(path, quality=95, exif=exif)
    loaded = load_image(path)
    assert loaded.size == upright.size
    diff = np.abs(np.asarray(loaded, dtype=np.float32) - np.asarray(upright, dtype=np.float32)).mean()
    assert diff < 4  # JPEG noise; the sideways pixels differ by tens
    stored = np.asarray(Image.open(path).convert("RGB").transpose(stored_as).transpose(stored_as), np.float32)
    if stored.shape == np.asarray(upright).shape and orientation != 3:  # the test can tell the difference
        assert np.abs(stored - np.asarray(upright, dtype=np.float32)).mean() > diff


def test_a_name_that_is_not_utf8_loads_and_is_shown_with_escapes(tmp_path, photo):
    raw = os.fsencode(tmp_path) + b"/caf\xe9.jpg"  # Latin-1, as an old camera card might have it
    photo.save(raw.decode("latin-1").encode("latin-1"), format="JPEG")
    name = os.fsdecode(raw)  # what os.listdir gives: a str with a surrogate escape
    assert load_image(name).size == photo.size
    with open(raw, "r+b") as f:
        f.truncate(300)
    text = message(name)
    assert "caf\\xe9.jpg: damaged image (" in text


# --- files that are not photos ------------------------------------------------------------------------


def test_a_missing_file_is_named_as_missing(tmp_path):
    assert message(tmp_path / "gone.jpg") == f"{tmp_path}/gone.jpg: no such file"


def test_a_directory_is_named_as_one(tmp_path):
    (tmp_path / "album.jpg").mkdir()
    assert message(tmp_path / "album.jpg").endswith("album.jpg: is a directory")


def test_a_symlink_loop_is_named_as_one(tmp_path):
    (tmp_path / "a.jpg").symlink_to(tmp_path / "b.jpg")
    (tmp_path / "b.jpg").symlink_to(tmp_path / "a.jpg")
    assert message(tmp_path / "a.jpg").endswith("a.jpg: symbolic link loop")


def test_a_broken_symlink_is_named_as_one(tmp_path):
    (tmp_path / "link.jpg").symlink_to(tmp_path / "nowhere.jpg")
    assert message(tmp_path / "link.jpg").endswith("link.jpg: broken symbolic link")


def test_a_fifo_named_like_a_photo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)
    try:
        assert message(fifo, timeout=10).endswith("x.jpg: not a regular file (a named pipe)")
    finally:  # if load_image did block in open(), give it a writer so its thread can end
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK) if _has_reader(fifo) else None
        if fd is not None:
            os.close(fd)


def _has_reader(fifo: Path) -> bool:
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        return True
    except OSError:  # ENXIO: nobody has it open for reading
        return False


def test_a_socket_named_like_a_photo_is_refused(tmp_path):
    path = tmp_path / "s.jpg"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        assert message(path).endswith("s.jpg: not a regular file (a socket)")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_a_device_named_like_a_photo_is_refused(tmp_path, device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    (tmp_path / "photo.jpg").symlink_to(device)
    assert message(tmp_path / "photo.jpg", timeout=10).endswith("photo.jpg: not a regular file (a device)")


def test_stdin_is_refused_when_it_is_a_pipe():
    code = ("from model.images import ImageError, load_image\ntry:\n    load_image('/dev/stdin')\n"
            "except ImageError as e:\n    print(e)")
    run = subprocess.run([sys.executable, "-c", code], check=False, stdin=subprocess.PIPE, capture_output=True,
                         text=True, timeout=120, cwd=REPO)
    assert run.stdout.strip() == "/dev/stdin: not a regular file (a named pipe)", run.stderr


def test_an_unreadable_file_says_permission_denied(tmp_path, jpeg):
    if os.geteuid() != 0:
        jpeg.chmod(0)
        assert message(jpeg).endswith("photo.jpg: permission denied")
        return
    # Root reads any file whatever its mode, so a child process drops to "nobody" before trying: first on
    # the readable file (it loads: the check can tell the difference), then on the same file made unreadable.
    folder = Path(tempfile.mkdtemp(prefix="seesay-perm-"))
    try:
        folder.chmod(0o755)
        path = folder / "photo.jpg"
        path.write_bytes(jpeg.read_bytes())
        path.chmod(0o644)
        assert _load_as_nobody(path) == "ok"
        path.chmod(0o000)
        assert _load_as_nobody(path) == f"{path}: permission denied"
    finally:
        path.unlink(missing_ok=True)
        folder.rmdir()


def _load_as_nobody(path: Path) -> str:
    # Everything is imported first: "nobody" may not be able to read the Python installation (under /root).
    code = ("import os, sys\nfrom PIL import Image\nfrom model.images import ImageError, load_image\n"
            "Image.init()\nos.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
            "try:\n    load_image(sys.argv[1]); print('ok')\nexcept ImageError as e:\n    print(e)")
    run = subprocess.run([sys.executable, "-c", code, str(path)], check=False, capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_an_empty_file_is_named_as_empty(tmp_path):
    (tmp_path / "empty.jpg").touch()
    assert message(tmp_path / "empty.jpg").endswith("empty.jpg: empty file")


def test_a_text_file_is_not_an_image(tmp_path):
    (tmp_path / "notes.jpg").write_text("shopping list: milk, bread\n")
    assert message(tmp_path / "notes.jpg").endswith("notes.jpg: not an image file")


def test_a_truncated_jpeg_is_a_damaged_image(tmp_path, jpeg):
    (tmp_path / "cut.jpg").write_bytes(jpeg.read_bytes()[:2000])
    assert "cut.jpg: damaged image (" in message(tmp_path / "cut.jpg")


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.jpg"
    with open(path, "wb") as f:  # sparse: takes no disk
        f.write(b"\xff\xd8\xff")
        f.truncate(MAX_FILE_BYTES + 1)
    assert message(path, timeout=5).endswith("huge.jpg: file too large (200 MB; the limit is 200 MB)")


def test_a_decompression_bomb_is_refused_with_its_size(tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_header(30000, 30000))  # beyond Pillow's own limit
    assert message(tmp_path / "bomb.png", timeout=5).endswith("bomb.png: image too large (30000 x 30000 pixels)")


def test_an_image_too_big_to_decode_whole_is_refused_before_decoding(tmp_path):
    side = int(MAX_DECODED_PIXELS ** 0.5) + 1  # under Pillow's limit, over what load_image decodes whole
    (tmp_path / "wide.png").write_bytes(png_header(side, side))
    assert message(tmp_path / "wide.png", timeout=5).endswith(f"wide.png: image too large ({side} x {side} pixels)")


def test_a_heic_photo_without_pillow_heif_says_which_package_it_needs(tmp_path):
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(200))
    code = ("import sys\nsys.modules['pillow_heif'] = None  # as on a machine without the package\n"
            "from model.images import ImageError, load_image\n"
            "try:\n    load_image(sys.argv[1])\nexcept ImageError as e:\n    print(e)")
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120,
                         cwd=REPO)
    assert run.stdout.strip().endswith("IMG_0001.HEIC: HEIC photos need the package pillow-heif"), run.stderr


def test_a_heic_photo_is_read_when_pillow_heif_is_installed(tmp_path, photo):
    import pillow_heif  # a test dependency, so that HEIC reading is always tested

    path = tmp_path / "IMG_0001.HEIC"
    pillow_heif.from_pillow(photo).save(path, quality=90)
    assert load_image(path).size == photo.size


def test_a_name_with_a_newline_gives_a_one_line_message(tmp_path):
    assert message(tmp_path / "two\nlines.jpg").endswith("two\\nlines.jpg: no such file")


def test_corrupted_photos_give_only_image_errors(tmp_path, photo):
    """Truncations and flipped bytes of a real JPEG and PNG: each loads or gives an ImageError, never more."""
    rng = np.random.default_rng(12)
    for fmt in ("JPEG", "PNG"):
        buf = io.BytesIO()
        photo.save(buf, format=fmt)
        data = buf.getvalue()
        for i in range(40):
            bad = bytearray(data[: rng.integers(8, len(data))] if i % 2 else data)
            for pos in rng.integers(0, len(bad), 1 + i % 8):
                bad[pos] = rng.integers(0, 256)
            path = tmp_path / f"bad{i}.{fmt.lower()}"
            path.write_bytes(bytes(bad))
            try:
                load_image(path)
            except ImageError as exc:
                assert str(exc).startswith(str(path) + ": ") and "\n" not in str(exc)


# --- a file's bytes, read once --------------------------------------------------------------------------


def _photo_files(folder: Path, photo: Image.Image) -> list[Path]:
    """Photo files whose decoding takes each of load_image's paths, and files it refuses for their content."""
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.transpose(Image.Transpose.ROTATE_90).save(folder / "sideways.jpg", quality=95, exif=exif)
    photo.resize((4000, 3000)).save(folder / "big.jpg", quality=90)  # draft mode, then resampled
    Image.fromarray((np.asarray(photo.convert("L"), np.uint16) * 257)).save(folder / "grey16.png")
    photo.convert("P").save(folder / "palette.png")
    (folder / "cut.jpg").write_bytes((folder / "sideways.jpg").read_bytes()[:2000])
    (folder / "notes.jpg").write_text("shopping list: milk, bread\n")
    (folder / "bomb.png").write_bytes(png_header(30000, 30000))
    return sorted(folder.iterdir())


@pytest.mark.timeout(120)
def test_a_photos_bytes_decode_to_the_image_or_the_message_that_the_file_does(tmp_path, photo):
    import pillow_heif

    pillow_heif.from_pillow(photo).save(tmp_path / "IMG_0001.HEIC", quality=90)
    for path in _photo_files(tmp_path, photo):
        for max_side in (2048, 260, None):
            try:
                expected = load_image(path, max_side=max_side)
            except ImageError as exc:
                with pytest.raises(ImageError) as raised:
                    load_image_bytes(read_image_file(path), path, max_side=max_side)
                assert str(raised.value) == str(exc), path
                continue
            got = load_image_bytes(read_image_file(path), path, max_side=max_side)
            assert got.mode == "RGB" and got.size == expected.size, path
            assert np.array_equal(np.asarray(got), np.asarray(expected)), path
    assert load_image(tmp_path / "sideways.jpg").size == photo.size  # upright: the orientation was applied


@pytest.mark.timeout(60)
def test_reading_a_photos_bytes_refuses_what_load_image_refuses_without_blocking(tmp_path, jpeg):
    os.mkfifo(tmp_path / "fifo.jpg")
    (tmp_path / "empty.jpg").touch()
    (tmp_path / "album.jpg").mkdir()
    (tmp_path / "link.jpg").symlink_to(jpeg)
    with open(tmp_path / "huge.jpg", "wb") as f:  # sparse: takes no disk
        f.truncate(MAX_FILE_BYTES + 1)
    for name in ("fifo.jpg", "empty.jpg", "album.jpg", "huge.jpg", "gone.jpg"):
        with pytest.raises(ImageError) as raised:
            read_image_file(tmp_path / name)
        assert str(raised.value) == message(tmp_path / name, timeout=10)
    assert read_image_file(tmp_path / "link.jpg") == jpeg.read_bytes()
    with pytest.raises(ImageError, match=r"link\.jpg: symbolic link, not followed$"):
        read_image_file(tmp_path / "link.jpg", follow_links=False)
    with pytest.raises(ImageError, match=r"empty\.jpg: empty file$"):
        load_image_bytes(b"", tmp_path / "empty.jpg")


@pytest.mark.timeout(60)
def test_a_file_that_grows_while_its_bytes_are_read_is_refused_as_changed(tmp_path, jpeg, monkeypatch):
    fstat, written = os.fstat, []

    def meanwhile(fd):  # another program appends to the photo once part of it has been read
        if os.lseek(fd, 0, os.SEEK_CUR) > 0 and os.path.samestat(fstat(fd), os.stat(jpeg)) and not written:
            written.append(True)
            with open(jpeg, "ab") as f:
                f.write(b"more")
        return fstat(fd)

    monkeypatch.setattr(os, "fstat", meanwhile)
    with pytest.raises(FileChangedError, match=r"photo\.jpg: changed while being read$"):
        read_image_file(jpeg)
    assert written and read_image_file(jpeg).endswith(b"more")  # read whole once it is left alone


# --- arrays and frames ----------------------------------------------------------------------------------


def test_a_bgr_frame_becomes_rgb():
    frame = np.zeros((4, 5, 3), np.uint8)
    frame[..., 0] = 200  # blue, in OpenCV's order
    assert np.asarray(from_bgr_frame(frame))[0, 0].tolist() == [0, 0, 200]


def test_grey_and_bgra_frames_convert():
    grey = np.full((4, 5), 7, np.uint8)
    assert np.asarray(from_bgr_frame(grey))[0, 0].tolist() == [7, 7, 7]
    assert np.asarray(from_bgr_frame(grey[..., None])).shape == (4, 5, 3)
    bgra = np.zeros((4, 5, 4), np.uint8)
    bgra[..., 2], bgra[..., 3] = 90, 255
    assert np.asarray(from_bgr_frame(bgra))[0, 0].tolist() == [90, 0, 0]


def test_rgba_float_and_16_bit_arrays_convert():
    rgba = np.zeros((3, 3, 4), np.uint8)
    rgba[..., 0] = 50
    assert np.asarray(to_rgb_image(rgba))[0, 0].tolist() == [50, 0, 0]
    assert np.asarray(to_rgb_image(np.full((2, 2, 3), 1.0)))[0, 0].tolist() == [255, 255, 255]
    assert np.asarray(to_rgb_image(np.full((2, 2, 3), 128.0, np.float32)))[0, 0].tolist() == [128] * 3
    assert np.asarray(to_rgb_image(np.full((2, 2, 3), 65535, np.uint16)))[0, 0].tolist() == [255] * 3
    assert np.asarray(to_rgb_image(np.full((2, 2), True)))[0, 0].tolist() == [255] * 3
    assert np.asarray(to_rgb_image(np.full((2, 2, 3), 9, np.int64)))[0, 0].tolist() == [9] * 3


@pytest.mark.parametrize("array, says", [
    (np.zeros((0, 5, 3), np.uint8), "non-empty"),
    (np.zeros((4, 5, 5), np.uint8), "(H, W, 3)"),
    (np.zeros((2, 4, 5, 3), np.uint8), "(H, W, 3)"),
    (np.zeros(5, np.uint8), "(H, W, 3)"),
    (np.full((2, 2, 3), np.nan), "finite"),
    (np.full((2, 2, 3), -3.0), "0..1 or 0..255"),
    (np.full((2, 2, 3), 300, np.int32), "0..255"),
    (np.full((2, 2, 3), "x"), "numeric"),
])
def test_arrays_without_a_clear_meaning_are_image_errors(array, says):
    for convert in (from_bgr_frame, to_rgb_image):
        with pytest.raises(ImageError, match=rf"{says.replace('(', '[(]').replace(')', '[)]')}"):
            convert(array)


def test_things_that_are_not_images_are_image_errors():
    with pytest.raises(ImageError):
        from_bgr_frame([[1, 2, 3]])
    with pytest.raises(ImageError):
        to_rgb_image(42)
    with pytest.raises(ImageError, match="non-empty"):
        to_rgb_image(Image.new("RGB", (0, 3)))
