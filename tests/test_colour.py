"""Colour words on real photos: an object's colour inside its box, hues that follow the pixels, the light
divided out, and `seesay colour`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from model.describing.colour import TERMS, colours, object_box, say_colours, srgb_to_lab, term

from .conftest import COCO_MINI, FLICKR

# A COCO-mini train photo whose five captions call its fire hydrant yellow, and the hydrant's annotated box.
HYDRANT = COCO_MINI / "train2017" / "000000194322.jpg"


@pytest.fixture(scope="module")
def hydrant():
    image = Image.open(HYDRANT).convert("RGB")
    ann = json.loads((COCO_MINI / "annotations" / "instances_train2017.json").read_text())
    hydrant_id = next(c["id"] for c in ann["categories"] if c["name"] == "fire hydrant")
    [(x, y, w, h)] = [a["bbox"] for a in ann["annotations"]
                      if a["image_id"] == 194322 and a["category_id"] == hydrant_id]
    return image, (x / image.width, y / image.height, (x + w) / image.width, (y + h) / image.height)


def test_the_standard_colours_get_their_basic_terms():
    named = {(255, 0, 0): "red", (0, 0, 255): "blue", (0, 128, 0): "green", (255, 255, 0): "yellow",
             (255, 140, 0): "orange", (128, 0, 128): "purple", (255, 192, 203): "pink", (139, 69, 19): "brown",
             (0, 0, 0): "black", (255, 255, 255): "white", (128, 128, 128): "grey"}
    lab = srgb_to_lab(np.array(list(named), dtype=np.float64))
    assert [TERMS[i] for i in term(lab)] == list(named.values())


@pytest.mark.timeout(30)
def test_an_objects_colour_is_named_inside_its_box_and_follows_its_hue(hydrant):
    image, box = hydrant
    assert colours(image, object_box(box))[0].term == "yellow"
    assert colours(image)[0].term != "yellow"  # the whole photo is mostly something else
    swapped = Image.fromarray(np.asarray(image)[..., [2, 1, 0]])  # red and blue light exchanged
    assert colours(swapped, object_box(box))[0].term == "blue"


@pytest.mark.timeout(30)
def test_the_colour_of_the_light_is_divided_out(hydrant):
    image, box = hydrant
    rgb = np.asarray(image, dtype=np.float64) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4) * [0.75, 0.8, 1.0]  # bluish light
    out = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    cast = Image.fromarray(np.round(out * 255).astype(np.uint8))
    assert colours(cast, object_box(box))[0].term == "yellow"
    assert colours(cast, object_box(box), constancy=False)[0].term != "yellow"  # the pixels alone are not


@pytest.mark.timeout(30)
def test_shares_add_up_and_the_sentence_says_the_colours_in_order():
    image = Image.open(FLICKR / "images" / (FLICKR / "test.txt").read_text().split()[0]).convert("RGB")
    found = colours(image, top=11)
    assert found == sorted(found, key=lambda c: -c.share) and found[0].share > 0
    assert sum(c.share for c in colours(image, top=11)) <= 1.0 + 1e-6
    sentence = say_colours(found[:2])
    low = sentence.lower()
    assert low.startswith((found[0].name, f"mostly {found[0].name}"))
    assert low.index(found[0].name) < low.index(found[1].name)
    with pytest.raises(ValueError, match="box must be fractions"):
        colours(image, (0.5, 0.5, 0.2, 0.9))


@pytest.mark.timeout(120)
def test_seesay_colour_names_a_box_and_skips_a_bad_file_with_one_line(tmp_path, hydrant):
    _, box = hydrant
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    spec = ",".join(f"{v:.4f}" for v in object_box(box))
    out = subprocess.run([sys.executable, "-m", "assistant", "colour", str(tmp_path / "broken.jpg"), str(HYDRANT),
                          "--box", spec, "--json"], capture_output=True, text=True, timeout=110, check=False)
    assert out.returncode == 0, out.stderr
    [record] = [json.loads(line) for line in out.stdout.splitlines()]
    assert record["colours"][0]["term"] == "yellow" and record["light"]["word"] in ("dim", "bright")
    assert record["sentence"].startswith(record["colours"][0]["name"].capitalize()) or \
        record["sentence"].startswith("Mostly")
    assert next(line for line in out.stderr.splitlines() if line.strip()).startswith("skipping")
