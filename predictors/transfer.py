"""Few-shot transfer: adapt a predictor fitted on one device to another from k samples.

The source predictor's output is calibrated in log space, log y = a + b·log ŷ_src, with the
slope shrunk toward 1 by `slope_prior` pseudo-observations: with k = 10 a free slope
sometimes extrapolates badly, and devices of one family mostly differ by a scale. On the
shipped tables (Pixel 1 <-> Pixel 4) this reaches about 99% of blocks within ±10%
(`benchmarks/predictors.py`), against 94% for a plain scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgelat.errors import PredictorError
from edgelat.predictors.base import LatencyPredictor, check_targets


class TransferPredictor(LatencyPredictor):
    kind = "transfer"

    def __init__(self, source: LatencyPredictor | None = None, slope_prior: float = 3.0):
        self.source = source
        self.slope_prior = slope_prior

    def fit(self, X, y) -> TransferPredictor:
        if self.source is None:
            raise PredictorError("transfer needs a fitted source predictor (--source MODEL.json)")
        y = check_targets(y)
        x = np.log(self.source.predict(X))
        ly = np.log(y)
        self.x_mean_ = float(x.mean())
        xc = x - self.x_mean_
        # minimise Σ(ly - a - b·xc)² + slope_prior·(b - 1)²
        self.slope_ = float(((xc * (ly - ly.mean())).sum() + self.slope_prior) / ((xc**2).sum() + self.slope_prior))
        self.offset_ = float(ly.mean())
        self.n_train_ = len(y)
        return self

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        x = np.log(self.source.predict(X))
        return np.exp(self.offset_ + self.slope_ * (x - self.x_mean_))

    def state(self) -> dict[str, Any]:
        return {"slope": self.slope_, "offset": self.offset_, "x_mean": self.x_mean_, "n_train": self.n_train_}

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, Any]) -> TransferPredictor:
        model = cls(source=params.get("source"), slope_prior=float(params["slope_prior"]))
        model.slope_, model.offset_ = float(state["slope"]), float(state["offset"])
        model.x_mean_, model.n_train_ = float(state["x_mean"]), int(state["n_train"])
        return model
