"""The built-in search spaces and `get_space`, which also reads a user's YAML space file.

This is the one definition of each space, built by one stage walker (`walk_stages`, in the
manner of timm's ``decode_arch_def``).
"""

from __future__ import annotations

from edgelat.core.channels import round_channels
from edgelat.core.space_file import load_space_file
from edgelat.core.space_model import (
    SKIP,
    SKIP_PART_PREFIX,
    Choice,
    Layer,
    SearchSpace,
    Stage,
    network_constant_ms,
    walk_stages,
)
from edgelat.errors import SearchError

__all__ = ["SKIP", "SKIP_PART_PREFIX", "SPACES", "Choice", "Layer", "SearchSpace", "Stage", "check_size", "fbnet",
           "get_space", "nb_macro", "network_constant_ms", "single_path", "walk_stages"]

SINGLE_PATH_STAGES = ((24, 2), (40, 2), (80, 2), (96, 1), (192, 2))  # (channels, first stride)
SINGLE_PATH_CHOICES = tuple(Choice(f"k{k}_e{e}", k, e) for k, e in ((3, 3), (3, 6), (5, 3), (5, 6)))


def single_path(resolution: int = 224, width: float = 1.0, num_classes: int = 1000) -> SearchSpace:
    """Single-Path NAS / ProxylessNAS mobile space: stem 3x3/32 s2, MBConv k3e1->16,
    5 stages x 4 searchable layers (k3/k5 x e3/e6, skip but for a stage's first),
    MBConv k3e6->320, 1x1 head to 1280, pooling, classifier."""
    check_size(resolution, width)
    stages = [Stage(16, 1, 1, (Choice("k3_e1", 3, 1),))]
    stages += [Stage(c, 4, s, SINGLE_PATH_CHOICES, skip="after_first") for c, s in SINGLE_PATH_STAGES]
    stages += [Stage(320, 1, 1, (Choice("k3_e6", 3, 6),))]
    stem = round_channels(32 * width)
    layers = walk_stages(stages, resolution // 2, stem, width)
    head = round_channels(1280 * max(1.0, width))
    return SearchSpace("single-path", resolution, width, num_classes, stem, head, layers)


FBNET_CHOICES = (
    Choice("k3_e1", 3, 1), Choice("k3_e1_g2", 3, 1, 2), Choice("k3_e3", 3, 3), Choice("k3_e6", 3, 6),
    Choice("k5_e1", 5, 1), Choice("k5_e1_g2", 5, 1, 2), Choice("k5_e3", 5, 3), Choice("k5_e6", 5, 6), SKIP,
)


def fbnet(resolution: int = 32, width: float = 1.0, num_classes: int = 100) -> SearchSpace:
    """HW-NAS-Bench's FBNet space (CIFAR-100 setting by default): stem 3x3/16, 22 searchable
    layers in stages [1,4,4,4,4,4,1] of [16,24,32,64,112,184,352] channels with strides
    [1,1,2,2,1,2,1] (ImageNet: 224 px, stem stride 2, first stride 2), 9 choices each
    including skip, then a 1x1 head to 1504 (1984 for ImageNet), pooling, classifier."""
    imagenet = resolution >= 128
    strides = (1, 2, 2, 2, 1, 2, 1) if imagenet else (1, 1, 2, 2, 1, 2, 1)
    stages = [Stage(c, n, s, FBNET_CHOICES[:-1], skip="all", expand_conv_always=True)
              for n, c, s in zip((1, 4, 4, 4, 4, 4, 1), (16, 24, 32, 64, 112, 184, 352), strides, strict=True)]
    stem_stride = 2 if imagenet else 1
    stem = round_channels(16 * width)
    layers = walk_stages(stages, -(-resolution // stem_stride), stem, width)
    head = 1984 if imagenet else 1504
    return SearchSpace("fbnet", resolution, width, num_classes, stem, head, layers, stem_stride)


NB_MACRO_CHOICES = (SKIP, Choice("k3_e3", 3, 3), Choice("k5_e6", 5, 6))


def nb_macro(resolution: int = 32, width: float = 1.0, num_classes: int = 10) -> SearchSpace:
    """NAS-Bench-Macro (Su et al., CVPR 2021; the authors' train/model.py): stem 3x3/32 s1,
    8 layers in stages [2,3,3] of 64/128/256 channels (each stage's first with stride 2),
    choosing identity / MBConv k3e3 / MBConv k5e6 (ReLU, no SE; the identity of a stride-2
    layer is a 1x1 conv), 1x1 head to 1280, pooling, classifier. The encoding's digits are
    the benchmark's own keys."""
    check_size(resolution, width)
    stages = [Stage(c, n, 2, NB_MACRO_CHOICES, act="relu") for c, n in ((64, 2), (128, 3), (256, 3))]
    stem = round_channels(32 * width)
    layers = walk_stages(stages, resolution, stem, width)
    head = round_channels(1280 * max(1.0, width))
    return SearchSpace("nb-macro", resolution, width, num_classes, stem, head, layers, stem_stride=1)


def check_size(resolution: int, width: float) -> None:
    if resolution < 32 or resolution % 32:
        raise SearchError(f"resolution: must be a multiple of 32 and >= 32, got {resolution}")
    if not 0.1 <= width <= 4.0:
        raise SearchError(f"width: must be in [0.1, 4.0], got {width}")


SPACES = {"single-path": single_path, "fbnet": fbnet, "nb-macro": nb_macro}


def get_space(name: str, resolution: int | None = None, width: float = 1.0, num_classes: int | None = None
              ) -> SearchSpace:
    """A built-in space by name, or a user's YAML space file by path."""
    if name.endswith((".yaml", ".yml")):
        return load_space_file(name, resolution, width, num_classes)
    if name not in SPACES:
        raise SearchError(f"unknown search space {name!r} (known: {', '.join(SPACES)}, or a .yaml file)")
    kwargs = {"width": width}
    if resolution is not None:
        kwargs["resolution"] = resolution
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    return SPACES[name](**kwargs)
