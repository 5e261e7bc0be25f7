"""How blocks are timed: plain (warm, run after run), cold (a sweep of the core's L2 before each
timed run) or context (a sweep of what the space's typical network streams per inference).

Measured on an AMD EPYC (32 MB L3 shared on a VM), 20 held-out single-path networks per setting at
64 and 128 px, fp32 and int8 (benchmarks/whole_network.py, three runs in docs/results/whole-networks.md): context
timing is the one method whose sums stayed within ±10% at 128 px fp32 when the truth was steady,
where a network streams ~19 MB per inference and its blocks' weights no longer wait in the L3.
Its tables move with the co-tenants' use of that L3 (5-6% between runs), plain tables do not.

Passes (several measurements of everything, the fastest counting) start at least a gap apart
(devices/passes.py, their one home): on a shared VM slow spells last seconds, now and then over a
minute. For the long ones, the spell guard (spell_guard.py) times a probe around each pass and runs
slow passes again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgelat.core.sizes import MIB
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
        return "context (" + ", ".join(f"{d} {b / MIB:.1f} MiB" for d, b in sorted(self.context_bytes.items())) + ")"


PLAIN = BlockTiming()
