"""Few-shot transfer: adapt a predictor fitted on one device to another from k samples.

The source predictor's output is calibrated in log space, log y = a + b·log ŷ_src, with the
slope shrunk toward 1 by `slope_prior` pseudo-observations: with k = 10 a free slope
sometimes extrapolates badly, and devices of one family mostly differ by a scale. By default
the shrinkage is chosen by leave-one-out CV over SLOPE_PRIORS, and the slope is never negative
(that would invert the source's ranking). On the shipped tables (Pixel 1 <-> Pixel 4) this
reaches about 99% of blocks within ±10% (`benchmarks/predictors.py`), against 94% for a plain scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgelat.errors import PredictorError
from edgelat.predictors.base import LatencyPredictor, check_targets

SLOPE_PRIORS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 1e9)  # 1e9: a plain scale


def _slope(xc: np.ndarray, ly: np.ndarray, slope_prior: float) -> float:
    """argmin_b Σ(ly - ȳ - b·xc)² + slope_prior·(b - 1)², clipped at 0."""
    return max(0.0, float(((xc * (ly - ly.mean())).sum() + slope_prior) / ((xc**2).sum() + slope_prior)))


def loo_log_error(x: np.ndarray, ly: np.ndarray, slope_prior: float) -> float:
    """Mean squared log error of leave-one-out predictions, from running sums (no refits)."""
    m = len(x) - 1
    sx, sy, sxx, sxy = x.sum() - x, ly.sum() - ly, (x**2).sum() - x**2, (x * ly).sum() - x * ly
    mx, my = sx / m, sy / m
    cxx, cxy = sxx - sx * mx, sxy - sx * my
    b = np.maximum(0.0, (cxy + slope_prior) / (cxx + slope_prior))
    return float(np.mean((ly - my - b * (x - mx)) ** 2))


class TransferPredictor(LatencyPredictor):
    kind = "transfer"

    def __init__(self, source: LatencyPredictor | None = None, slope_prior: float | None = None):
        self.source = source
        self.slope_prior = slope_prior  # None: chosen by leave-one-out CV

    def fit(self, X, y) -> TransferPredictor:
        if self.source is None:
            raise PredictorError("transfer needs a fitted source predictor (--source MODEL.json)")
        y = check_targets(y)
        x = np.log(self.source.predict(X))
        ly = np.log(y)
        self.x_mean_ = float(x.mean())
        if self.slope_prior is not None:
            self.slope_prior_ = float(self.slope_prior)
        elif len(y) >= 3:
            self.slope_prior_ = min(SLOPE_PRIORS, key=lambda sp: loo_log_error(x, ly, sp))
        else:
            raise PredictorError(f"transfer with {len(y)} samples cannot choose its shrinkage by CV (need 3); "
                                 f"give slope_prior (1e9 is a plain scale)")
        self.slope_ = _slope(x - self.x_mean_, ly, self.slope_prior_)
        self.offset_ = float(ly.mean())
        self.n_train_ = len(y)
        return self

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        x = np.log(self.source.predict(X))
        return np.exp(self.offset_ + self.slope_ * (x - self.x_mean_))

    def state(self) -> dict[str, Any]:
        return {"slope": self.slope_, "offset": self.offset_, "x_mean": self.x_mean_, "n_train": self.n_train_,
                "slope_prior": self.slope_prior_}

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, Any]) -> TransferPredictor:
        chosen = params.get("slope_prior")
        model = cls(source=params.get("source"), slope_prior=None if chosen is None else float(chosen))
        model.slope_, model.offset_ = float(state["slope"]), float(state["offset"])
        model.slope_prior_ = float(state["slope_prior"] if "slope_prior" in state else chosen)  # older files
        model.x_mean_, model.n_train_ = float(state["x_mean"]), int(state["n_train"])
        return model
