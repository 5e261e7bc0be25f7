"""Explainable multivariate regression: latency as a non-negative sum of physical costs.

In the spirit of FOX-NAS and Single-Path NAS: each cost feature (MACs of a part, element
counts, bytes moved) gets a coefficient that physics says cannot be negative, and the fit
minimises *relative* error, since ±10% is what matters for a 0.1 ms block and a 10 ms one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import nnls

from edgelat.errors import PredictorError
from edgelat.predictors.base import LatencyPredictor, check_targets
from edgelat.predictors.features import COST_FEATURES, as_frame, block_features


class LinearPredictor(LatencyPredictor):
    """latency_ms = intercept + Σ coef_i · feature_i, with coef_i >= 0 when `nonnegative`."""

    kind = "linear"

    def __init__(self, features: tuple[str, ...] = COST_FEATURES, nonnegative: bool = True, relative: bool = True):
        self.features = features
        self.nonnegative = nonnegative
        self.relative = relative

    def _design(self, X) -> np.ndarray:
        unknown = [f for f in self.features if f not in COST_FEATURES]
        if unknown:
            raise PredictorError(f"features: not cost features of the schema: {unknown}")
        F = block_features(as_frame(X))[list(self.features)].to_numpy(np.float64)
        return np.column_stack([F, np.ones(len(F))])

    def fit(self, X, y) -> LinearPredictor:
        y = check_targets(y)
        A = self._design(X)
        if self.relative:
            A, b = A / y[:, None], np.ones_like(y)
        else:
            b = y
        scale = np.where(A.std(0) > 0, A.std(0), 1.0)
        scale[-1] = max(np.abs(A[:, -1]).mean(), 1e-12)
        if self.nonnegative:
            w, _ = nnls(A / scale, b, maxiter=50 * A.shape[1])
        else:
            w = np.linalg.lstsq(A / scale, b, rcond=None)[0]
        w = w / scale
        self.coef_ = w[:-1]
        self.intercept_ = float(w[-1])
        self.feature_names_ = list(self.features)
        self.n_train_ = len(y)
        return self

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        pred = self._design(X) @ np.append(self.coef_, self.intercept_)
        if np.any(pred <= 0):
            raise PredictorError("linear model predicts a non-positive latency; refit with nonnegative=True")
        return pred

    def contributions(self, X) -> np.ndarray:
        """Per-feature time (ms) of each row: columns are feature_names_ then the intercept."""
        self._check_fitted()
        return self._design(X) * np.append(self.coef_, self.intercept_)

    def coefficients(self) -> dict[str, float]:
        self._check_fitted()
        return {**dict(zip(self.feature_names_, map(float, self.coef_), strict=True)), "intercept": self.intercept_}

    def state(self) -> dict[str, Any]:
        return {"coefficients": self.coefficients(), "n_train": self.n_train_}

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, Any]) -> LinearPredictor:
        params = {**params, "features": tuple(params["features"])}
        model = cls(**params)
        coefs = state["coefficients"]
        model.feature_names_ = list(model.features)
        model.coef_ = np.array([coefs[f] for f in model.feature_names_], dtype=float)
        model.intercept_ = float(coefs["intercept"])
        model.n_train_ = int(state["n_train"])
        return model
