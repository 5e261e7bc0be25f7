"""What a kernel is: one TFLite operator with the features that decide its cost, and its one
canonical key string.

The key (e.g. ``kernel-conv2d-i56x56x32-o56x56x64-k3-s1-same-relu6-fp32``) is at once the
conversion-cache key, the store key and the predictors' key, as a block's key is for blocks.
Shapes leave out the batch dimension (always 1); a constant operand of ADD or MUL is written
with a leading ``c`` (``c1x1x32``, ``c`` for a scalar), since its size matters but it is no
input of the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import prod

from edgelat.errors import BlockSpecError

# Kernel type per TFLite builtin operator (the ops a kernel predictor prices).
OP_KINDS = {
    "CONV_2D": "conv2d", "DEPTHWISE_CONV_2D": "dwconv2d", "FULLY_CONNECTED": "fc",
    "MAX_POOL_2D": "maxpool", "AVERAGE_POOL_2D": "avgpool", "MEAN": "mean",
    "ADD": "add", "SUB": "sub", "MUL": "mul", "CONCATENATION": "concat", "PAD": "pad",
    "RESHAPE": "reshape", "SOFTMAX": "softmax", "HARD_SWISH": "hswish", "LOGISTIC": "sigmoid",
    "RELU": "relu", "RELU6": "relu6", "QUANTIZE": "quantize", "DEQUANTIZE": "dequantize",
    "STRIDED_SLICE": "slice",
}
KINDS = tuple(dict.fromkeys(OP_KINDS.values()))
PADDINGS = ("same", "valid")
ACTS = ("none", "relu", "relu6")
DTYPES = ("fp32", "int8")
QUANT_KINDS = ("quantize", "dequantize")  # float to int8 and back: int8 models only
WINDOWED = ("conv2d", "dwconv2d", "maxpool", "avgpool")  # kinds with a kernel size, stride and padding

_SHAPE = r"c?\d*(?:x\d+)*"
_KEY_RE = re.compile(
    rf"^kernel-(?P<kind>[a-z0-9]+)-i(?P<inputs>{_SHAPE}(?:\+{_SHAPE})*)-o(?P<output>\d+(?:x\d+)*)"
    r"-k(?P<kernel>\d+)-s(?P<stride>\d+)-(?P<padding>same|valid)-(?P<act>[a-z0-9]+)-(?P<dtype>fp32|int8)$"
)


def shape_text(shape: tuple[int, ...], constant: bool = False) -> str:
    return ("c" if constant else "") + "x".join(str(d) for d in shape)


def parse_shape(text: str) -> tuple[tuple[int, ...], bool]:
    constant = text.startswith("c")
    body = text[1:] if constant else text
    return (tuple(int(d) for d in body.split("x")) if body else ()), constant


@dataclass(frozen=True, order=True)
class KernelSpec:
    """One operator: its kind, input shapes (constants marked), output shape, window and fused
    activation, in fp32 or full-integer int8."""

    kind: str
    inputs: tuple[str, ...]  # shape texts, e.g. ("56x56x32",) or ("14x14x96", "c1x1x96")
    output: str
    kernel: int = 0
    stride: int = 1
    padding: str = "valid"
    act: str = "none"
    dtype: str = "fp32"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise BlockSpecError(f"kind: unknown kernel type {self.kind!r} (known: {', '.join(KINDS)})")
        if self.padding not in PADDINGS:
            raise BlockSpecError(f"padding: must be one of {PADDINGS}, got {self.padding!r}")
        if self.act not in ACTS:
            raise BlockSpecError(f"act: must be one of {ACTS}, got {self.act!r}")
        if self.dtype not in DTYPES:
            raise BlockSpecError(f"dtype: must be fp32 or int8, got {self.dtype!r}")
        if self.kind in QUANT_KINDS and self.dtype != "int8":
            raise BlockSpecError(f"{self.kind}: converts between float and int8, so its dtype is int8, "
                                 f"not {self.dtype}")
        if not self.inputs or any(not re.fullmatch(_SHAPE, t) or t == "" for t in (*self.inputs, self.output)):
            raise BlockSpecError(f"shapes: not valid shape texts: {self.inputs} -> {self.output!r}")
        if self.kind in WINDOWED and (self.kernel < 1 or self.stride < 1):
            raise BlockSpecError(f"{self.kind}: needs kernel >= 1 and stride >= 1, got k{self.kernel} s{self.stride}")
        if all(parse_shape(t)[1] for t in self.inputs):
            raise BlockSpecError(f"{self.kind}: at least one input must be a tensor, not a constant")

    @property
    def key(self) -> str:
        return (f"kernel-{self.kind}-i{'+'.join(self.inputs)}-o{self.output}-k{self.kernel}-s{self.stride}-"
                f"{self.padding}-{self.act}-{self.dtype}")

    @classmethod
    def from_key(cls, key: str) -> KernelSpec:
        m = _KEY_RE.match(key.strip())
        if not m:
            raise BlockSpecError(f"not a kernel key: {key!r} (e.g. kernel-conv2d-i56x56x32-o56x56x64-k3-s1-same-"
                                 "relu6-fp32)")
        return cls(m["kind"], tuple(m["inputs"].split("+")), m["output"], int(m["kernel"]), int(m["stride"]),
                   m["padding"], m["act"], m["dtype"])

    def with_dtype(self, dtype: str) -> KernelSpec:
        return KernelSpec(self.kind, self.inputs, self.output, self.kernel, self.stride, self.padding, self.act,
                          dtype)

    def input_shapes(self) -> list[tuple[tuple[int, ...], bool]]:
        """(shape, is_constant) per input."""
        return [parse_shape(t) for t in self.inputs]

    def output_shape(self) -> tuple[int, ...]:
        return parse_shape(self.output)[0]

    def macs(self) -> int:
        """Multiply-accumulates of the windowed and matrix kinds; elements of the output otherwise."""
        (first, _), out = self.input_shapes()[0], self.output_shape()
        if self.kind == "conv2d":
            return prod(out) * self.kernel * self.kernel * first[-1]
        if self.kind in ("dwconv2d", "maxpool", "avgpool"):
            return prod(out) * self.kernel * self.kernel
        if self.kind == "fc":
            return prod(first) * out[-1]
        return max(prod(s) for s, _ in self.input_shapes()) if self.kind in ("mean",) else prod(out)

    def weights(self) -> int:
        """Weight elements of the kinds that carry weights (biases aside); 0 otherwise."""
        tensors = [s for s, const in self.input_shapes() if not const]
        first, out = (tensors[0] if tensors else (1,)), self.output_shape()
        return {"conv2d": self.kernel ** 2 * first[-1] * out[-1], "dwconv2d": self.kernel ** 2 * out[-1],
                "fc": prod(first) * out[-1]}.get(self.kind, 0)


def is_kernel_key(key: str) -> bool:
    return key.startswith("kernel-")
