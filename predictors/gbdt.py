"""Gradient-boosted trees (xgboost) on log latency, on top of the physical linear model.

With `base="linear"` (default) the trees learn log(measured / linear prediction), the part
the physics misses, with the linear prediction as one more feature. That hybrid is what
makes a few hundred samples enough. `base=None` is plain xgboost on log latency, where
`monotone=True` constrains latency to grow with every cost feature.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from edgelat.errors import PredictorError
from edgelat.predictors.base import LatencyPredictor, check_targets
from edgelat.predictors.features import COST_FEATURES, FEATURES, as_frame, block_features
from edgelat.predictors.linear import LinearPredictor


def _xgb():
    try:
        import xgboost
    except ImportError as exc:  # it is a dependency, but say what to do if it went missing
        raise PredictorError("the gbdt predictor needs xgboost: pip install xgboost") from exc
    return xgboost


class GBDTPredictor(LatencyPredictor):
    kind = "gbdt"

    def __init__(self, base: str | None = "linear", n_estimators: int = 300, max_depth: int = 3,
                 learning_rate: float = 0.05, subsample: float = 0.8, reg_lambda: float = 1.0,
                 monotone: bool = False, n_jobs: int = 1, random_state: int = 0):
        self.base = base
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.reg_lambda = reg_lambda
        self.monotone = monotone
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _inputs(self, X) -> tuple[pd.DataFrame, np.ndarray]:
        """Tree features and the base prediction in log ms (zeros without a base)."""
        frame = as_frame(X)
        F = block_features(frame)
        if self.base is None:
            return F, np.zeros(len(F))
        log_base = np.log(self.base_model_.predict(frame))
        return F.assign(log_linear=log_base), log_base

    def fit(self, X, y) -> GBDTPredictor:
        if self.base not in (None, "linear"):
            raise PredictorError(f"base: must be 'linear' or None, got {self.base!r}")
        if self.monotone and self.base is not None:
            raise PredictorError("monotone=True needs base=None: the hybrid's trees model a residual ratio, "
                                 "which is not monotone in the costs")
        y = check_targets(y)
        if self.base == "linear":
            self.base_model_ = LinearPredictor().fit(X, y)
        F, log_base = self._inputs(X)
        constraints = None
        if self.monotone:
            constraints = tuple(1 if f in COST_FEATURES else 0 for f in FEATURES)
        xgb = _xgb()
        self.booster_ = xgb.XGBRegressor(
            n_estimators=self.n_estimators, max_depth=self.max_depth, learning_rate=self.learning_rate,
            subsample=self.subsample, reg_lambda=self.reg_lambda, n_jobs=self.n_jobs,
            random_state=self.random_state, monotone_constraints=constraints,
        ).fit(F, np.log(y) - log_base)
        self.n_train_ = len(y)
        return self

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        F, log_base = self._inputs(X)
        return np.exp(self.booster_.predict(F) + log_base)

    def state(self) -> dict[str, Any]:
        # xgboost's own JSON model format, nested as an object (never pickle)
        booster = json.loads(self.booster_.get_booster().save_raw("json").decode())
        base = self.base_model_.state() if self.base == "linear" else None
        return {"n_train": self.n_train_, "base_model": base, "xgboost_model": booster}

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, Any]) -> GBDTPredictor:
        model = cls(**params)
        if model.base == "linear":
            model.base_model_ = LinearPredictor.from_state(LinearPredictor().get_params(), state["base_model"])
        xgb = _xgb()
        reg = xgb.XGBRegressor()
        reg.load_model(bytearray(json.dumps(state["xgboost_model"]).encode()))
        model.booster_ = reg
        model.n_train_ = int(state["n_train"])
        return model
