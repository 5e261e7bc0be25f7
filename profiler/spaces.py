"""Search spaces as data: macro-architectures whose layers choose among block options.

This is the one definition of each space. The profiler enumerates its blocks through
`layer_positions()`; predictors and strategies use the per-layer choices and the short
architecture encoding ``<space>:<one base-36 digit per layer>`` (choice index per layer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgelat.errors import EdgelatError
from edgelat.profiler.blockspec import BlockSpec
from edgelat.profiler.channels import round_channels
from edgelat.profiler.sampling import LayerPosition

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Choice:
    """One option of a layer: an MBConv (kernel, expand, groups of the 1x1 convs) or skip."""

    name: str
    kernel: int = 0
    expand: int = 0
    groups: int = 1
    skip: bool = False


SKIP = Choice("skip", skip=True)


@dataclass(frozen=True)
class Layer:
    """A searchable or fixed MBConv layer of a macro-architecture."""

    input_hw: int
    cin: int
    cout: int
    stride: int
    choices: tuple[Choice, ...]
    act: str = "relu6"
    se: int = 0
    expand_conv_always: bool = False  # FBNet blocks keep their 1x1 conv even at e=1

    @property
    def fixed(self) -> bool:
        return len(self.choices) == 1

    @property
    def output_hw(self) -> int:
        return -(-self.input_hw // self.stride)

    def block(self, choice: Choice, dtype: str = "fp32") -> BlockSpec:
        if choice.skip or choice.groups != 1:
            raise EdgelatError(f"choice {choice.name!r} is not a plain MBConv block")
        return BlockSpec(self.input_hw, self.cin, self.cout, choice.expand, choice.kernel, self.stride, self.se,
                         self.act, dtype)

    def position(self) -> LayerPosition:
        blocks = [c for c in self.choices if not c.skip]
        if any(c.groups != 1 for c in blocks):
            raise EdgelatError("grouped 1x1 convolutions (FBNet's *_g2 choices) are not profilable blocks yet")
        return LayerPosition(self.input_hw, self.cin, self.cout, self.stride,
                             tuple((c.kernel, c.expand) for c in blocks), self.se, self.act)

    def macs(self, choice: Choice) -> float:
        """Multiply-accumulates of this layer with `choice` (a shape-changing skip is a 1x1 conv)."""
        hw, ho = self.input_hw, self.output_hw
        if choice.skip:
            return 0.0 if (self.stride == 1 and self.cin == self.cout) else float(ho * ho * self.cin * self.cout)
        mid = self.cin * choice.expand
        expand = hw * hw * self.cin * mid / choice.groups if (choice.expand > 1 or self.expand_conv_always) else 0
        return float(expand + ho * ho * mid * choice.kernel**2 + ho * ho * mid * self.cout / choice.groups)

    def params(self, choice: Choice) -> float:
        if choice.skip:
            return 0.0 if (self.stride == 1 and self.cin == self.cout) else float(self.cin * self.cout)
        mid = self.cin * choice.expand
        expand = self.cin * mid / choice.groups if (choice.expand > 1 or self.expand_conv_always) else 0
        return float(expand + mid * choice.kernel**2 + mid * self.cout / choice.groups)


@dataclass(frozen=True)
class SearchSpace:
    name: str
    resolution: int
    width: float
    num_classes: int
    stem_channels: int
    head_channels: int
    layers: tuple[Layer, ...]
    stem_stride: int = 2

    @property
    def stem_hw(self) -> int:
        return -(-self.resolution // self.stem_stride)

    def layer_positions(self) -> list[LayerPosition]:
        return [layer.position() for layer in self.layers]

    @property
    def searchable(self) -> list[int]:
        return [i for i, layer in enumerate(self.layers) if not layer.fixed]

    @property
    def max_choices(self) -> int:
        return max(len(layer.choices) for layer in self.layers)

    def choice_matrix(self, fn) -> np.ndarray:
        """[layer, choice] matrix of fn(layer, choice); NaN where a layer has fewer choices."""
        out = np.full((len(self.layers), self.max_choices), np.nan)
        for i, layer in enumerate(self.layers):
            for j, choice in enumerate(layer.choices):
                out[i, j] = fn(layer, choice)
        return out

    def encode(self, indices) -> str:
        idx = self.validate(np.asarray([indices]))[0]
        return f"{self.name}:" + "".join(_DIGITS[i] for i in idx)

    def decode(self, text: str) -> np.ndarray:
        prefix, _, body = text.strip().partition(":")
        if prefix != self.name or not body:
            raise EdgelatError(f"architecture {text!r}: expected '{self.name}:<{len(self.layers)} digits>'")
        if any(ch not in _DIGITS for ch in body.lower()):
            raise EdgelatError(f"architecture {text!r}: digits must be 0-9 or a-z")
        return self.validate(np.array([[_DIGITS.index(ch) for ch in body.lower()]]), text)[0]

    def validate(self, archs: np.ndarray, what: str = "architecture") -> np.ndarray:
        """Check an [N, layers] array of choice indices; error names the row and layer."""
        archs = np.asarray(archs)
        if archs.ndim != 2 or archs.shape[1] != len(self.layers):
            raise EdgelatError(f"{what}: expected {len(self.layers)} choices per architecture, got shape {archs.shape}")
        counts = np.array([len(layer.choices) for layer in self.layers])
        bad = (archs < 0) | (archs >= counts)
        if bad.any():
            row, layer = map(int, np.argwhere(bad)[0])
            raise EdgelatError(f"{what}: row {row}, layer {layer}: choice {archs[row, layer]} is out of range "
                               f"0..{counts[layer] - 1}")
        return archs.astype(np.int64)

    def random(self, n: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        counts = np.array([len(layer.choices) for layer in self.layers])
        return (rng.random((n, len(self.layers))) * counts).astype(np.int64)


SINGLE_PATH_STAGES = ((24, 2), (40, 2), (80, 2), (96, 1), (192, 2))  # (channels, first stride)
SINGLE_PATH_CHOICES = tuple(Choice(f"k{k}_e{e}", k, e) for k, e in ((3, 3), (3, 6), (5, 3), (5, 6)))


def single_path(resolution: int = 224, width: float = 1.0, num_classes: int = 1000) -> SearchSpace:
    """Single-Path NAS / ProxylessNAS mobile space: stem 3x3/32 s2, MBConv k3e1->16,
    5 stages x 4 searchable layers (k3/k5 x e3/e6, skip but for a stage's first),
    MBConv k3e6->320, 1x1 head to 1280, pooling, classifier."""
    _check(resolution, width)
    ch = lambda c: round_channels(c * width)  # noqa: E731
    hw = resolution // 2
    layers = [Layer(hw, ch(32), ch(16), 1, (Choice("k3_e1", 3, 1),))]
    cin = ch(16)
    for channels, first_stride in SINGLE_PATH_STAGES:
        for i in range(4):
            stride = first_stride if i == 0 else 1
            choices = SINGLE_PATH_CHOICES + ((SKIP,) if i > 0 else ())
            layers.append(Layer(hw, cin, ch(channels), stride, choices))
            hw = -(-hw // stride)
            cin = ch(channels)
    layers.append(Layer(hw, cin, ch(320), 1, (Choice("k3_e6", 3, 6),)))
    head = round_channels(1280 * max(1.0, width))
    return SearchSpace("single-path", resolution, width, num_classes, ch(32), head, tuple(layers))


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
    ch = lambda c: round_channels(c * width)  # noqa: E731
    strides = (1, 2, 2, 2, 1, 2, 1) if imagenet else (1, 1, 2, 2, 1, 2, 1)
    hw = resolution // 2 if imagenet else resolution
    cin = ch(16)
    layers = []
    for n, channels, stride in zip((1, 4, 4, 4, 4, 4, 1), (16, 24, 32, 64, 112, 184, 352), strides, strict=True):
        for i in range(n):
            s = stride if i == 0 else 1
            layers.append(Layer(hw, cin, ch(channels), s, FBNET_CHOICES, expand_conv_always=True))
            hw = -(-hw // s)
            cin = ch(channels)
    head = 1984 if imagenet else 1504
    return SearchSpace("fbnet", resolution, width, num_classes, ch(16), head, tuple(layers), 2 if imagenet else 1)


def _check(resolution: int, width: float) -> None:
    if resolution < 32 or resolution % 32:
        raise EdgelatError(f"resolution: must be a multiple of 32 and >= 32, got {resolution}")
    if not 0.1 <= width <= 4.0:
        raise EdgelatError(f"width: must be in [0.1, 4.0], got {width}")


SPACES = {"single-path": single_path, "fbnet": fbnet}

_SPACE_KEYS = {"name", "resolution", "num_classes", "stem", "stages", "head", "act", "se"}
_STAGE_KEYS = {"channels", "layers", "stride", "choices", "skip", "act", "se"}


def load_space_file(path: str | Path, resolution: int | None = None, width: float = 1.0,
                    num_classes: int | None = None) -> SearchSpace:
    """A user's space from YAML; every error names the file and the field.

    ```yaml
    name: tiny              # the encoding prefix
    resolution: 96          # default input size (overridden by --resolution)
    num_classes: 10
    stem: {channels: 16, stride: 2}
    stages:                 # channels before the width multiplier
      - {channels: 16, layers: 1, stride: 1, choices: [k3_e1]}
      - {channels: 24, layers: 3, stride: 2, choices: [k3_e3, k5_e6], skip: true}
    head: 512
    ```
    ``skip: true`` adds a skip choice to every layer of the stage but its first.
    """
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EdgelatError(f"{path}: cannot read space file: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise EdgelatError(f"{path}: a space file is a mapping with 'name', 'stem', 'stages' and 'head'")

    def need(d: dict, key: str, kind: type, where: str):
        if key not in d:
            raise EdgelatError(f"{path}: {where}: field '{key}' is missing")
        value = d[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise EdgelatError(f"{path}: {where}: field '{key}' must be a positive integer, got {value!r}")
        if kind is not int and not isinstance(value, kind):
            raise EdgelatError(f"{path}: {where}: field '{key}' must be a {kind.__name__}, got {value!r}")
        return value

    unknown = set(doc) - _SPACE_KEYS
    if unknown:
        known = ", ".join(sorted(_SPACE_KEYS))
        raise EdgelatError(f"{path}: unknown field(s) {', '.join(sorted(unknown))} (known: {known})")
    name = str(need(doc, "name", str, "top level"))
    if ":" in name or not name:
        raise EdgelatError(f"{path}: field 'name': {name!r} must be non-empty without ':'")
    resolution = resolution or need(doc, "resolution", int, "top level")
    num_classes = num_classes or int(doc.get("num_classes", 1000))
    if not 0.1 <= width <= 4.0:
        raise EdgelatError(f"width: must be in [0.1, 4.0], got {width}")
    ch = lambda c: round_channels(c * width)  # noqa: E731
    stem = need(doc, "stem", dict, "top level")
    stem_ch, stem_stride = need(stem, "channels", int, "stem"), int(stem.get("stride", 2))
    hw, cin = -(-resolution // stem_stride), ch(stem_ch)
    layers = []
    for s_i, stage in enumerate(need(doc, "stages", list, "top level")):
        where = f"stages[{s_i}]"
        if not isinstance(stage, dict):
            raise EdgelatError(f"{path}: {where}: must be a mapping")
        bad = set(stage) - _STAGE_KEYS
        if bad:
            raise EdgelatError(f"{path}: {where}: unknown field(s) {', '.join(sorted(bad))}")
        channels, n = need(stage, "channels", int, where), need(stage, "layers", int, where)
        stride = need(stage, "stride", int, where) if "stride" in stage else 1
        names = need(stage, "choices", list, where)
        choices = []
        for c in names:
            m = re.fullmatch(r"k(\d+)_e(\d+)", str(c))
            if not m or int(m[1]) % 2 == 0:
                raise EdgelatError(f"{path}: {where}: choice {c!r} is not of the form k<odd>_e<int>, e.g. k3_e6")
            choices.append(Choice(str(c), int(m[1]), int(m[2])))
        act, se = str(stage.get("act", doc.get("act", "relu6"))), int(stage.get("se", doc.get("se", 0)))
        for i in range(n):
            s = stride if i == 0 else 1
            opts = tuple(choices) + ((SKIP,) if stage.get("skip") and i > 0 else ())
            layers.append(Layer(hw, cin, ch(channels), s, opts, act=act, se=se))
            hw, cin = -(-hw // s), ch(channels)
    head = need(doc, "head", int, "top level")
    space = SearchSpace(name, resolution, width, num_classes, ch(stem_ch), round_channels(head * max(1.0, width)),
                        tuple(layers), stem_stride)
    try:
        space.layer_positions()
    except Exception as exc:
        raise EdgelatError(f"{path}: {exc}") from None
    return space


def get_space(name: str, resolution: int | None = None, width: float = 1.0, num_classes: int | None = None
              ) -> SearchSpace:
    """A built-in space by name, or a user's YAML space file by path."""
    if name.endswith((".yaml", ".yml")):
        return load_space_file(name, resolution, width, num_classes)
    if name not in SPACES:
        raise EdgelatError(f"unknown search space {name!r} (known: {', '.join(SPACES)}, or a .yaml file)")
    kwargs = {"width": width}
    if resolution is not None:
        kwargs["resolution"] = resolution
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    return SPACES[name](**kwargs)
