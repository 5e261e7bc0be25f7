"""A whole network of a built-in space as a measurable item, with one canonical key.

The key (e.g. ``net-single-path-r128-w1-c10-0344434443444344404440-fp32``) is at once the
conversion-cache key and the store key, as a block's key is for blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from edgelat.core.blockspec import BlockSpec
from edgelat.core.kernelspec import KernelSpec, is_kernel_key
from edgelat.core.spaces import SPACES, SearchSpace, get_space
from edgelat.errors import BlockSpecError

_KEY_RE = re.compile(r"^net-(?P<space>[a-z0-9-]+)-r(?P<resolution>\d+)-w(?P<width>[0-9.]+)-c(?P<num_classes>\d+)"
                     r"-(?P<arch>[0-9a-z]+)-(?P<dtype>fp32|int8)$")


@dataclass(frozen=True, order=True)
class NetworkSpec:
    """Architecture `arch` (the encoding's digits) of built-in space `space` at a resolution, width,
    class count and dtype: enough to rebuild exactly the network that was measured."""

    space: str
    resolution: int
    width: float
    num_classes: int
    arch: str
    dtype: str = "fp32"

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise BlockSpecError(f"space: whole networks are measured for built-in spaces ({', '.join(SPACES)}), "
                                 f"not {self.space!r}")
        if self.dtype not in ("fp32", "int8"):
            raise BlockSpecError(f"dtype: must be fp32 or int8, got {self.dtype!r}")
        self.search_space().decode(f"{self.space}:{self.arch}")  # validates the digits

    @property
    def key(self) -> str:
        return (f"net-{self.space}-r{self.resolution}-w{self.width:g}-c{self.num_classes}-{self.arch}-"
                f"{self.dtype}")

    def search_space(self) -> SearchSpace:
        return get_space(self.space, self.resolution, self.width, self.num_classes)

    def indices(self) -> np.ndarray:
        return self.search_space().decode(f"{self.space}:{self.arch}")

    def with_dtype(self, dtype: str) -> NetworkSpec:
        return NetworkSpec(self.space, self.resolution, self.width, self.num_classes, self.arch, dtype)

    @classmethod
    def of(cls, space: SearchSpace, arch: np.ndarray, dtype: str = "fp32") -> NetworkSpec:
        return cls(space.name, space.resolution, space.width, space.num_classes, space.encode(arch).split(":")[1],
                   dtype)

    @classmethod
    def from_key(cls, key: str) -> NetworkSpec:
        m = _KEY_RE.match(key.strip())
        if not m:
            raise BlockSpecError(f"not a network key: {key!r} (e.g. net-single-path-r128-w1-c10-<digits>-fp32)")
        return cls(m["space"], int(m["resolution"]), float(m["width"]), int(m["num_classes"]), m["arch"], m["dtype"])


def is_network_key(key: str) -> bool:
    return key.startswith("net-")


def spec_from_key(key: str) -> BlockSpec | NetworkSpec | KernelSpec:
    """The block, kernel or network that a store/cache key names."""
    if is_kernel_key(key):
        return KernelSpec.from_key(key)
    return NetworkSpec.from_key(key) if is_network_key(key) else BlockSpec.from_key(key)
