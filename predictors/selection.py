"""Defaults that choose themselves: a whole-network model's prior, picked by cross-validation.

Every candidate prior (none, FLOPs, params, and each model the user gives) is fitted two ways:
with per-layer corrections, and kept as it ranks, only scaled ("kept"). The variant whose
out-of-fold predictions rank the held-out networks best wins (Spearman, then ±10% accuracy), so
a fitted model that ranks worse than its own prior is never chosen over it. With few networks
the folds are leave-one-out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgelat.errors import OptionError
from edgelat.predictors import metrics
from edgelat.predictors.base import LatencyPredictor
from edgelat.predictors.evaluation import out_of_fold

BUILT_IN_PRIORS = ("none", "flops", "params")
LOO_UP_TO = 30  # networks up to which the folds are leave-one-out
MIN_NETWORKS = 4


@dataclass(frozen=True)
class Candidate:
    """One way to fit: a prior (None, 'flops', 'params' or a model) with or without corrections."""

    name: str
    prior: str | LatencyPredictor | None
    corrections: bool = True

    @property
    def label(self) -> str:
        return self.name if self.corrections or self.prior is None else f"{self.name}, kept (scaled only)"


def candidates(priors: dict[str, str | LatencyPredictor | None]) -> list[Candidate]:
    """Each prior fitted with corrections, and every real prior also kept as it ranks."""
    out: list[Candidate] = []
    for name, prior in priors.items():
        out.append(Candidate(name, prior))
        if prior is not None:
            out.append(Candidate(name, prior, corrections=False))
    return out


def selection_folds(n: int, folds: int = 5) -> int:
    if n < MIN_NETWORKS:
        raise OptionError(f"{n} networks are too few to choose a prior by cross-validation (need "
                          f"{MIN_NETWORKS}); force one with --prior flops (or params, none, MODEL.json)")
    return n if n <= LOO_UP_TO else min(folds, n)


def _score(report: dict[str, float]) -> tuple[float, float]:
    spearman = report["spearman"]
    return (-math.inf if math.isnan(spearman) else spearman, report["acc10"])


@dataclass
class Choice:
    """The chosen candidate, every candidate's out-of-fold report, and a line saying why."""

    chosen: Candidate
    reports: dict[str, dict[str, float]]
    folds: int
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen.label, "folds": self.folds, "candidates": self.reports}


def choose(make: Callable[[Candidate], LatencyPredictor], cands: list[Candidate], X, y,
           folds: int = 5, seed: int = 0) -> Choice:
    """The candidate whose out-of-fold predictions rank best."""
    y = np.asarray(y, dtype=float)
    k = selection_folds(len(y), folds)
    reports = {c.label: metrics.report(y, out_of_fold(lambda c=c: make(c), X, y, k, seed)) for c in cands}
    best = max(cands, key=lambda c: _score(reports[c.label]))
    how = "leave-one-out" if k == len(y) else f"{k}-fold"
    r = reports[best.label]
    note = (f"prior chosen by {how} CV among {len(cands)} candidates: {best.label} (Spearman {r['spearman']:.3f}, "
            f"±10% {r['acc10']:.1%})")
    fitted = next((c for c in cands if c.name == best.name and c.corrections), None)
    if not best.corrections and fitted is not None:
        f = reports[fitted.label]
        note += (f"; fitting corrections to these networks ranked worse than the prior itself (Spearman "
                 f"{f['spearman']:.3f}), so the prior is kept and only scaled")
    return Choice(best, reports, k, note)


def choose_layerwise(space: str, X, y, priors: dict[str, str | LatencyPredictor | None],
                     resolution: int | None = None, dtype: str = "fp32") -> Choice:
    """`fit`'s default for a whole-network table: the prior (and whether to correct it) chosen by CV."""
    from edgelat.predictors.layerwise import LayerwisePredictor

    return choose(lambda c: LayerwisePredictor(space=space, prior=c.prior, resolution=resolution, dtype=dtype,
                                               corrections=c.corrections), candidates(priors), X, y)


def default_priors(models: dict[str, LatencyPredictor] | None = None) -> dict[str, str | LatencyPredictor | None]:
    """none, flops and params (the built-in priors), then the given models."""
    return {name: (None if name == "none" else name) for name in BUILT_IN_PRIORS} | (models or {})
