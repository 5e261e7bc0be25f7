"""The price of an op no kernel predictor was fitted for: a launch, its MACs, its weights and the
activations it reads and writes (the one op breakdown, `core.op_breakdown`), with non-negative
per-term costs fitted on every measured kernel of the device in that dtype.

A model is never refused for an op type nobody profiled (NEG, GELU, BATCH_MATMUL, a grouped
convolution, ...); such ops are marked in the per-op table, and the total's interval widens by
how far this fit misses a kernel type it has never seen: its interval comes from leaving one
kernel type out at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgelat.core.op_breakdown import TERMS, Op, op_terms
from edgelat.errors import PredictorError
from edgelat.predictors.intervals import RelativeInterval, conformal

MIN_KINDS = 2  # kernel types a dtype needs before its fallback can be fitted and its miss measured


def nnls_relative(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative w with A·w ≈ y on relative error (each row divided by its target), columns scaled
    so that no cost term dominates by its units; the last column is the constant."""
    from scipy.optimize import nnls

    R = A / y[:, None]
    scale = np.where(R.std(0) > 0, R.std(0), 1.0)
    scale[-1] = max(R[:, -1].mean(), 1e-12)
    w = nnls(R / scale, np.ones(len(y)), maxiter=50 * A.shape[1])[0] / scale
    if not np.any(w > 0):
        w[-1] = float(np.median(y))
    return w


def _design(ops: Sequence[Op]) -> np.ndarray:
    """One row per op: its TERMS, launches first, so that column 0 is the per-launch constant."""
    return np.array([op_terms(o) for o in ops], float).reshape(-1, len(TERMS))


def _fit(ops: Sequence[Op], y: np.ndarray) -> np.ndarray:
    A = _design(ops)
    return nnls_relative(np.column_stack([A[:, 1:], A[:, 0]]), y)  # nnls_relative wants the constant last


def _predict(weights: np.ndarray, ops: Sequence[Op]) -> np.ndarray:
    A = _design(ops)
    return np.maximum(np.column_stack([A[:, 1:], A[:, 0]]) @ weights, 1e-6)


def fit_fallback(ops: Sequence[Op], latency_ms: np.ndarray, kinds: Sequence[str]) -> dict[str, Any] | None:
    """The fallback of one dtype from its measured kernels, or None with fewer than MIN_KINDS types.
    Its interval holds the ratios measured / predicted of each type priced by a fit on the others."""
    y, kinds = np.asarray(latency_ms, float), np.asarray(kinds)
    types = sorted(set(kinds))
    if len(types) < MIN_KINDS:
        return None
    measured, predicted = [], []
    for kind in types:
        held = kinds == kind
        rest = [o for o, h in zip(ops, held, strict=True) if not h]
        measured.append(y[held])
        predicted.append(_predict(_fit(rest, y[~held]), [o for o, h in zip(ops, held, strict=True) if h]))
    interval = conformal(np.concatenate(measured), np.concatenate(predicted))
    return {"terms": list(TERMS), "weights": [float(v) for v in _fit(ops, y)], "kinds": types,
            "kernels": int(len(y)), "interval": interval.as_dict()}


def fallback_ms(doc: dict[str, Any], ops: Sequence[Op]) -> np.ndarray:
    """The fallback price of each op."""
    if doc.get("terms") != list(TERMS):
        raise PredictorError(f"the fallback was fitted on terms {doc.get('terms')}, not {list(TERMS)}: "
                             "run fit again")
    return _predict(np.asarray(doc["weights"], float), ops)


def fallback_interval(doc: dict[str, Any]) -> RelativeInterval:
    interval = RelativeInterval.from_dict(doc["interval"])
    assert interval is not None  # fit_fallback always stores one
    return interval
