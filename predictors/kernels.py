"""Kernel predictors: one model per kernel type (kind and dtype), a non-negative linear fit on
physical costs (MACs, elements read and written, weights) with gradient-boosted trees on its
log residual once a type has enough samples, as the block predictors do. Any .tflite model is
then priced op by op (kernel_pricing.predict_kernels)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from math import prod
from typing import Any

import numpy as np

from edgelat.core.kernelspec import KernelSpec
from edgelat.core.op_breakdown import kernel_op
from edgelat.errors import PredictorError
from edgelat.predictors.base import LatencyPredictor, check_targets
from edgelat.predictors.kernel_context import fit_context
from edgelat.predictors.kernel_fallback import fit_fallback, nnls_relative

COSTS = ("macs", "in_elems", "out_elems", "weight_elems")
SHAPE_FEATURES = ("out_hw", "c_in", "c_out", "kernel", "stride", "act", "same", "n_inputs", "const_elems")
_ACT_CODE = {"none": 0, "relu": 1, "relu6": 2}


def kernel_features(spec: KernelSpec) -> dict[str, float]:
    """The cost and shape features of one kernel."""
    shapes = spec.input_shapes()
    tensors = [s for s, const in shapes if not const]
    out = spec.output_shape()
    first = tensors[0]
    return {"macs": spec.macs(), "in_elems": sum(prod(s) for s in tensors), "out_elems": prod(out),
            "weight_elems": spec.weights(), "out_hw": out[0] if len(out) == 3 else 1, "c_in": first[-1] if first else 1,
            "c_out": out[-1] if out else 1, "kernel": spec.kernel, "stride": spec.stride,
            "act": _ACT_CODE[spec.act], "same": int(spec.padding == "same"), "n_inputs": len(tensors),
            "const_elems": sum(prod(s) for s, const in shapes if const)}


def kernel_type(spec: KernelSpec) -> str:
    return f"{spec.kind}/{spec.dtype}"


def _specs(X: Sequence[KernelSpec | str]) -> list[KernelSpec]:
    return [x if isinstance(x, KernelSpec) else KernelSpec.from_key(str(x)) for x in X]


class KernelPredictor(LatencyPredictor):
    """latency_ms of a kernel: per type, NNLS on COSTS (relative error), times exp(trees) when the type
    has at least `min_gbdt` training kernels; per dtype, a fallback for op types it has no model of."""

    kind = "kernels"

    def __init__(self, min_gbdt: int = 30, n_estimators: int = 200, max_depth: int = 4, learning_rate: float = 0.05,
                 random_state: int = 0):
        self.min_gbdt = min_gbdt
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.random_state = random_state

    def fit(self, X: Sequence[KernelSpec | str], y) -> KernelPredictor:
        specs, y = _specs(X), check_targets(y)
        types = np.array([kernel_type(s) for s in specs])
        feats = [kernel_features(s) for s in specs]
        self.linear_, self.trees_, self.counts_ = {}, {}, {}
        for t in sorted(set(types)):
            idx = np.flatnonzero(types == t)
            w = nnls_relative(np.array([[feats[i][c] for c in COSTS] + [1.0] for i in idx]), y[idx])
            self.linear_[t] = [float(v) for v in w]
            self.counts_[t] = int(len(idx))
            if len(idx) >= self.min_gbdt:
                self.trees_[t] = self._fit_trees([feats[i] for i in idx], np.log(y[idx]) - np.log(
                    self._linear(t, [feats[i] for i in idx])))
        self.fallback_ = _fit_fallbacks(specs, y)
        self.calibration_: dict[str, dict] = {}
        self.n_train_ = len(y)
        return self

    def calibrate(self, kernel_sum_ms: Sequence[float], weight_mb: Sequence[float], traffic_mb: Sequence[float],
                  measured_ms: Sequence[float], dtypes: Sequence[str], ridge: float = 1.0) -> KernelPredictor:
        """Learn, per dtype, how whole models measured on the device differ from their kernel sums: a
        factor, and the cost of weights streamed past the cache (kernel_context.fit_context)."""
        self._check_fitted()
        columns = [np.asarray(v, float) for v in (kernel_sum_ms, weight_mb, traffic_mb, measured_ms)]
        dtypes = np.asarray(dtypes)
        for d in sorted(set(dtypes)):
            self.calibration_[str(d)] = fit_context(*(c[dtypes == d] for c in columns), ridge=ridge)
        return self

    def _fit_trees(self, feats: list[dict[str, float]], residual: np.ndarray):
        import xgboost

        F = np.array([[f[c] for c in (*COSTS, *SHAPE_FEATURES)] for f in feats], float)
        return xgboost.XGBRegressor(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                    learning_rate=self.learning_rate, subsample=0.8, n_jobs=1,
                                    random_state=self.random_state).fit(np.log1p(F), residual)

    def _linear(self, t: str, feats: list[dict[str, float]]) -> np.ndarray:
        w = np.asarray(self.linear_[t])
        pred = np.array([[f[c] for c in COSTS] + [1.0] for f in feats]) @ w
        return np.maximum(pred, 1e-6)

    def types(self) -> list[str]:
        self._check_fitted()
        return list(self.linear_)

    def predict(self, X: Sequence[KernelSpec | str]) -> np.ndarray:
        self._check_fitted()
        specs = _specs(X)
        out = np.empty(len(specs))
        types = [kernel_type(s) for s in specs]
        for t in set(types):
            if t not in self.linear_:
                raise PredictorError(f"no kernel predictor for {t} (this model prices: {', '.join(self.linear_)})")
            idx = [i for i, u in enumerate(types) if u == t]
            feats = [kernel_features(specs[i]) for i in idx]
            pred = self._linear(t, feats)
            if t in self.trees_:
                F = np.array([[f[c] for c in (*COSTS, *SHAPE_FEATURES)] for f in feats], float)
                pred = pred * np.exp(self.trees_[t].predict(np.log1p(F)))
            out[idx] = pred
        return out

    def state(self) -> dict[str, Any]:
        trees = {t: json.loads(b.get_booster().save_raw("json").decode()) for t, b in self.trees_.items()}
        return {"n_train": self.n_train_, "linear": self.linear_, "counts": self.counts_, "trees": trees,
                "calibration": self.calibration_, "fallback": self.fallback_}

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, Any]) -> KernelPredictor:
        import xgboost

        model = cls(**params)
        model.linear_ = {t: [float(v) for v in w] for t, w in state["linear"].items()}
        model.counts_ = {t: int(n) for t, n in state["counts"].items()}
        model.trees_ = {}
        for t, doc in state["trees"].items():
            reg = xgboost.XGBRegressor()
            reg.load_model(bytearray(json.dumps(doc).encode()))
            model.trees_[t] = reg
        model.calibration_ = {d: _calibration_state(d, c) for d, c in state.get("calibration", {}).items()}
        model.fallback_ = dict(state.get("fallback", {}))  # none in files written before the fallback
        model.n_train_ = int(state["n_train"])
        return model


def _fit_fallbacks(specs: list[KernelSpec], y: np.ndarray) -> dict[str, dict]:
    """Per dtype, the price of ops no kernel predictor covers (kernel_fallback), where it can be fitted."""
    out = {}
    for dtype in sorted({s.dtype for s in specs}):
        idx = [i for i, s in enumerate(specs) if s.dtype == dtype]
        doc = fit_fallback([kernel_op(specs[i]) for i in idx], y[idx], [specs[i].kind for i in idx])
        if doc is not None:
            out[dtype] = doc
    return out


def _calibration_state(dtype: str, doc: dict[str, Any]) -> dict[str, Any]:
    if "factor" not in doc:
        raise PredictorError(f"the {dtype} calibration was written by an earlier edgelat (a factor per kernel "
                             "group): run fit --calibrate again")
    cache = doc.get("cache_mb")
    return {"factor": float(doc["factor"]), "ms_per_mb": float(doc["ms_per_mb"]),
            "cache_mb": None if cache is None else float(cache), "models": int(doc["models"])}


def kernel_out_of_fold(make, specs: Sequence[KernelSpec], y: np.ndarray, folds: int = 5, seed: int = 0
                       ) -> np.ndarray:
    """Out-of-fold predictions with folds drawn within each kernel type, so every training fold knows
    every type; kernels of a type with fewer than 2 samples get NaN (nothing to learn them from)."""
    types = np.array([kernel_type(s) for s in specs])
    fold = np.full(len(y), -1)
    rng = np.random.default_rng(seed)
    for t in sorted(set(types)):  # sorted: set order follows the hash seed, which differs per process
        idx = rng.permutation(np.flatnonzero(types == t))
        if len(idx) >= 2:
            fold[idx] = np.arange(len(idx)) % min(folds, len(idx))
    pred = np.full(len(y), np.nan)
    X = np.array(list(specs), dtype=object)
    for k in range(folds):
        test, train = np.flatnonzero(fold == k), np.flatnonzero((fold != k) & (fold >= 0))
        if len(test):
            pred[test] = make().fit(X[train], y[train]).predict(X[test])
    return pred
