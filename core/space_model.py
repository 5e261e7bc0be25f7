"""What a search space is made of: choices, layers, stages and the space itself, with its short
encoding ``<space>:<one base-36 digit per layer>`` (the choice index per layer).

The profiler enumerates a space's blocks through `Layer.blocks`; predictors and strategies use the
per-layer choices. The built-in spaces and `get_space` live in `core.spaces`, a user's YAML space
in `core.space_file`; both build on these types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgelat.core.blockspec import BlockSpec
from edgelat.core.channels import round_channels
from edgelat.core.op_breakdown import layer_ops
from edgelat.errors import BlockSpecError, SearchError

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
SKIP_PART_PREFIX = "skipconv-"  # fixed parts under this prefix price one layer's skip, not every network


def network_constant_ms(fixed: dict[str, float]) -> float:
    """What every network of a space pays: the fixed parts but the per-layer skip convs."""
    return float(sum(v for k, v in fixed.items() if not k.startswith(SKIP_PART_PREFIX)))


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
    """A searchable or fixed MBConv layer of a macro-architecture.

    A skip choice is the identity where the shape is kept (`identity_skip`); where the layer
    changes shape it is a 1x1 conv with the layer's stride (then BatchNorm): the one rule
    that every builder, cost model and counter follows.
    """

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

    @property
    def identity_skip(self) -> bool:
        """Whether a skip here is the identity (else it is a strided 1x1 conv)."""
        return self.stride == 1 and self.cin == self.cout

    def block(self, choice: Choice, dtype: str = "fp32") -> BlockSpec:
        if choice.skip or choice.groups != 1:
            raise BlockSpecError(f"choice {choice.name!r} is not a plain MBConv block")
        return BlockSpec(self.input_hw, self.cin, self.cout, choice.expand, choice.kernel, self.stride, self.se,
                         self.act, dtype)

    def blocks(self, dtype: str = "fp32") -> list[BlockSpec]:
        """The profilable blocks of this layer's non-skip choices."""
        if any(c.groups != 1 for c in self.choices if not c.skip):
            raise BlockSpecError("grouped 1x1 convolutions (FBNet's *_g2 choices) are not profilable blocks yet")
        return [self.block(c, dtype) for c in self.choices if not c.skip]

    @property
    def skip_part(self) -> str | None:
        """The name under which a shape-changing skip's 1x1 conv is measured as a fixed part, or None."""
        if self.identity_skip or not any(c.skip for c in self.choices):
            return None
        return f"{SKIP_PART_PREFIX}i{self.input_hw}-c{self.cin}-o{self.cout}-s{self.stride}"

    def macs(self, choice: Choice) -> float:
        """Multiply-accumulates of this layer with `choice` (its kernels': `core.op_breakdown`)."""
        return float(sum(op.macs for op in layer_ops(self, choice)))

    def params(self, choice: Choice) -> float:
        if choice.skip:
            return 0.0 if self.identity_skip else float(self.cin * self.cout)
        mid = self.cin * choice.expand
        expand = self.cin * mid / choice.groups if (choice.expand > 1 or self.expand_conv_always) else 0
        return float(expand + mid * choice.kernel**2 + mid * self.cout / choice.groups)


@dataclass(frozen=True)
class Stage:
    """`layers` layers of `channels` (before the width multiplier); the first has `stride`.
    `skip` adds the skip choice: "none", "after_first" (not on the stage's first) or "all"."""

    channels: int
    layers: int
    stride: int
    choices: tuple[Choice, ...]
    skip: str = "none"
    act: str = "relu6"
    se: int = 0
    expand_conv_always: bool = False


def walk_stages(stages: Sequence[Stage], input_hw: int, cin: int, width: float = 1.0) -> tuple[Layer, ...]:
    """The layers of a list of stages: the one walker behind every space definition."""
    layers, hw = [], input_hw
    for stage in stages:
        cout = round_channels(stage.channels * width)
        for i in range(stage.layers):
            stride = stage.stride if i == 0 else 1
            with_skip = stage.skip == "all" or (stage.skip == "after_first" and i > 0)
            layers.append(Layer(hw, cin, cout, stride, stage.choices + ((SKIP,) if with_skip else ()),
                                stage.act, stage.se, stage.expand_conv_always))
            hw, cin = -(-hw // stride), cout
    return tuple(layers)


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

    @property
    def act(self) -> str:
        """The activation of the stem and head (that of the first layer)."""
        return self.layers[0].act

    @property
    def searchable(self) -> list[int]:
        return [i for i, layer in enumerate(self.layers) if not layer.fixed]

    @property
    def max_choices(self) -> int:
        return max(len(layer.choices) for layer in self.layers)

    @property
    def choice_counts(self) -> np.ndarray:
        return np.array([len(layer.choices) for layer in self.layers])

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
            raise SearchError(f"architecture {text!r}: expected '{self.name}:<{len(self.layers)} digits>'")
        if any(ch not in _DIGITS for ch in body.lower()):
            raise SearchError(f"architecture {text!r}: digits must be 0-9 or a-z")
        return self.validate(np.array([[_DIGITS.index(ch) for ch in body.lower()]]), text)[0]

    def validate(self, archs: np.ndarray, what: str = "architecture") -> np.ndarray:
        """Check an [N, layers] array of choice indices; error names the row and layer."""
        archs = np.asarray(archs)
        if archs.ndim != 2 or archs.shape[1] != len(self.layers):
            raise SearchError(f"{what}: expected {len(self.layers)} choices per architecture, got shape {archs.shape}")
        counts = self.choice_counts
        bad = (archs < 0) | (archs >= counts)
        if bad.any():
            row, layer = map(int, np.argwhere(bad)[0])
            raise SearchError(f"{what}: row {row}, layer {layer}: choice {archs[row, layer]} is out of range "
                              f"0..{counts[layer] - 1}")
        return archs.astype(np.int64)

    def identity_runs(self) -> list[list[int]]:
        """Runs of consecutive alike layers whose skip is the identity: within a run, moving an
        identity to another place gives the same network."""
        runs: list[list[int]] = []
        for i, layer in enumerate(self.layers):
            skippable = layer.identity_skip and any(c.skip for c in layer.choices)
            if skippable and runs and runs[-1][-1] == i - 1 and self.layers[i - 1] == layer:
                runs[-1].append(i)
            elif skippable:
                runs.append([i])
        return [r for r in runs if len(r) > 1]

    def canonical(self, archs: np.ndarray) -> np.ndarray:
        """One encoding per distinct network: in every identity run, the blocks come first (in
        their order) and the identities last."""
        out = np.array(archs, np.int64, copy=True, ndmin=2)
        for run in self.identity_runs():
            skip = [j for j, c in enumerate(self.layers[run[0]].choices) if c.skip]
            part = out[:, run]
            order = np.argsort(np.isin(part, skip), axis=1, kind="stable")
            out[:, run] = np.take_along_axis(part, order, axis=1)
        return out

    def random(self, n: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return (rng.random((n, len(self.layers))) * self.choice_counts).astype(np.int64)
