"""int8 operator descriptions for MCU cost models: from a .tflite flatbuffer, or built from layer shapes.

An `McuOp` holds what the MCU cycle model and the memory estimate need: the op kind, its MACs,
its activation bytes (int8: one byte per element) and its constant bytes (weights, int32 biases).
The same ops come either from a real .tflite file (`read_tflite`) or analytically from layer
shapes (`conv2d`, `depthwise`, `mbconv`, ...), so the estimate for a network that was never built
and the estimate for a converted model share one cost model (net_text.py parses the calibration
data's network text into the same ops). No TensorFlow import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgelat.core.tflite_file import LoadedModel, load_tflite
from edgelat.errors import DataError

# Op kinds the cycle model prices. "conv" is a kxk (k > 1) or strided convolution, "pw" a 1x1 stride-1 one.
KINDS = ("conv", "pw", "dw", "fc", "add", "mul", "pool", "mean", "act", "softmax", "copy")


@dataclass(frozen=True)
class McuOp:
    """One int8 operator. Activation sizes are bytes (= elements for int8)."""

    kind: str
    macs: int = 0
    in_bytes: int = 0  # activation input(s), excluding constants
    out_bytes: int = 0
    const_bytes: int = 0  # weights (int8) + biases (int32) stored in flash
    channels: int = 0  # output channels (per-channel requantisation parameters)
    name: str = ""
    extra_live: int = 0  # bytes of other tensors that must stay alive during this op (residual inputs)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DataError(f"op {self.name!r}: unknown kind {self.kind!r} (known: {', '.join(KINDS)})")


def _same(hw: int, stride: int) -> int:
    return -(-hw // stride)


# -- builders from shapes --------------------------------------------------------------------
def conv2d(hw: int, cin: int, cout: int, kernel: int, stride: int = 1, name: str = "conv") -> tuple[McuOp, int]:
    """A SAME-padded conv with bias; returns the op and the output size."""
    ho = _same(hw, stride)
    kind = "pw" if kernel == 1 and stride == 1 else "conv"
    op = McuOp(kind, ho * ho * cout * kernel * kernel * cin, hw * hw * cin, ho * ho * cout,
               kernel * kernel * cin * cout + 4 * cout, cout, name)
    return op, ho


def depthwise(hw: int, channels: int, kernel: int, stride: int = 1, name: str = "dw") -> tuple[McuOp, int]:
    ho = _same(hw, stride)
    op = McuOp("dw", ho * ho * channels * kernel * kernel, hw * hw * channels, ho * ho * channels,
               kernel * kernel * channels + 4 * channels, channels, name)
    return op, ho


def fully_connected(cin: int, cout: int, name: str = "fc") -> McuOp:
    return McuOp("fc", cin * cout, cin, cout, cin * cout + 4 * cout, cout, name)


def elementwise(kind: str, hw: int, channels: int, inputs: int = 1, name: str = "") -> McuOp:
    n = hw * hw * channels
    return McuOp(kind, 0, inputs * n, n, 0, channels, name or kind)


def global_pool(hw: int, channels: int, name: str = "mean") -> McuOp:
    return McuOp("mean", hw * hw * channels, hw * hw * channels, channels, 0, channels, name)


def avg_pool(hw: int, channels: int, kernel: int, stride: int, name: str = "pool") -> tuple[McuOp, int]:
    ho = _same(hw, stride)
    return McuOp("pool", ho * ho * channels * kernel * kernel, hw * hw * channels, ho * ho * channels,
                 0, channels, name), ho


def mbconv(hw: int, cin: int, cout: int, expand: int, kernel: int, stride: int, se_channels: int = 0,
           act: str = "relu6", expand_conv: bool | None = None, prefix: str = "") -> tuple[list[McuOp], int]:
    """The int8 TFLite ops of an MBConv block as edgelat builds it (core/builders.py):
    1x1 expand (if expand > 1), kxk depthwise, optional SE (mean, 1x1 reduce, 1x1 expand, gate,
    mul; `se_channels` is the squeeze width, 0 for no SE), 1x1 project, identity add when stride 1
    and cin == cout. relu/relu6 fuse into the convs; hswish is its own op. While the block runs,
    its input stays alive for the add."""
    ops: list[McuOp] = []
    residual = stride == 1 and cin == cout
    keep = hw * hw * cin if residual else 0
    mid = cin * expand
    has_expand = expand != 1 if expand_conv is None else expand_conv
    if has_expand:
        op, _ = conv2d(hw, cin, mid, 1, 1, f"{prefix}expand")
        ops.append(op)
        if act == "hswish":
            ops.append(elementwise("act", hw, mid, name=f"{prefix}expand_hswish"))
    op, ho = depthwise(hw, mid, kernel, stride, f"{prefix}dw")
    ops.append(op)
    if act == "hswish":
        ops.append(elementwise("act", ho, mid, name=f"{prefix}dw_hswish"))
    if se_channels:
        sq = se_channels
        x_bytes = ho * ho * mid  # the block's feature map waits for the gate
        ops.append(McuOp("mean", ho * ho * mid, ho * ho * mid, mid, 0, mid, f"{prefix}se_squeeze", keep))
        ops.append(McuOp("pw", mid * sq, mid, sq, mid * sq + 4 * sq, sq, f"{prefix}se_reduce", keep + x_bytes))
        if act == "hswish":
            ops.append(McuOp("act", 0, sq, sq, 0, sq, f"{prefix}se_reduce_hswish", keep + x_bytes))
        ops.append(McuOp("pw", sq * mid, sq, mid, sq * mid + 4 * mid, mid, f"{prefix}se_expand", keep + x_bytes))
        ops.append(McuOp("act", 0, mid, mid, 0, mid, f"{prefix}se_gate", keep + x_bytes))
        ops.append(McuOp("mul", 0, x_bytes + mid, x_bytes, 0, mid, f"{prefix}se_excite", keep))
    op, ho = conv2d(ho, mid, cout, 1, 1, f"{prefix}project")
    ops.append(op)
    if residual:
        ops.append(elementwise("add", ho, cout, inputs=2, name=f"{prefix}add"))
        # every op before the add also holds the block input
        ops[:-1] = [McuOp(o.kind, o.macs, o.in_bytes, o.out_bytes, o.const_bytes, o.channels, o.name,
                          o.extra_live if o.extra_live else (keep if i > 0 else 0)) for i, o in enumerate(ops[:-1])]
    return ops, ho


# -- from a .tflite flatbuffer ----------------------------------------------------------------
@dataclass
class TFLiteModel:
    """The ops of a .tflite file plus facts the simulator reports."""

    ops: list[McuOp]
    size_bytes: int
    input_dtypes: list[str] = field(default_factory=list)
    op_names: list[str] = field(default_factory=list)


_ACT_OPS = {"HARD_SWISH", "LOGISTIC", "RELU", "RELU6", "TANH", "LEAKY_RELU", "QUANTIZE", "DEQUANTIZE"}
_COPY_OPS = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "PAD", "CONCATENATION", "STRIDED_SLICE"}


_WIDTH_BYTES = {"INT8": 1, "UINT8": 1, "INT16": 2, "INT32": 4, "FLOAT32": 4, "INT64": 8, "BOOL": 1}


@dataclass(frozen=True)
class _Tensors:
    """Shapes, byte sizes and constness of the tensors of a loaded model's first subgraph (index -1: none)."""

    loaded: LoadedModel

    def shape(self, t: int) -> list[int]:
        tensors = self.loaded.subgraph.tensors
        return [int(d) for d in tensors[t].shape] if t >= 0 and tensors[t].shape is not None else []

    def nbytes(self, t: int) -> int:
        if t < 0:
            return 0
        n = 1
        for d in self.shape(t):
            n *= d
        type_name = self.loaded.type_names.get(self.loaded.subgraph.tensors[t].type, "")
        return n * _WIDTH_BYTES.get(type_name, 4)

    def is_const(self, t: int) -> bool:
        if t < 0:
            return False
        b = self.loaded.subgraph.tensors[t].buffer
        return b > 0 and self.loaded.model.buffers[b].data is not None and len(self.loaded.model.buffers[b].data) > 0


