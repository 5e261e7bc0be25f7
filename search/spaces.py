"""Search spaces as data: macro-architectures whose layers choose among block options.

This is the one definition of each space; the profiler enumerates its blocks through
`layer_positions()`, and the search strategies (later) sample and build architectures.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgelat.errors import EdgelatError
from edgelat.profiler.blockspec import BlockSpec
from edgelat.profiler.channels import round_channels
from edgelat.profiler.sampling import LayerPosition


@dataclass(frozen=True)
class Layer:
    """A searchable or fixed MBConv layer. `options` are (kernel, expand); `skippable` adds skip."""

    input_hw: int
    cin: int
    cout: int
    stride: int
    options: tuple[tuple[int, int], ...]
    skippable: bool = False
    act: str = "relu6"
    se: int = 0

    @property
    def fixed(self) -> bool:
        return len(self.options) == 1 and not self.skippable

    def position(self) -> LayerPosition:
        return LayerPosition(self.input_hw, self.cin, self.cout, self.stride, self.options, self.se, self.act)

    def block(self, kernel: int, expand: int, dtype: str = "fp32") -> BlockSpec:
        return BlockSpec(self.input_hw, self.cin, self.cout, expand, kernel, self.stride, self.se, self.act, dtype)


@dataclass(frozen=True)
class SearchSpace:
    name: str
    resolution: int
    width: float
    num_classes: int
    stem_channels: int
    head_channels: int
    layers: tuple[Layer, ...]

    def layer_positions(self) -> list[LayerPosition]:
        return [layer.position() for layer in self.layers]

    @property
    def searchable(self) -> list[int]:
        return [i for i, layer in enumerate(self.layers) if not layer.fixed]


SINGLE_PATH_STAGES = ((24, 2), (40, 2), (80, 2), (96, 1), (192, 2))  # (channels, first stride)
SINGLE_PATH_OPTIONS = ((3, 3), (3, 6), (5, 3), (5, 6))


def single_path(resolution: int = 224, width: float = 1.0, num_classes: int = 1000) -> SearchSpace:
    """Single-Path NAS / ProxylessNAS mobile space: stem 3x3/32 s2, MBConv k3e1->16,
    5 stages x 4 searchable layers (k3/k5 x e3/e6, skip but for a stage's first),
    MBConv k3e6->320, 1x1 head to 1280, pooling, classifier."""
    if resolution < 32 or resolution % 32:
        raise EdgelatError(f"resolution: must be a multiple of 32 and >= 32, got {resolution}")
    if not 0.1 <= width <= 4.0:
        raise EdgelatError(f"width: must be in [0.1, 4.0], got {width}")
    ch = lambda c: round_channels(c * width)  # noqa: E731
    hw = resolution // 2
    layers = [Layer(hw, ch(32), ch(16), 1, ((3, 1),))]
    cin = ch(16)
    for channels, first_stride in SINGLE_PATH_STAGES:
        for i in range(4):
            stride = first_stride if i == 0 else 1
            layers.append(Layer(hw, cin, ch(channels), stride, SINGLE_PATH_OPTIONS, skippable=i > 0))
            hw = -(-hw // stride)
            cin = ch(channels)
    layers.append(Layer(hw, cin, ch(320), 1, ((3, 6),)))
    head = round_channels(1280 * max(1.0, width))
    return SearchSpace("single-path", resolution, width, num_classes, ch(32), head, tuple(layers))


SPACES = {"single-path": single_path}


def get_space(name: str, resolution: int = 224, width: float = 1.0, num_classes: int = 1000) -> SearchSpace:
    if name not in SPACES:
        raise EdgelatError(f"unknown search space {name!r} (known: {', '.join(SPACES)})")
    return SPACES[name](resolution=resolution, width=width, num_classes=num_classes)
