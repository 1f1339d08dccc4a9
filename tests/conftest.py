"""Shared fixtures: the real data folder, real photos, and one tiny captioner trained on real captions."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch

from training.data import data_root

DATA = data_root().resolve()
FLICKR = DATA / "flickr8k"
COCO_MINI = DATA / "coco-mini"

torch.set_num_threads(2)
# Tests (and the commands they start) never read or write the user's own settings or photo index.
os.environ["SEESAY_CONFIG"] = str(Path(tempfile.mkdtemp(prefix="seesay-test-config-")) / "settings.toml")
os.environ["SEESAY_DB"] = str(Path(tempfile.mkdtemp(prefix="seesay-test-db-")) / "index.sqlite")


def pytest_configure(config):
    if not (FLICKR / "captions_flickr8k.json").is_file():
        raise pytest.UsageError(f"the shared data folder is missing: {DATA} (set SEESAY_DATA)")


@pytest.fixture(scope="session")
def flickr_records():
    from training.data import load_records

    return load_records(FLICKR / "captions_flickr8k.json", FLICKR / "images")


@pytest.fixture(scope="session")
def tiny_config():
    from model import CaptionerConfig

    return CaptionerConfig(embed_dim=64, hidden_dim=128, attention_dim=64, dropout=0.0, max_length=20)


@pytest.fixture(scope="session")
def overfit_batch(flickr_records):
    """Eight real Flickr8k training photos, one caption each."""
    train = [r for r in flickr_records if r.split == "train"][:8]
    return [r.path for r in train], [r.captions[0] for r in train]


@pytest.fixture(scope="session")
def overfit_captioner(overfit_batch, tiny_config):
    """A tiny captioner trained to memorise overfit_batch; (captioner, final loss)."""
    from model import Captioner, Vocabulary, build_model
    from training.loss import caption_loss

    torch.manual_seed(0)
    paths, captions = overfit_batch
    vocab = Vocabulary.build(captions, min_count=1)
    model = build_model(tiny_config, len(vocab))
    captioner = Captioner(model, vocab)
    feats = captioner.encode_regions(paths).clone()  # (B, P, E); clone leaves inference mode for autograd
    caps = torch.nn.utils.rnn.pad_sequence([torch.tensor(vocab.encode(c)) for c in captions], batch_first=True)
    model.decoder.train()
    opt = torch.optim.Adam(model.decoder.parameters(), lr=3e-3)
    for _ in range(300):
        logits, alphas, _ = model.decoder(feats, caps)
        loss, ce, _ = caption_loss(logits, caps[:, 1:], alphas, alpha_c=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return captioner, float(ce), feats


@pytest.fixture(scope="session")
def default_captioner():
    """The bundled Flickr8k captioner, as users get it: searching as the describer is calibrated to."""
    from model import Captioner
    from model.describing.calibration import spoken_decoding

    return Captioner.default(no_repeat_ngram=spoken_decoding()[1])


@pytest.fixture(scope="session")
def default_describer(default_captioner):
    """The describer every command uses, around the bundled captioner."""
    from model.describing.describer import Describer

    return Describer.for_captioner(default_captioner)


VTEST = Path(os.environ.get("SEESAY_VTEST", "/usr/share/doc/opencv-doc/examples/data/vtest.avi"))


@pytest.fixture(scope="session")
def vtest_video():
    """OpenCV's sample street video (Debian package opencv-doc, installed by .ci/run)."""
    if not VTEST.is_file():
        pytest.fail(f"{VTEST} is missing: install the Debian package opencv-doc or set SEESAY_VTEST")
    return VTEST


def write_photo_video(path: Path, photos: list[Path], seconds_each: float = 1.0, fps: int = 10) -> Path:
    """A real video file (MJPEG AVI through OpenCV) showing each photo in turn."""
    import cv2

    size = (320, 240)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for photo in photos:
        frame = cv2.resize(cv2.imread(str(photo)), size, interpolation=cv2.INTER_AREA)  # BGR, as OpenCV writes
        for _ in range(round(seconds_each * fps)):
            writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def two_scene_video(tmp_path_factory, flickr_records):
    """A video of two real Flickr8k test photos, one second each, and the records of those photos."""
    test = [r for r in flickr_records if r.split == "test"]
    records = [test[0], test[3]]
    video = write_photo_video(tmp_path_factory.mktemp("video") / "two_scenes.avi", [r.path for r in records])
    return video, records


LETTER = ["Dear Ms Smith,", "Your appointment at the eye clinic is on", "14/03/2027 at 10:30 in room 12.",
          "Please bring your glasses and this letter.", "To change it, call 0161 496 0123.", "Yours sincerely,",
          "Eye Clinic Bookings"]


@pytest.fixture(scope="session")
def letter_photo(tmp_path_factory):
    """A real photo (PNG, rendered in DejaVu Sans) of a seven-line letter with a date, a time and a phone
    number, and its lines."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (900, 560), "white")
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 34)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(LETTER):
        draw.text((40, 30 + i * 72), line, font=font, fill="black")
    path = tmp_path_factory.mktemp("letter") / "letter.png"
    image.save(path)
    return path, LETTER
