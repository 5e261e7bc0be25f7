"""Common ground of latency predictors: scikit-learn estimator conventions and errors."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SkNotFitted

from edgelat.errors import EdgelatError, PredictorError
from edgelat.predictors import metrics

__all__ = ["LatencyPredictor", "NotFittedError", "PredictorError", "check_targets"]


class NotFittedError(EdgelatError, _SkNotFitted):
    """predict() was called before fit(); also a scikit-learn NotFittedError (so it stays here, beside
    scikit-learn, rather than in edgelat.errors, which must import nothing heavy)."""


class LatencyPredictor(BaseEstimator):
    """Base of edgelat's predictors: fit(X, y) / predict(X) in ms / score(X, y).

    `score` is the fraction of predictions within ±10% (the figure latency papers report),
    not R². Learned state ends with an underscore; `state()`/`from_state()` give the
    JSON-safe form used by `edgelat.predictors.persistence` (never pickle).
    """

    kind = "base"
    _fitted_attr = "n_train_"

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attr):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() first")

    def score(self, X, y) -> float:
        return metrics.acc_within(np.asarray(y, float), self.predict(X), 0.10)

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, Any]) -> LatencyPredictor:
        raise NotImplementedError


def check_targets(y) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or len(y) == 0:
        raise PredictorError("training targets must be a non-empty 1-D array of latencies (ms)")
    if not np.all(np.isfinite(y)) or np.any(y <= 0):
        raise PredictorError("training latencies must be positive finite numbers")
    return y
