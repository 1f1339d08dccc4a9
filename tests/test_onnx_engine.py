"""The ONNX Runtime engine says what the PyTorch engine says, on real photos, without importing PyTorch.

Photos: COCO-mini val (real COCO 2017), Flickr8k test, and scikit-image's chelsea (a cat), coffee, astronaut
and rocket.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from skimage import data

from model import load_image, save_checkpoint, tokenize
from model.captioner.caption import NoModelError
from model.captioner.engine import Encoded
from model.captioner.onnx_engine import (
    DEFAULT_PREFIX,
    OnnxCaptioner,
    compiled_checkpoint_matches,
    onnx_files,
)
from model.captioner.torch_engine import DEFAULT_CHECKPOINT, checkpoint_data
from model.describing.calibration import Calibration
from model.describing.describer import Describer

from .conftest import COCO_MINI


@pytest.fixture(scope="module")
def onnx_captioner():
    return OnnxCaptioner.default()


@pytest.fixture(scope="module")
def real_photos(flickr_records):
    coco = sorted((COCO_MINI / "val2017").glob("*.jpg"))[:24]
    flickr = [r.path for r in flickr_records if r.split == "test"][:16]
    return [load_image(p) for p in coco + flickr] + [data.chelsea(), data.coffee(), data.astronaut(), data.rocket()]


def test_the_shipped_graphs_were_compiled_from_the_shipped_checkpoint(onnx_captioner, default_captioner):
    assert compiled_checkpoint_matches(onnx_captioner, DEFAULT_CHECKPOINT)
    assert onnx_captioner.vocabulary.words == default_captioner.vocabulary.words
    assert onnx_captioner.config == default_captioner.config
    assert onnx_captioner.metadata == json.loads(json.dumps(default_captioner.metadata))
    decoding = Calibration.load().decoding  # the describer's calibrated search is the compiled one
    assert (onnx_captioner.beam_size, onnx_captioner.no_repeat_ngram) == decoding
    from assistant.indexer import model_identity  # an index made by either engine is never described again

    assert model_identity(Describer.for_captioner(onnx_captioner)) == model_identity(
        Describer.for_captioner(default_captioner))


def test_both_engines_compute_the_same_features_and_captions_of_real_photos(onnx_captioner, default_captioner,
                                                                             real_photos):
    ours, theirs = onnx_captioner.encode(real_photos), default_captioner.encode(real_photos)
    np.testing.assert_allclose(ours.regions, theirs.regions, atol=2e-3)
    np.testing.assert_allclose(ours.logits, theirs.logits, atol=2e-3)
    a = onnx_captioner.n_best(ours, 3)  # by default both search as seesay says captions
    b = default_captioner.n_best(theirs, 3)
    same = [[c.words for c in x] == [c.words for c in y] for x, y in zip(a, b)]
    assert sum(same) >= len(same) - 1, "more than one photo's n-best captions differ between the engines"
    for x, y in (pair for pair, ok in zip(zip(a, b), same) if ok):
        for c, d in zip(x, y):
            np.testing.assert_allclose(c.word_probs, d.word_probs, atol=1e-3)
            np.testing.assert_allclose(c.attention, d.attention, atol=1e-3)


def test_both_engines_caption_an_empty_batch_as_no_captions(onnx_captioner, default_captioner):
    grid = onnx_captioner.grid_size()
    regions = np.zeros((0, grid[0] * grid[1], onnx_captioner.feature_channels), np.float32)
    assert onnx_captioner.n_best(Encoded(regions, None), 3) == []
    assert default_captioner.n_best(torch.from_numpy(regions), 3) == []


def test_both_engines_say_the_same_of_real_photos(onnx_captioner, default_describer, real_photos):
    ours = Describer.for_captioner(onnx_captioner).describe(real_photos)
    theirs = default_describer.describe(real_photos)
    said = [(d.sentence, d.kept_caption) for d in ours]
    assert said == [(d.sentence, d.kept_caption) for d in theirs]
    assert ("A cat.", None) in said  # skimage's chelsea: the sentence comes from recognition, not a caption


def test_describing_with_onnx_runtime_never_imports_pytorch(tmp_path):
    photo = tmp_path / "cat.png"
    from PIL import Image

    Image.fromarray(data.chelsea()).save(photo)
    code = (
        "import sys\nfrom assistant.cli import main\n"
        f"code = main(['caption', '--no-text', {str(photo)!r}])\n"
        "print('torch imported:', 'torch' in sys.modules)\nsys.exit(code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"{photo}\tA cat close in front of you.", "torch imported: False"]


def test_the_runtime_uses_pytorch_where_the_compiled_graphs_cannot_serve():
    from assistant.runtime import Runtime, SetupError
    from model.captioner.torch_engine import Captioner

    def runtime(**args):
        return Runtime.load(**args)

    assert isinstance(runtime().captioner, OnnxCaptioner)
    assert isinstance(runtime(beam_size=5).captioner, Captioner)  # compiled for beam 3 only
    assert isinstance(runtime(engine="torch").captioner, Captioner)
    with pytest.raises(SetupError, match="compiled for beam 3"):
        _ = runtime(engine="onnx", beam_size=1).captioner


def test_graphs_compiled_for_another_repeat_blocking_are_never_used(monkeypatch):
    import model.describing.calibration
    from assistant.runtime import Runtime, SetupError
    from model.captioner.torch_engine import Captioner

    def runtime(**args):
        return Runtime.load(**args)

    monkeypatch.setattr(model.describing.calibration, "spoken_decoding", lambda: (3, 0))  # recalibrated: no blocking
    assert isinstance(runtime().captioner, Captioner)
    with pytest.raises(SetupError, match="compiled with no_repeat_ngram 2"):
        _ = runtime(engine="onnx").captioner


@pytest.mark.parametrize("name", ["mine", "mine.v1.2"])
def test_graphs_compiled_from_another_checkpoint_are_never_used(tmp_path, name):
    from assistant.runtime import Runtime
    from model import load_checkpoint
    from model.captioner.torch_engine import Captioner

    checkpoint = tmp_path / f"{name}.pt"

    def captioner():
        return Runtime.load(model=str(checkpoint)).captioner

    for src, dst in zip(onnx_files(DEFAULT_PREFIX), onnx_files(tmp_path / name)):
        shutil.copyfile(src, dst)
    shutil.copyfile(DEFAULT_CHECKPOINT, checkpoint)
    assert isinstance(captioner(), OnnxCaptioner)
    retrained = load_checkpoint(DEFAULT_CHECKPOINT)  # the checkpoint changes after it was compiled
    retrained.metadata["name"] = "retrained"
    save_checkpoint(checkpoint, retrained, half=True)
    assert isinstance(captioner(), Captioner)


def test_a_damaged_graph_is_reported_in_one_line(tmp_path):
    prefix = tmp_path / "broken"
    encoder, search = onnx_files(prefix)
    shutil.copyfile(onnx_files(DEFAULT_PREFIX)[0], encoder)
    search.write_bytes(b"not an onnx file")
    with pytest.raises(NoModelError, match=r"broken\.search\.onnx cannot be loaded") as err:
        OnnxCaptioner(prefix)
    assert "\n" not in str(err.value)
    with pytest.raises(NoModelError, match="export-onnx"):
        OnnxCaptioner(tmp_path / "missing")
    shutil.copyfile(onnx_files(DEFAULT_PREFIX)[1], search)
    encoder.write_bytes(b"")  # truncated to nothing: the message names the file that is
    with pytest.raises(NoModelError, match=r"broken\.encoder\.onnx cannot be loaded"):
        OnnxCaptioner(prefix)
    shutil.copyfile(onnx_files(DEFAULT_PREFIX)[1], encoder)  # a graph in the wrong slot, found when loading
    with pytest.raises(NoModelError, match=r"broken\.encoder\.onnx cannot be loaded \(its inputs are") as err:
        OnnxCaptioner(prefix)
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_a_trained_checkpoint_compiles_and_its_graphs_caption_as_pytorch_does(tmp_path, overfit_captioner,
                                                                              overfit_batch):
    from training.onnx_export import export_onnx

    captioner, _, _ = overfit_captioner
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, checkpoint_data(captioner.model, captioner.vocabulary, {"name": "tiny"}), half=True)
    encoder, search = export_onnx(path, beam_size=2, no_repeat_ngram=0, log=lambda line: None)
    assert encoder.is_file() and search.is_file()
    compiled = OnnxCaptioner(tmp_path / "tiny")
    assert compiled.beam_size == 2 and compiled_checkpoint_matches(compiled, path)
    from model import Captioner

    reloaded = Captioner.from_checkpoint(path)  # the fp16 weights the graphs were traced from
    paths, captions = overfit_batch
    with torch.inference_mode():
        expected = [[c.words for c in n] for n in reloaded.n_best(reloaded.encode(paths), 2, no_repeat_ngram=0)]
    got = [[c.words for c in n] for n in compiled.n_best(compiled.encode(paths), 2)]
    assert got == expected
    assert [n[0] for n in got] == [tokenize(c) for c in captions]  # what the tiny model memorised
