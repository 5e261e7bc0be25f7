"""int8 operator descriptions for MCU cost models: from a .tflite flatbuffer, or built from layer shapes.

An `McuOp` holds what the MCU cycle model and the memory estimate need: the op kind, its MACs,
its activation bytes (int8: one byte per element) and its constant bytes (weights, int32 biases).
The same ops come either from a real .tflite file (`read_tflite`) or analytically from layer
shapes (`conv2d`, `depthwise`, `mbconv`, ...), so the estimate for a network that was never built
and the estimate for a converted model share one cost model. Also parses the compact network
text used in data/mcu_published_latency.csv (`parse_net`). No TensorFlow import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgelat.core.tflite_file import load_tflite
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


# -- the compact network text of the calibration data ---------------------------------------
def parse_net(text: str, where: str = "") -> list[McuOp]:
    """Ops of a network written as ';'-separated layers, e.g.
    ``in 96 3; conv 3 2 16; mb 1 8 1 3; mb 4 16 2 3; gap; fc 1000``.

    Layers: ``in HW C`` (square input), ``conv K S COUT``, ``dw K S``, ``pw COUT``,
    ``mb T COUT S K`` (MBConv, residual when possible), ``dsc K S COUT`` (depthwise + 1x1),
    ``res COUT S`` (ResNet basic block: two 3x3 convs, 1x1 shortcut when the shape changes),
    ``avgpool K S``, ``gap`` (global average pool), ``fc N`` (flattens first), ``softmax``,
    and ``op KIND MACS IN OUT CONST CH`` for an op given by its numbers (non-square layers; the
    shape state is left unchanged, so follow it with ``in`` when the next layer needs one).
    """
    prefix = f"{where}: " if where else ""
    hw = ch = None
    flat = None  # length of a flattened vector once fc starts
    ops: list[McuOp] = []
    for i, raw in enumerate(p for p in text.split(";") if p.strip()):
        parts = raw.split()
        name, args = parts[0], parts[1:]
        if name == "op":
            if len(args) != 6 or args[0] not in KINDS or not all(a.isdigit() for a in args[1:]):
                raise DataError(f"{prefix}layer {i} {raw.strip()!r}: expected 'op KIND MACS IN OUT CONST CH'")
            ops.append(McuOp(args[0], *map(int, args[1:]), name=f"l{i}_{args[0]}"))
            hw = hw if hw is not None else 1
            continue
        try:
            nums = [int(a) for a in args]
        except ValueError:
            raise DataError(f"{prefix}layer {i} {raw.strip()!r}: arguments must be integers") from None
        want = {"in": 2, "conv": 3, "dw": 2, "pw": 1, "mb": 4, "dsc": 3, "res": 2, "avgpool": 2, "gap": 0,
                "fc": 1, "softmax": 0}
        if name not in want:
            raise DataError(f"{prefix}layer {i} {raw.strip()!r}: unknown layer {name!r} (known: {', '.join(want)})")
        if len(nums) != want[name]:
            raise DataError(f"{prefix}layer {i} {raw.strip()!r}: {name} takes {want[name]} numbers")
        if name != "in" and hw is None:
            raise DataError(f"{prefix}the network must start with 'in HW C'")
        tag = f"l{i}_"
        if name == "in":
            hw, ch = nums
        elif name == "conv":
            op, hw = conv2d(hw, ch, nums[2], nums[0], nums[1], f"{tag}conv")
            ops.append(op)
            ch = nums[2]
        elif name == "pw":
            op, hw = conv2d(hw, ch, nums[0], 1, 1, f"{tag}pw")
            ops.append(op)
            ch = nums[0]
        elif name == "dw":
            op, hw = depthwise(hw, ch, nums[0], nums[1], f"{tag}dw")
            ops.append(op)
        elif name == "dsc":
            op, hw = depthwise(hw, ch, nums[0], nums[1], f"{tag}dw")
            ops.append(op)
            op, hw = conv2d(hw, ch, nums[2], 1, 1, f"{tag}pw")
            ops.append(op)
            ch = nums[2]
        elif name == "mb":
            block, hw = mbconv(hw, ch, nums[1], nums[0], nums[3], nums[2], prefix=tag)
            ops += block
            ch = nums[1]
        elif name == "res":
            cout, s = nums
            keep = hw * hw * ch
            a, ho = conv2d(hw, ch, cout, 3, s, f"{tag}conv_a")
            b, _ = conv2d(ho, cout, cout, 3, 1, f"{tag}conv_b")
            ops += [McuOp(a.kind, a.macs, a.in_bytes, a.out_bytes, a.const_bytes, a.channels, a.name, 0),
                    McuOp(b.kind, b.macs, b.in_bytes, b.out_bytes, b.const_bytes, b.channels, b.name, keep)]
            if s != 1 or cout != ch:
                sc, _ = conv2d(hw, ch, cout, 1, s, f"{tag}shortcut")
                ops.append(McuOp("conv", sc.macs, sc.in_bytes, sc.out_bytes, sc.const_bytes, sc.channels, sc.name,
                                 ho * ho * cout))
            ops.append(elementwise("add", ho, cout, inputs=2, name=f"{tag}add"))
            hw, ch = ho, cout
        elif name == "avgpool":
            op, hw = avg_pool(hw, ch, nums[0], nums[1], f"{tag}pool")
            ops.append(op)
        elif name == "gap":
            ops.append(global_pool(hw, ch, f"{tag}gap"))
            hw = 1
        elif name == "fc":
            cin = flat if flat is not None else hw * hw * ch
            ops.append(fully_connected(cin, nums[0], f"{tag}fc"))
            flat = ch = nums[0]
            hw = 1
        elif name == "softmax":
            n = flat if flat is not None else hw * hw * ch
            ops.append(McuOp("softmax", 0, n, n, 0, n, f"{tag}softmax"))
    if not ops:
        raise DataError(f"{prefix}network has no layers")
    return ops


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


def read_tflite(model: str | Path | bytes, where: str | None = None) -> TFLiteModel:
    """Parse a .tflite file (path or bytes) into McuOps; unknown ops are an error, never priced at zero."""
    loaded = load_tflite(model, where)
    m, sub, types = loaded.model, loaded.subgraph, loaded.type_names
    tensors = sub.tensors

    def shape(t: int) -> list[int]:
        return [int(d) for d in tensors[t].shape] if t >= 0 and tensors[t].shape is not None else []

    def nbytes(t: int) -> int:
        if t < 0:
            return 0
        n = 1
        for d in shape(t):
            n *= d
        width = {"INT8": 1, "UINT8": 1, "INT16": 2, "INT32": 4, "FLOAT32": 4, "INT64": 8, "BOOL": 1}
        return n * width.get(types.get(tensors[t].type, ""), 4)

    def is_const(t: int) -> bool:
        if t < 0:
            return False
        b = tensors[t].buffer
        return b > 0 and m.buffers[b].data is not None and len(m.buffers[b].data) > 0

    ops, op_names = [], []
    for i, (o, name) in enumerate(zip(sub.operators or [], loaded.op_names, strict=True)):
        ins = [int(t) for t in o.inputs]
        outs = [int(t) for t in o.outputs]
        act_in = sum(nbytes(t) for t in ins if t >= 0 and not is_const(t))
        const = sum(nbytes(t) for t in ins if is_const(t))
        out = sum(nbytes(t) for t in outs)
        oshape = shape(outs[0]) if outs else []
        out_elems = 1
        for d in oshape:
            out_elems *= d
        ch = oshape[-1] if oshape else 0
        tag = f"op{i}_{name.lower()}"
        if name == "CONV_2D":
            w = shape(ins[1])  # [cout, kh, kw, cin]
            opts = o.builtinOptions
            pointwise = w[1] == 1 and w[2] == 1 and opts.strideH == 1 and opts.strideW == 1
            op = McuOp("pw" if pointwise else "conv", out_elems * w[1] * w[2] * w[3], act_in, out, const, ch, tag)
        elif name == "DEPTHWISE_CONV_2D":
            w = shape(ins[1])  # [1, kh, kw, c]
            op = McuOp("dw", out_elems * w[1] * w[2], act_in, out, const, ch, tag)
        elif name == "FULLY_CONNECTED":
            w = shape(ins[1])  # [out, in]
            op = McuOp("fc", out_elems * w[1], act_in, out, const, ch, tag)
        elif name in ("ADD", "SUB"):
            op = McuOp("add", 0, act_in, out, const, ch, tag)
        elif name == "MUL":
            op = McuOp("mul", 0, act_in, out, const, ch, tag)
        elif name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            opts = o.builtinOptions
            op = McuOp("pool", out_elems * opts.filterHeight * opts.filterWidth, act_in, out, 0, ch, tag)
        elif name == "MEAN":
            op = McuOp("mean", act_in, act_in, out, 0, ch, tag)
        elif name == "SOFTMAX":
            op = McuOp("softmax", 0, act_in, out, 0, ch, tag)
        elif name in _ACT_OPS:
            op = McuOp("act", 0, act_in, out, const, ch, tag)
        elif name in _COPY_OPS:
            op = McuOp("copy", 0, act_in, out, const, ch, tag)
        else:
            raise DataError(f"{where}: op {i} is {name}, which the MCU cost model does not price")
        ops.append(op)
        op_names.append(name)
    input_dtypes = [types.get(tensors[t].type, "?") for t in sub.inputs]
    return TFLiteModel(ops, loaded.size, input_dtypes, op_names)
