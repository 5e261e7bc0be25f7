"""One op breakdown: the TFLite kernels a space's layer (an MBConv or a skip) becomes, or any op of a
.tflite graph, each with its multiply-accumulates, weights and activations.

What counts an op's cost starts here: the MACs of a layer choice (`core.spaces`), the physical cost
terms that price a device never seen (`predictors.basis`), and the price of any .tflite op no kernel
predictor covers (`tflite_op` and `kernel_op`, read by `predictors.kernel_fallback`): kernel launches,
MACs, weight bytes and activation bytes read and written. Latency on a GPU at batch 1 follows
launches, on a phone's CPU mostly MACs, on an accelerator bytes moved; a device's latency is, to a
first order, a non-negative mix of these four.

The kernels are those the converter emits with BatchNorm folded and ReLU/ReLU6 fused: a 1x1 expansion
CONV_2D (when the block expands, or always in FBNet), a DEPTHWISE_CONV_2D, squeeze-and-excitation (MEAN,
two CONV_2D, a gate and a MUL), a 1x1 projection CONV_2D, and an ADD for the residual. A hard-swish is a
kernel of its own. A grouped 1x1 convolution counts one launch per group (the converter splits it).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgelat.core.kernelspec import KernelSpec
    from edgelat.core.space_model import Choice, Layer
    from edgelat.core.tflite_file import Graph
    from edgelat.core.tflite_file import Op as GraphOp

TERMS = ("launches", "macs", "weight_elems", "act_elems")  # the physical cost terms, per (layer, choice)
# The basis a device never seen is fitted on: MACs split into dense (compute-bound: conv, fully connected)
# and depthwise (a few MACs per byte, so memory-bound on most hardware), the rest as TERMS.
BASIS_TERMS = ("launches", "dense_macs", "depthwise_macs", "weight_elems", "act_elems")
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
    rows = [op_terms(o) for o in layer_ops(layer, choice)] or [(0.0,) * len(TERMS)]
    return {term: float(sum(column)) for term, column in zip(TERMS, zip(*rows, strict=True), strict=True)}


def layer_basis(layer: Layer, choice: Choice) -> dict[str, float]:
    """The BASIS_TERMS of one layer choice: `layer_terms` with depthwise MACs apart from dense ones."""
    ops = layer_ops(layer, choice)
    depthwise = sum(o.macs for o in ops if o.kind == "DEPTHWISE_CONV_2D")
    return {"launches": float(sum(o.launches for o in ops)), "dense_macs": sum(o.macs for o in ops) - depthwise,
            "depthwise_macs": depthwise, "weight_elems": sum(o.weight_elems for o in ops),
            "act_elems": sum(o.in_elems + o.out_elems for o in ops)}


def op_terms(op: Op) -> tuple[float, float, float, float]:
    """The four physical cost terms (TERMS) of one op."""
    return float(op.launches), op.macs, op.weight_elems, op.in_elems + op.out_elems


def kernel_op(spec: KernelSpec) -> Op:
    """The breakdown of a measured kernel, counted as `tflite_op` counts the same op in a model: matrix
    kinds have MACs, constant operands (weights, biases, a constant addend) are weights."""
    shapes = spec.input_shapes()
    out = float(prod(spec.output_shape()))
    matrix = spec.kind in ("conv2d", "dwconv2d", "fc")
    bias = spec.output_shape()[-1] if matrix else 0
    constants = sum(prod(s) for s, const in shapes if const)
    return Op(spec.kind, float(spec.macs()) if matrix else 0.0, float(spec.weights() + bias + constants),
              float(sum(prod(s) for s, const in shapes if not const)), out)


def _elems(graph: Graph, tensor: int) -> float:
    return float(prod(max(d, 1) for d in graph.shapes[tensor])) if tensor >= 0 else 0.0


def _graph_macs(graph: Graph, op: GraphOp, out_elems: float) -> float:
    """Multiply-accumulates of the matrix ops (grouped and dilated convolutions included); 0 for the rest."""
    shape = lambda i: graph.shapes[op.inputs[i]]  # noqa: E731
    if op.name == "CONV_2D":  # filter [out, kh, kw, in per group]
        return out_elems * prod(shape(1)[1:])
    if op.name == "DEPTHWISE_CONV_2D":  # filter [1, kh, kw, out]
        return out_elems * prod(shape(1)[1:3])
    if op.name == "FULLY_CONNECTED":  # weights [units, features]
        return out_elems * shape(1)[-1]
    if op.name == "BATCH_MATMUL":  # [.., M, K] x [.., K, N]
        a = shape(0)
        return out_elems * (a[-2] if getattr(op.options, "adjX", False) else a[-1])
    if op.name == "TRANSPOSE_CONV":  # inputs: output shape, filter [out, kh, kw, in], data
        return _elems(graph, op.inputs[2]) * prod(shape(1)[:3])
    return 0.0


def tflite_op(graph: Graph, op: GraphOp) -> Op:
    """The breakdown of any operator of a .tflite graph, read from its tensors: data inputs and outputs
    are activations, constant inputs are weights."""
    data = [t for t in op.inputs if t >= 0 and not graph.constant[t]]
    weights = [t for t in op.inputs if t >= 0 and graph.constant[t]]
    out = sum(_elems(graph, t) for t in op.outputs)
    return Op(op.name, _graph_macs(graph, op, out), sum(_elems(graph, t) for t in weights),
              sum(_elems(graph, t) for t in data), out)
