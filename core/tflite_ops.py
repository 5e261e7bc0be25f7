"""Every operator of a .tflite model as a kernel (KernelSpec), read from the flatbuffer without
TensorFlow: what a kernel predictor prices and what `profile --kernels --from-model` measures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edgelat.core.kernelspec import OP_KINDS, KernelSpec, shape_text
from edgelat.core.tflite_file import Graph, Op, read_graph
from edgelat.errors import BlockSpecError

_FUSED = {0: "none", 1: "relu", 3: "relu6"}
_PADDING = {0: "same", 1: "valid"}


@dataclass(frozen=True)
class OpKernel:
    """One op of a model: its index and name, and its kernel (None when no kernel type covers it,
    with the reason in `why`)."""

    index: int
    op: str
    spec: KernelSpec | None
    why: str = ""


def _shape(graph: Graph, tensor: int) -> tuple[int, ...]:
    shape = tuple(graph.shapes[tensor])
    return shape[1:] if len(shape) >= 2 and shape[0] == 1 else shape


def op_dtype(graph: Graph, op: Op) -> str:
    """int8 when any data tensor of the op is (u)int8, else fp32."""
    tensors = [t for t in (*op.inputs, *op.outputs) if t >= 0 and not graph.constant[t]]
    return "int8" if any(graph.dtypes[t] in ("INT8", "UINT8") for t in tensors) else "fp32"


def _window(graph: Graph, op: Op, kind: str) -> tuple[int, int, str]:
    """(kernel size, stride, padding) of a conv, depthwise conv or pool; raises on non-square ones."""
    o = op.options
    if kind in ("maxpool", "avgpool"):
        kh, kw = o.filterHeight, o.filterWidth
    else:
        w = graph.shapes[op.inputs[1]]
        kh, kw = w[1], w[2]
    if kh != kw or o.strideH != o.strideW:
        raise BlockSpecError(f"non-square window {kh}x{kw} or stride {o.strideH}x{o.strideW}")
    if getattr(o, "dilationHFactor", 1) not in (0, 1) or getattr(o, "dilationWFactor", 1) not in (0, 1):
        raise BlockSpecError("dilated convolution")
    return int(kh), int(o.strideH), _PADDING[o.padding]


def _inputs(graph: Graph, op: Op, kind: str) -> tuple[str, ...]:
    """Input shape texts: every operand of the elementwise and concat kinds (constants marked),
    else the data input alone (weights, biases and shape operands are part of the kernel)."""
    if kind in ("add", "sub", "mul", "concat"):
        return tuple(shape_text(_shape(graph, t), graph.constant[t]) for t in op.inputs if t >= 0)
    return (shape_text(_shape(graph, op.inputs[0])),)


def kernel_of(graph: Graph, op: Op) -> KernelSpec:
    """The kernel of one op; a BlockSpecError says why it has none."""
    kind = OP_KINDS.get(op.name)
    if kind is None:
        raise BlockSpecError("no kernel type for this operator")
    act = _FUSED.get(getattr(op.options, "fusedActivationFunction", 0) or 0)
    if act is None:
        raise BlockSpecError(f"fused activation {op.options.fusedActivationFunction} is not priced")
    if kind == "quantize" and graph.dtypes[op.inputs[0]] != "FLOAT32":
        source, target = graph.dtypes[op.inputs[0]], graph.dtypes[op.outputs[0]]
        raise BlockSpecError(f"requantize ({source} to {target}) is not priced")
    if kind == "dequantize" and graph.constant[op.inputs[0]]:
        raise BlockSpecError("dequantize of constant weights (as in fp16 models) is not priced")
    if kind == "conv2d" and graph.shapes[op.inputs[1]][3] != graph.shapes[op.inputs[0]][3]:
        raise BlockSpecError("grouped convolution")
    kernel, stride, padding = _window(graph, op, kind) if kind in ("conv2d", "dwconv2d", "maxpool", "avgpool") \
        else (0, 1, "valid")
    return KernelSpec(kind, _inputs(graph, op, kind), shape_text(_shape(graph, op.outputs[0])), kernel, stride,
                      padding, act, op_dtype(graph, op))


def model_kernels(model: str | Path | bytes | Graph) -> list[OpKernel]:
    """Every op of a model with its kernel, in execution order."""
    graph = model if isinstance(model, Graph) else read_graph(model)
    out = []
    for op in graph.ops:
        try:
            out.append(OpKernel(op.index, op.name, kernel_of(graph, op)))
        except BlockSpecError as exc:
            out.append(OpKernel(op.index, op.name, None, str(exc)))
    return out


def unique_kernels(paths: Iterable[str | Path]) -> tuple[list[KernelSpec], dict[str, int]]:
    """The distinct kernels of several models, and the count of ops per op name that have none."""
    seen: dict[str, KernelSpec] = {}
    missing: dict[str, int] = {}
    for path in paths:
        for k in model_kernels(path):
            if k.spec is None:
                missing[k.op] = missing.get(k.op, 0) + 1
            else:
                seen.setdefault(k.spec.key, k.spec)
    return list(seen.values()), missing
