"""What an MBConv block is: its validated fields and its one canonical key string.

The key (e.g. ``mbconv-i112-c16-o24-e6-k5-s2-se1-relu6-fp32``) is at once the
conversion-cache key, the store key and the lookup-table key.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from edgelat.core.channels import round_channels
from edgelat.errors import BlockSpecError

ACTIVATIONS = ("relu", "relu6", "hswish")
DTYPES = ("fp32", "int8")
KERNELS = (1, 3, 5, 7)
STRIDES = (1, 2)

# Names other projects use for our activations (nn-Meter writes hard_swish, Keras hard_silu).
_ACT_ALIASES = {
    "relu": "relu",
    "relu6": "relu6",
    "hswish": "hswish",
    "h_swish": "hswish",
    "hard_swish": "hswish",
    "hardswish": "hswish",
    "hard_silu": "hswish",
}

_KEY_RE = re.compile(
    r"^mbconv-i(?P<input_hw>\d+)-c(?P<cin>\d+)-o(?P<cout>\d+)-e(?P<expand>\d+)"
    r"-k(?P<kernel>\d+)-s(?P<stride>\d+)-se(?P<se>[01])-(?P<act>[a-z0-9]+)-(?P<dtype>[a-z0-9]+)$"
)


def canonical_act(name: str) -> str:
    """Map an activation name or alias to one of ACTIVATIONS, or raise."""
    act = _ACT_ALIASES.get(str(name).strip().lower())
    if act is None:
        raise BlockSpecError(f"act: unknown activation {name!r} (expected one of {ACTIVATIONS})")
    return act


def _as_int(field: str, value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.0*)?", value.strip()):
        return int(float(value))
    raise BlockSpecError(f"{field}: expected an integer, got {value!r}")


@dataclass(frozen=True, order=True)
class BlockSpec:
    """An MBConv (inverted residual) block: 1x1 expand, kxk depthwise, optional SE, 1x1 project.

    ``expand == 1`` means no expansion convolution (as in MobileNetV2's first block).
    The identity residual is present exactly when ``stride == 1 and cin == cout``.
    """

    input_hw: int
    cin: int
    cout: int
    expand: int
    kernel: int
    stride: int
    se: int = 0
    act: str = "relu6"
    dtype: str = "fp32"

    def __post_init__(self) -> None:
        for name in ("input_hw", "cin", "cout", "expand", "kernel", "stride", "se"):
            object.__setattr__(self, name, _as_int(name, getattr(self, name)))
        object.__setattr__(self, "act", canonical_act(self.act))
        object.__setattr__(self, "dtype", str(self.dtype).strip().lower())
        for name in ("input_hw", "cin", "cout", "expand"):
            if getattr(self, name) < 1:
                raise BlockSpecError(f"{name}: must be a positive integer, got {getattr(self, name)}")
        if self.kernel not in KERNELS:
            raise BlockSpecError(f"kernel: must be one of {KERNELS}, got {self.kernel}")
        if self.stride not in STRIDES:
            raise BlockSpecError(f"stride: must be one of {STRIDES}, got {self.stride}")
        if self.se not in (0, 1):
            raise BlockSpecError(f"se: must be 0 or 1, got {self.se}")
        if self.dtype not in DTYPES:
            raise BlockSpecError(f"dtype: must be one of {DTYPES}, got {self.dtype!r}")

    # -- derived shape facts -------------------------------------------------------------
    @property
    def key(self) -> str:
        return (
            f"mbconv-i{self.input_hw}-c{self.cin}-o{self.cout}-e{self.expand}-k{self.kernel}"
            f"-s{self.stride}-se{self.se}-{self.act}-{self.dtype}"
        )

    @property
    def expanded_channels(self) -> int:
        return self.cin * self.expand

    @property
    def se_channels(self) -> int:
        """Squeeze width of the SE module: a quarter of the expanded width, rounded."""
        return round_channels(self.expanded_channels / 4) if self.se else 0

    @property
    def output_hw(self) -> int:
        return -(-self.input_hw // self.stride)  # SAME padding

    @property
    def has_residual(self) -> bool:
        return self.stride == 1 and self.cin == self.cout

    def with_dtype(self, dtype: str) -> BlockSpec:
        return replace(self, dtype=dtype)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # -- parsing ---------------------------------------------------------------------------
    @classmethod
    def from_key(cls, key: str) -> BlockSpec:
        match = _KEY_RE.match(key.strip())
        if not match:
            raise BlockSpecError(
                f"not a block key: {key!r} (expected e.g. mbconv-i112-c16-o24-e6-k5-s2-se0-relu6-fp32)"
            )
        spec = cls(**match.groupdict())
        if spec.key != key.strip():
            raise BlockSpecError(f"block key {key!r} is not canonical; did you mean {spec.key!r}?")
        return spec

    @classmethod
    def from_mapping(cls, row: dict[str, Any], *, where: str = "") -> BlockSpec:
        """Build from a dict-like row (CSV, JSON); errors name the missing field and `where`."""
        prefix = f"{where}: " if where else ""
        kwargs = {}
        for f in fields(cls):
            if f.name in row and row[f.name] not in (None, ""):
                kwargs[f.name] = row[f.name]
            elif f.name in ("se", "act", "dtype"):
                continue  # defaults apply
            else:
                raise BlockSpecError(f"{prefix}missing field {f.name!r}")
        try:
            return cls(**kwargs)
        except BlockSpecError as exc:
            raise BlockSpecError(f"{prefix}{exc}") from None


FIELD_NAMES = tuple(f.name for f in fields(BlockSpec))
