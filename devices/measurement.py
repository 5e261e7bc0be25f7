"""The result of timing one model on one device: statistics, or a failure with its raw output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STAT_FIELDS = ("median_ms", "mean_ms", "std_ms", "p5_ms", "p95_ms", "min_ms", "max_ms", "cv")


@dataclass(frozen=True)
class Measurement:
    """A successful measurement has `stats`; a failed one has `error` and never a latency."""

    ok: bool
    stats: dict[str, float] = field(default_factory=dict)
    runs: int = 0
    warmup: int = 0
    threads: int = 1
    error: str | None = None
    raw_output: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def latency_ms(self) -> float:
        if not self.ok:
            raise ValueError(f"failed measurement has no latency: {self.error}")
        return self.stats["median_ms"]

    @classmethod
    def failed(cls, error: str, raw_output: str = "", **kw: Any) -> Measurement:
        return cls(ok=False, error=error, raw_output=raw_output, **kw)
