"""Prediction intervals from cross-validation residuals (split conformal, relative).

`fit` keeps the ratios measured / predicted of its out-of-fold predictions. Their conformal
quantiles give factors (low, high) such that a new prediction p lies in [p·low, p·high] with
probability ≥ the level, with no assumption on the error's distribution (only that new
networks are exchangeable with the training ones). Relative, because latency errors scale with
latency. With few rows the nominal level is out of reach; the interval is then the widest the
residuals allow, and `capped` says so.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgelat.errors import PredictorError

LEVEL = 0.9


@dataclass(frozen=True)
class RelativeInterval:
    """measured / predicted lies in [low, high] for `level` of new predictions (from `n` CV residuals)."""

    level: float
    low: float
    high: float
    n: int
    capped: bool = False  # too few residuals for the level: the extremes were used

    def around(self, predicted_ms: float) -> tuple[float, float]:
        return predicted_ms * self.low, predicted_ms * self.high

    def covers(self, measured_ms, predicted_ms) -> np.ndarray:
        ratio = np.asarray(measured_ms, float) / np.asarray(predicted_ms, float)
        return (ratio >= self.low) & (ratio <= self.high)

    @property
    def width(self) -> float:
        """Relative width, (high - low) as a share of the prediction."""
        return self.high - self.low

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RelativeInterval | None:
        if not data:
            return None
        try:
            return cls(float(data["level"]), float(data["low"]), float(data["high"]), int(data["n"]),
                       bool(data.get("capped", False)))
        except (KeyError, TypeError, ValueError) as exc:
            raise PredictorError(f"malformed interval in the model's metadata: {exc}") from None


def conformal(measured_ms, predicted_ms, level: float = LEVEL) -> RelativeInterval:
    """Equal-tailed split-conformal factors from out-of-fold predictions."""
    ratio = np.sort(np.asarray(measured_ms, float) / np.asarray(predicted_ms, float))
    n = len(ratio)
    if n < 2 or not np.all(np.isfinite(ratio)):
        raise PredictorError(f"an interval needs at least 2 finite out-of-fold predictions, got {n}")
    tail = (1 - level) / 2
    # 1-based ranks of the finite-sample-valid quantiles (the epsilon absorbs 0.1 / 2 = 0.04999...)
    k_high = math.ceil((n + 1) * (1 - tail) - 1e-9)
    k_low = math.floor((n + 1) * tail + 1e-9)
    capped = k_high > n or k_low < 1
    return RelativeInterval(level, float(ratio[max(k_low, 1) - 1]), float(ratio[min(k_high, n) - 1]), n, capped)


def load_interval(model_path: str | Path) -> RelativeInterval | None:
    """The interval `fit` stored in a model file (None for a model fitted without cross-validation)."""
    from edgelat.predictors.persistence import read_document

    return RelativeInterval.from_dict(read_document(model_path).get("metadata", {}).get("interval"))