def _mcu_op(o: Any, name: str, i: int, ts: _Tensors, where: str | None) -> McuOp:
    """The McuOp of operator `o` (number `i`, builtin `name`); an op the cost model does not price is a DataError."""
    ins = [int(t) for t in o.inputs]
    outs = [int(t) for t in o.outputs]
    act_in = sum(ts.nbytes(t) for t in ins if t >= 0 and not ts.is_const(t))
    const = sum(ts.nbytes(t) for t in ins if ts.is_const(t))
    out = sum(ts.nbytes(t) for t in outs)
    oshape = ts.shape(outs[0]) if outs else []
    out_elems = 1
    for d in oshape:
        out_elems *= d
    ch = oshape[-1] if oshape else 0
    tag = f"op{i}_{name.lower()}"
    if name == "CONV_2D":
        w = ts.shape(ins[1])  # [cout, kh, kw, cin]
        opts = o.builtinOptions
        pointwise = w[1] == 1 and w[2] == 1 and opts.strideH == 1 and opts.strideW == 1
        return McuOp("pw" if pointwise else "conv", out_elems * w[1] * w[2] * w[3], act_in, out, const, ch, tag)
    if name == "DEPTHWISE_CONV_2D":
        w = ts.shape(ins[1])  # [1, kh, kw, c]
        return McuOp("dw", out_elems * w[1] * w[2], act_in, out, const, ch, tag)
    if name == "FULLY_CONNECTED":
        w = ts.shape(ins[1])  # [out, in]
        return McuOp("fc", out_elems * w[1], act_in, out, const, ch, tag)
    if name in ("ADD", "SUB"):
        return McuOp("add", 0, act_in, out, const, ch, tag)
    if name == "MUL":
        return McuOp("mul", 0, act_in, out, const, ch, tag)
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        opts = o.builtinOptions
        return McuOp("pool", out_elems * opts.filterHeight * opts.filterWidth, act_in, out, 0, ch, tag)
    if name == "MEAN":
        return McuOp("mean", act_in, act_in, out, 0, ch, tag)
    if name == "SOFTMAX":
        return McuOp("softmax", 0, act_in, out, 0, ch, tag)
    if name in _ACT_OPS:
        return McuOp("act", 0, act_in, out, const, ch, tag)
    if name in _COPY_OPS:
        return McuOp("copy", 0, act_in, out, const, ch, tag)
    raise DataError(f"{where}: op {i} is {name}, which the MCU cost model does not price")


def read_tflite(model: str | Path | bytes, where: str | None = None) -> TFLiteModel:
    """Parse a .tflite file (path or bytes) into McuOps; unknown ops are an error, never priced at zero."""
    loaded = load_tflite(model, where)
    ts = _Tensors(loaded)
    ops = [_mcu_op(o, name, i, ts, where)
           for i, (o, name) in enumerate(zip(loaded.subgraph.operators or [], loaded.op_names, strict=True))]
    input_dtypes = [loaded.type_names.get(loaded.subgraph.tensors[t].type, "?") for t in loaded.subgraph.inputs]
    return TFLiteModel(ops, loaded.size, input_dtypes, list(loaded.op_names))
