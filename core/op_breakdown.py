"""One op breakdown of a space's layer: the TFLite kernels an MBConv (or a skip) becomes, each with its
multiply-accumulates, weights and activations.

Everything that counts a layer's cost starts here: MACs and params of a choice (`core.spaces`), the bytes a
network streams (`core.footprint`), and the physical cost terms that price a device never seen
(`predictors.basis`): kernel launches, MACs, weight bytes and activation bytes read and written. Latency on
a GPU at batch 1 follows launches, on a phone's CPU mostly MACs, on an accelerator bytes moved; a device's
latency is, to a first order, a non-negative mix of these four.

The kernels are those the converter emits with BatchNorm folded and ReLU/ReLU6 fused: a 1x1 expansion
CONV_2D (when the block expands, or always in FBNet), a DEPTHWISE_CONV_2D, squeeze-and-excitation (MEAN,
two CONV_2D, a gate and a MUL), a 1x1 projection CONV_2D, and an ADD for the residual. A hard-swish is a
kernel of its own. A grouped 1x1 convolution counts one launch per group (the converter splits it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgelat.core.spaces import Choice, Layer

TERMS = ("launches", "macs", "weight_elems", "act_elems")  # the physical cost terms, per (layer, choice)
_FUSED_ACTS = ("relu", "relu6", "none", "linear")


@dataclass(frozen=True)
class Op:
    """One kernel: its type, MACs, weight elements (biases included) and activation elements in and out."""

    kind: str
    macs: float
    weight_elems: float
    in_elems: float
    out_elems: float
    launches: int = 1


def _conv(kind: str, hw_in: int, hw_out: int, cin: int, cout: int, k: int, groups: int = 1) -> list[Op]:
    per_group = cin // groups if kind == "CONV_2D" else 1
    macs = hw_out * hw_out * cout * per_group * k * k
    weights = cout * per_group * k * k + cout
    op = Op(kind, float(macs), float(weights), float(hw_in * hw_in * cin), float(hw_out * hw_out * cout),
            launches=groups)
    return [op]


def _activation(layer: Layer, hw: int, channels: int) -> list[Op]:
    """A separate kernel for activations the converter cannot fuse (hard-swish, swish)."""
    if layer.act in _FUSED_ACTS:
        return []
    elems = float(hw * hw * channels)
    return [Op(layer.act.upper(), 0.0, 0.0, elems, elems)]


def _squeeze_excite(hw: int, mid: int) -> list[Op]:
    squeezed = max(1, mid // 4)  # a quarter of the expanded width, as the builders make it
    pooled = float(mid)
    return [Op("MEAN", 0.0, 0.0, float(hw * hw * mid), pooled),
            Op("CONV_2D", float(mid * squeezed), float(mid * squeezed + squeezed), pooled, float(squeezed)),
            Op("CONV_2D", float(mid * squeezed), float(mid * squeezed + mid), float(squeezed), pooled),
            Op("LOGISTIC", 0.0, 0.0, pooled, pooled),
            Op("MUL", 0.0, 0.0, float(hw * hw * mid) + pooled, float(hw * hw * mid))]


def layer_ops(layer: Layer, choice: Choice) -> list[Op]:
    """The kernels of `layer` with `choice`, in order (an identity skip has none)."""
    hw, ho = layer.input_hw, layer.output_hw
    if choice.skip:
        return [] if layer.identity_skip else _conv("CONV_2D", hw, ho, layer.cin, layer.cout, 1)
    mid = layer.cin * choice.expand
    ops: list[Op] = []
    if choice.expand > 1 or layer.expand_conv_always:
        ops += _conv("CONV_2D", hw, hw, layer.cin, mid, 1, choice.groups) + _activation(layer, hw, mid)
    ops += _conv("DEPTHWISE_CONV_2D", hw, ho, mid, mid, choice.kernel) + _activation(layer, ho, mid)
    if layer.se:
        ops += _squeeze_excite(ho, mid)
    ops += _conv("CONV_2D", ho, ho, mid, layer.cout, 1, choice.groups)
    if layer.stride == 1 and layer.cin == layer.cout:
        ops.append(Op("ADD", 0.0, 0.0, float(2 * ho * ho * layer.cout), float(ho * ho * layer.cout)))
    return ops


def layer_terms(layer: Layer, choice: Choice) -> dict[str, float]:
    """The four physical cost terms of one layer choice (activations: elements read plus written)."""
    ops = layer_ops(layer, choice)
    return {"launches": float(sum(o.launches for o in ops)), "macs": sum(o.macs for o in ops),
            "weight_elems": sum(o.weight_elems for o in ops),
            "act_elems": sum(o.in_elems + o.out_elems for o in ops)}
