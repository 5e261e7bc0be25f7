"""Cross-validation and the predicted-vs-measured picture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgelat.core.paths import ensure_parent
from edgelat.errors import PredictorError
from edgelat.predictors import metrics
from edgelat.predictors.base import LatencyPredictor


def _take(X, idx):
    return X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]


def out_of_fold(make: Callable[[], LatencyPredictor], X, y, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each row predicted by a model fitted on the other folds (k-fold; leave-one-out when folds = rows)."""
    y = np.asarray(y, dtype=float)
    if folds < 2 or folds > len(y):
        raise PredictorError(f"--cv must be between 2 and the number of rows ({len(y)}), got {folds}")
    order = np.random.default_rng(seed).permutation(len(y))
    pred = np.empty_like(y)
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        pred[test] = make().fit(_take(X, train), y[train]).predict(_take(X, test))
    return pred


def cross_validate(make: Callable[[], LatencyPredictor], X, y, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """k-fold metrics (pooled over the folds' held-out predictions)."""
    return metrics.report(np.asarray(y, dtype=float), out_of_fold(make, X, y, folds, seed))


def plot_predictions(y_true, y_pred, path: str | Path, title: str = "") -> Path:
    """Predicted vs measured on log axes, with the ±10% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    r = metrics.report(y, p)
    lo, hi = min(y.min(), p.min()) * 0.8, max(y.max(), p.max()) * 1.25
    fig, ax = plt.subplots(figsize=(5.5, 5.5), dpi=120)
    line = np.geomspace(lo, hi, 50)
    ax.fill_between(line, line * 0.9, line * 1.1, color="tab:green", alpha=0.15, label="±10%")
    ax.plot(line, line, color="tab:green", lw=1)
    ax.scatter(y, p, s=6, alpha=0.6, color="tab:blue", edgecolors="none")
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel="measured latency (ms)",
           ylabel="predicted latency (ms)")
    ax.set_title(title or "predicted vs measured", fontsize=10)
    ax.text(0.03, 0.97, f"n = {r['n']}\n±10%: {r['acc10']:.1%}\n±5%: {r['acc5']:.1%}\nMAPE {r['mape']:.1%}\n"
            f"Spearman {r['spearman']:.3f}", transform=ax.transAxes, va="top", fontsize=9,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    ensure_parent(path, "the plot")
    fig.savefig(path)
    plt.close(fig)
    return path
