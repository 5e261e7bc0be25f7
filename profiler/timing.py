"""How blocks are timed: plain (warm, run after run), cold (a sweep of the core's L2 before each
timed run) or context (a sweep of what the space's typical network streams per inference).

Measured on an AMD EPYC (32 MB L3 shared on a VM), 20 held-out single-path networks per setting at
64 and 128 px, fp32 and int8, two runs (benchmarks/whole_network.py): the sum of blocks timed in
context was within ±10% of every network in 5 of the 8 setting-runs, of 95% and 90% in two, and
of 65% once (64 px fp32, a sweep too cold). At 128 px fp32, where a network streams ~19 MB per
inference and its blocks' weights no longer wait in the L3, it was 100% in both runs, against
100% and 55% for plain timing and 100% and 75% for cold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgelat.errors import OptionError

METHODS = ("plain", "cold", "context")


@dataclass(frozen=True)
class BlockTiming:
    """One timing method, with the sweep per dtype in bytes for `context`."""

    method: str = "plain"
    context_bytes: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise OptionError(f"timing method must be one of {METHODS}, got {self.method!r}")

    @property
    def cold(self) -> bool:
        return self.method != "plain"

    def measure_kwargs(self, dtype: str) -> dict[str, Any]:
        """The backend.measure arguments for a model of `dtype`."""
        if self.method == "plain":
            return {}
        if self.method == "cold":
            return {"cold": True}
        return {"cold": True, "evict_bytes": self.context_bytes[dtype]}

    def describe(self) -> str:
        if self.method != "context":
            return self.method
        return "context (" + ", ".join(f"{d} {b / 2**20:.1f} MB" for d, b in sorted(self.context_bytes.items())) + ")"


PLAIN = BlockTiming()
