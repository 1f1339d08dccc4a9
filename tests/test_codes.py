"""Codes on real photos: found, decoded, said in plain words, located when unread, and never seen where
there are none; through the describer, `seesay read --json` and `seesay caption --json`."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import segno
from PIL import Image

from model.describing.codes import CodeReader, plain_words

from .conftest import FLICKR

URL = "https://www.example.org/menu/today"


def printed(photo: str, code: Image.Image, corners: list[tuple[float, float]], blur: float = 0.8) -> Image.Image:
    """A code printed and photographed on a real photo: warped onto corners (fractions), under uneven light,
    blurred. Returns an RGB photo."""
    img = np.asarray(Image.open(photo).convert("RGB").resize((640, 480)), dtype=np.float32) / 255  # (H, W, 3)
    c = np.asarray(code.convert("L"), dtype=np.float32) / 255  # (h, w)
    src = np.float32([[0, 0], [c.shape[1], 0], [c.shape[1], c.shape[0]], [0, c.shape[0]]])
    dst = np.float32([[x * 640, y * 480] for x, y in corners])
    warp = cv2.getPerspectiveTransform(src, dst)
    label = cv2.warpPerspective(c, warp, (640, 480))[..., None]
    mask = cv2.warpPerspective(np.ones_like(c), warp, (640, 480))[..., None]
    img = img * (1 - mask) + label * mask
    img *= np.linspace(0.55, 1.05, 640, dtype=np.float32)[None, :, None]  # light from the right
    img = cv2.GaussianBlur(img, (0, 0), blur)
    return Image.fromarray(np.clip(img * 255, 0, 255).astype(np.uint8))


def qr(text: str) -> Image.Image:
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=6, border=4)
    return Image.open(io.BytesIO(buf.getvalue()))


@pytest.fixture(scope="module")
def photos():
    return [FLICKR / "images" / n for n in (FLICKR / "test.txt").read_text().split()[:40]]


@pytest.fixture(scope="module")
def qr_photo(photos):
    corners = [(0.08, 0.12), (0.42, 0.08), (0.45, 0.55), (0.06, 0.5)]  # top left, tilted
    return printed(str(photos[0]), qr(URL), corners)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("engine", ["zxing-cpp", "opencv"])
def test_a_qr_code_printed_on_a_real_photo_is_decoded_with_its_box_by_either_engine(qr_photo, engine):
    found = CodeReader(engine).read(qr_photo)
    assert [c.text for c in found.codes] == [URL]
    x0, y0, x1, y1 = found.codes[0].box
    # The symbol inside its printed label (corners 0.06-0.45 across, 0.08-0.55 down), less the quiet zone
    assert 0.06 * 640 < x0 < 0.14 * 640 and 0.08 * 480 < y0 < 0.18 * 480
    assert 0.35 * 640 < x1 < 0.45 * 640 and 0.4 * 480 < y1 < 0.55 * 480
    assert found.codes[0].said == "QR code, a web address: site example.org, page menu/today."


@pytest.mark.timeout(60)
def test_product_barcodes_are_said_as_their_grouped_digits(photos):
    import barcode
    from barcode.writer import ImageWriter

    ean = barcode.get_barcode_class("ean13")("400638133393", writer=ImageWriter())
    code = ean.render({"module_width": 0.3, "module_height": 10, "dpi": 254, "write_text": False, "font_size": 0})
    photo = printed(str(photos[1]), code, [(0.15, 0.3), (0.85, 0.33), (0.84, 0.62), (0.16, 0.6)])
    [found] = CodeReader().read(photo).codes
    assert (found.kind, found.text) == ("EAN13", "4006381333931")  # the check digit added by the library
    assert found.said == "EAN-13 barcode, product number 4 006381 333931."


def test_wifi_web_and_other_texts_are_said_plainly():
    assert plain_words("QRCode", r"WIFI:T:WPA;S:Cafe\;Lumiere;P:croissant42;;") == \
        "Wi-Fi network Cafe;Lumiere, password croissant42."
    assert plain_words("QRCode", "WIFI:S:Guest;T:nopass;;") == "Wi-Fi network Guest, no password."
    assert plain_words("QRCode", "www.example.com") == "a web address: site example.com."
    assert plain_words("Code128", "x" * 250).endswith("and 50 more characters.")
    assert plain_words("QRCode", "tel:+441632960961") == "a phone number: +441632960961."


@pytest.fixture(scope="module")
def smudged_photo(photos):
    code = np.asarray(qr(URL).convert("L")).copy()
    h = code.shape[0]
    code[int(h * 0.42) : int(h * 0.6), int(h * 0.3) : int(h * 0.7)] = 128  # a smudge across its middle
    return printed(str(photos[2]), Image.fromarray(code), [(0.6, 0.6), (0.95, 0.6), (0.95, 0.95), (0.6, 0.95)])


@pytest.mark.timeout(60)
def test_a_qr_code_too_smudged_to_decode_is_located_so_the_aim_can_move(smudged_photo):
    found = CodeReader().read(smudged_photo)
    assert not found.codes
    assert [s.said for s in found.unread] == ["A code, bottom right: move closer."]


@pytest.mark.timeout(120)
def test_no_code_is_reported_on_real_photos_without_one(photos):
    reader = CodeReader()
    for path in photos:
        found = reader.read(Image.open(path).convert("RGB"))
        assert not found.codes and not found.unread, path


@pytest.mark.timeout(120)
def test_the_describer_says_the_code_beside_what_it_sees_and_json_carries_it(default_describer, qr_photo, photos,
                                                                             smudged_photo):
    describer = copy.copy(default_describer)
    describer.codes = CodeReader()
    with_code, without = describer.describe([qr_photo, Image.open(photos[3]).convert("RGB")])
    assert with_code.parts[-1].source == "code"
    assert with_code.sentence.endswith("QR code, a web address: site example.org, page menu/today.")
    [record] = with_code.to_json()["codes"]
    assert record["type"] == "QRCode" and record["text"] == URL and len(record["box"]) == 4
    assert not without.codes and "code" not in {p.source for p in without.parts}
    assert without.sentence == default_describer.describe([photos[3]])[0].sentence
    [unread] = describer.describe([smudged_photo])
    assert unread.parts[-1].text == "A code, bottom right: move closer." and not unread.codes


@pytest.mark.timeout(180)
def test_seesay_read_json_gives_each_codes_type_text_and_box(tmp_path, qr_photo, photos):
    qr_photo.save(tmp_path / "menu.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    out = subprocess.run([sys.executable, "-m", "assistant", "read", str(tmp_path / "menu.png"),
                          str(tmp_path / "broken.jpg"), str(photos[4]), "--json"],
                         capture_output=True, text=True, timeout=170, check=False)
    assert out.returncode == 0, out.stderr
    first, second = (json.loads(line) for line in out.stdout.splitlines())
    assert [(c["type"], c["text"]) for c in first["codes"]] == [("QRCode", URL)] and len(first["codes"][0]["box"]) == 4
    assert second["codes"] == []
    assert next(line for line in out.stderr.splitlines() if "broken.jpg" in line).startswith("skipping")


def test_a_reader_alive_when_python_exits_leaves_no_warnings_behind(qr_photo, tmp_path):
    """zxing-cpp's bindings print a page of "leaked" warnings for any of their objects alive at exit; the app's
    threads still hold its code reader then, so quitting it printed them."""
    script = ("import sys, threading, time; from model.describing.codes import CodeReader; "
              "from model.images import load_image; reader = CodeReader(); "
              "seen = reader.read(load_image(sys.argv[1])); print(seen.codes[0].text); "
              "worker = threading.Thread(target=time.sleep, args=(100,), daemon=True); worker.reader = reader; "
              "worker.start()")
    Image.fromarray(np.asarray(qr_photo)).save(tmp_path / "qr.png")
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path / "qr.png")], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.strip(), run.stderr
    assert "leaked" not in run.stderr, run.stderr
