"""The text reader: rendered signs are read, text-free photos give no text, reading order, and quiet engines."""

from __future__ import annotations

import logging
import socket

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from model import ImageError
from model.describing.text_reader import (
    MIN_CONFIDENCE,
    Fragment,
    TextLine,
    TextReader,
    TextReaderConfig,
    reading_order,
    spoken_text,
)

from .conftest import FLICKR

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


@pytest.fixture(scope="session")
def reader():
    """One loaded reader for the whole session, network switched off while it loads and first reads."""
    real = socket.socket

    def no_network(*args, **kwargs):
        raise AssertionError("the text reader tried to open a socket")

    socket.socket = no_network
    try:
        r = TextReader().load()
        r.read(Image.new("RGB", (64, 64), "white"))
    finally:
        socket.socket = real
    return r


def draw_lines(size, items, font_path=FONT, font_size=40, bg="white", fg="black"):
    """An RGB image with each (x, y, text) drawn."""
    img = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(font_path, font_size)
    for x, y, text in items:
        draw.text((x, y), text, font=font, fill=fg)
    return img


def words(lines: list[TextLine]) -> list[str]:
    return " ".join(line.text for line in lines).upper().replace(",", " ").split()


def test_constructing_a_reader_imports_no_engine():
    import sys

    before = {"rapidocr", "onnxruntime"} & set(sys.modules)
    TextReader()
    assert {"rapidocr", "onnxruntime"} & set(sys.modules) == before


def test_a_rendered_sign_is_read_with_the_right_words(reader):
    sign = draw_lines((900, 360), [(60, 60, "EMERGENCY EXIT"), (60, 200, "KEEP CLEAR")], BOLD, 80,
                      bg=(0, 122, 61), fg="white")
    lines = reader.read(sign)
    assert [line.text for line in lines] == ["EMERGENCY EXIT", "KEEP CLEAR"]
    assert all(MIN_CONFIDENCE <= line.confidence <= 1 for line in lines)
    x0, y0, x1, y1 = lines[0].box
    assert 20 < x0 < 100 and 40 < y0 < 100 and x1 > 600 and y1 < 200  # in the input's pixel coordinates


def test_a_sign_as_an_rgb_array_is_read_like_the_image(reader):
    sign = draw_lines((600, 160), [(40, 40, "PLATFORM 4")], BOLD, 64)
    assert words(reader.read(np.asarray(sign))) == ["PLATFORM", "4"]


@pytest.mark.parametrize("photo", ["chelsea", "astronaut", "flickr"])
def test_a_photo_without_text_yields_no_text(reader, photo):
    if photo == "flickr":
        image = Image.open(FLICKR / "images" / "1000268201_693b08cb0e.jpg")  # a child climbing stairs
    else:
        import skimage.data

        image = getattr(skimage.data, photo)()
    assert reader.read(image) == []


def test_lines_come_in_reading_order_rows_then_columns(reader):
    left = ["Apples are", "red or green", "and sweet"]
    right = ["Lemons are", "yellow and", "very sour"]
    page = draw_lines((1000, 420), [(40, 40, "Fruit notes")] + [(40, 130 + 80 * k, t) for k, t in enumerate(left)]
                      + [(560, 130 + 80 * k, t) for k, t in enumerate(right)])
    assert [line.text for line in reader.read(page)] == ["Fruit notes", *left, *right]


def test_a_receipts_prices_stay_on_their_rows():
    def frag(text, x0, y0, x1, y1):
        return Fragment(text, 0.99, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float))

    fragments = [frag("7.79", 420, 150, 470, 180), frag("Milk", 40, 50, 120, 80), frag("1.25", 420, 50, 470, 80),
                 frag("TOTAL", 40, 150, 140, 180), frag("Bread", 40, 100, 140, 130), frag("2.10", 420, 100, 470, 130)]
    assert [line.text for line in reading_order(fragments)] == ["Milk 1.25", "Bread 2.10", "TOTAL 7.79"]


def test_reading_leaves_stdout_stderr_and_the_root_logger_empty(reader, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    fresh = TextReader(TextReaderConfig(threads=1))
    fresh.read(draw_lines((500, 140), [(30, 30, "Quiet please")], BOLD, 56))
    fresh.read(Image.new("RGB", (200, 200), "gray"))  # no text found: RapidOCR logs a warning for this
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert caplog.records == []


@pytest.mark.parametrize("bad", [np.zeros((10, 10, 2), np.uint8), np.zeros((2, 10, 10, 3), np.uint8),
                                 np.zeros((0, 10, 3), np.uint8), np.full((10, 10, 3), 300.0), "not-a-photo.png",
                                 [[0, 0, 0]]])
def test_a_bad_input_raises_image_error(reader, bad):
    with pytest.raises(ImageError):
        reader.read(bad)


def test_spoken_text_says_the_first_lines_and_counts_the_rest_as_the_describer_does():
    from model.describing.reading import text_part

    lines = [TextLine(t, 0.99, (0, 0, 1, 1)) for t in ["KEEP CLEAR", "Fire exit!", "a", "b", "c", "d", "e"]]
    assert spoken_text(lines) == "It says: KEEP CLEAR; Fire exit! and 5 more lines."
    assert spoken_text(lines[:3], max_lines=2) == "It says: KEEP CLEAR; Fire exit! and 1 more line."
    assert spoken_text(lines[:1]) == "It says: KEEP CLEAR."
    assert spoken_text([]) == ""
    for n in range(4):  # one phrasing (issue 25): the describer's part says exactly the same
        assert (text_part(lines[:n])[1].text if n else "") == spoken_text(lines[:n])


def test_a_missing_engine_is_one_clear_error(monkeypatch):
    import builtins

    from model.describing.text_reader import TextReaderUnavailable

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("rapidocr"):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(TextReaderUnavailable, match="pip install rapidocr onnxruntime"):
        TextReader().read(Image.new("RGB", (32, 32)))
