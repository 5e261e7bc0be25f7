"""Accuracy metrics of latency predictors, over paired measured and predicted values (ms)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if y.shape != p.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError(f"need two equal-length non-empty 1-D arrays, got {y.shape} and {p.shape}")
    return y, p


def rmse(y_true, y_pred) -> float:
    y, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((p - y) ** 2)))


def mape(y_true, y_pred) -> float:
    """Mean absolute percentage error, as a fraction."""
    y, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(p - y) / y))


def acc_within(y_true, y_pred, tol: float) -> float:
    """Fraction of predictions within ±tol (relative) of the measured value."""
    y, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(p - y) <= tol * y + 1e-12))


def report(y_true, y_pred) -> dict[str, float]:
    """The metrics `edgelat evaluate --json` prints, with exactly these keys."""
    y, p = _pair(y_true, y_pred)
    if len(y) > 1 and np.ptp(y) > 0 and np.ptp(p) > 0:
        kendall = float(stats.kendalltau(y, p).statistic)
        spearman = float(stats.spearmanr(y, p).statistic)
    else:
        kendall = spearman = float("nan")
    return {
        "n": int(len(y)),
        "rmse_ms": rmse(y, p),
        "mape": mape(y, p),
        "acc5": acc_within(y, p, 0.05),
        "acc10": acc_within(y, p, 0.10),
        "kendall": kendall,
        "spearman": spearman,
    }
