"""The compact network text of data/mcu_published_latency.csv, parsed into int8 McuOps for the cycle model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edgelat.devices.mcu.ops import (
    KINDS,
    McuOp,
    avg_pool,
    conv2d,
    depthwise,
    elementwise,
    fully_connected,
    global_pool,
    mbconv,
)
from edgelat.errors import DataError


@dataclass
class _Shape:
    """The feature map after the layers read so far: square size, channels, and a flattened length once fc starts."""

    hw: int | None = None
    ch: int | None = None
    flat: int | None = None

    def elements(self) -> int:
        return self.flat if self.flat is not None else self.hw * self.hw * self.ch


def _in(s: _Shape, n: list[int], tag: str) -> list[McuOp]:
    s.hw, s.ch = n
    return []


def _conv(s: _Shape, n: list[int], tag: str) -> list[McuOp]:
    op, s.hw = conv2d(s.hw, s.ch, n[2], n[0], n[1], f"{tag}conv")
    s.ch = n[2]
    return [op]


def _dw(s: _Shape, n: list[int], tag: str) -> list[McuOp]:
    op, s.hw = depthwise(s.hw, s.ch, n[0], n[1], f"{tag}dw")
    return [op]


def _pw(s: _Shape, n: list[int], tag: str) -> list[McuOp]:
    op, s.hw = conv2d(s.hw, s.ch, n[0], 1, 1, f"{tag}pw")
    s.ch = n[0]
    return [op]


def _mb(s: _Shape, n: list[int], tag: str) -> list[McuOp]:
    block, s.hw = mbconv(s.hw, s.ch, n[1], n[0], n[3], n[2], prefix=tag)
    s.ch = n[1]
    return block


def _dsc(s: _Shape, n: list[int], tag: str) -> list[McuOp]:
    return _dw(s, n[:2], tag) + _pw(s, n[2:], tag)


def _res(s: _Shape, n: list[int], tag: str) -> list[McuOp]:
    """ResNet basic block: two 3x3 convs (the second keeps the input alive), a 1x1 shortcut when the shape changes."""
    (cout, stride), hw, ch = n, s.hw, s.ch
    keep = hw * hw * ch
    a, ho = conv2d(hw, ch, cout, 3, stride, f"{tag}conv_a")
    b, _ = conv2d(ho, cout, cout, 3, 1, f"{tag}conv_b")
    ops = [McuOp(a.kind, a.macs, a.in_bytes, a.out_bytes, a.const_bytes, a.channels, a.name, 0),
           McuOp(b.kind, b.macs, b.in_bytes, b.out_bytes, b.const_bytes, b.channels, b.name, keep)]
    if stride != 1 or cout != ch:
        sc, _ = conv2d(hw, ch, cout, 1, stride, f"{tag}shortcut")
        ops.append(McuOp("conv", sc.macs, sc.in_bytes, sc.out_bytes, sc.const_bytes, sc.channels, sc.name,
                         ho * ho * cout))
    ops.append(elementwise("add", ho, cout, inputs=2, name=f"{tag}add"))
    s.hw, s.ch = ho, cout
    return ops


def _avgpool(s: _Shape, n: list[int], tag: str) -> list[McuOp]:
    op, s.hw = avg_pool(s.hw, s.ch, n[0], n[1], f"{tag}pool")
    return [op]


def _gap(s: _Shape, n: list[int], tag: str) -> list[McuOp]:
    op = global_pool(s.hw, s.ch, f"{tag}gap")
    s.hw = 1
    return [op]


def _fc(s: _Shape, n: list[int], tag: str) -> list[McuOp]:
    op = fully_connected(s.elements(), n[0], f"{tag}fc")
    s.flat = s.ch = n[0]
    s.hw = 1
    return [op]


def _softmax(s: _Shape, n: list[int], tag: str) -> list[McuOp]:
    size = s.elements()
    return [McuOp("softmax", 0, size, size, 0, size, f"{tag}softmax")]


# layer name -> (how many integers it takes, what it adds)
_LAYERS: dict[str, tuple[int, Callable[[_Shape, list[int], str], list[McuOp]]]] = {
    "in": (2, _in), "conv": (3, _conv), "dw": (2, _dw), "pw": (1, _pw), "mb": (4, _mb), "dsc": (3, _dsc),
    "res": (2, _res), "avgpool": (2, _avgpool), "gap": (0, _gap), "fc": (1, _fc), "softmax": (0, _softmax),
}


def _given_op(args: list[str], raw: str, i: int, prefix: str) -> McuOp:
    """An ``op KIND MACS IN OUT CONST CH`` layer."""
    if len(args) != 6 or args[0] not in KINDS or not all(a.isdigit() for a in args[1:]):
        raise DataError(f"{prefix}layer {i} {raw.strip()!r}: expected 'op KIND MACS IN OUT CONST CH'")
    return McuOp(args[0], *map(int, args[1:]), name=f"l{i}_{args[0]}")


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
    shape = _Shape()
    ops: list[McuOp] = []
    for i, raw in enumerate(p for p in text.split(";") if p.strip()):
        parts = raw.split()
        name, args = parts[0], parts[1:]
        if name == "op":
            ops.append(_given_op(args, raw, i, prefix))
            shape.hw = shape.hw if shape.hw is not None else 1
            continue
        try:
            nums = [int(a) for a in args]
        except ValueError:
            raise DataError(f"{prefix}layer {i} {raw.strip()!r}: arguments must be integers") from None
        if name not in _LAYERS:
            raise DataError(f"{prefix}layer {i} {raw.strip()!r}: unknown layer {name!r} (known: {', '.join(_LAYERS)})")
        count, add = _LAYERS[name]
        if len(nums) != count:
            raise DataError(f"{prefix}layer {i} {raw.strip()!r}: {name} takes {count} numbers")
        if name != "in" and shape.hw is None:
            raise DataError(f"{prefix}the network must start with 'in HW C'")
        ops += add(shape, nums, f"l{i}_")
    if not ops:
        raise DataError(f"{prefix}network has no layers")
    return ops
