"""Defaults that choose themselves: a whole-network model's prior, picked by cross-validation.

Every candidate prior (none, FLOPs, params, the physical cost basis, each model the user gives, and
the basis stacked with those models) is fitted two ways: with per-layer corrections, and kept as it
ranks, only scaled ("kept"). The variant whose out-of-fold predictions rank the held-out networks
best wins (Spearman, then ±10% accuracy); within TIE of the best, the simplest wins. A candidate
that does not rank in CV (Spearman <= 0) is never chosen while another does. With few networks the
folds are leave-one-out.
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

BUILT_IN_PRIORS = ("none", "flops", "params", "physics")
TIE = 0.01  # Spearman points within which the simpler candidate wins
LOO_UP_TO = 30  # networks up to which the folds are leave-one-out
MIN_NETWORKS = 4


@dataclass(frozen=True)
class Candidate:
    """One way to fit: a prior (None, 'flops', 'params' or a model) with or without corrections."""

    name: str
    prior: str | LatencyPredictor | None
    corrections: bool = True
    basis_models: tuple[LatencyPredictor, ...] = ()  # stacked with the physical terms (prior 'physics')

    @property
    def label(self) -> str:
        return self.name if self.corrections or self.prior is None else f"{self.name}, kept (scaled only)"

    @property
    def complexity(self) -> tuple[int, int]:
        """(corrections, prior columns): what a tie is broken on."""
        columns = 0 if self.prior is None else 5 + len(self.basis_models) if self.prior == "physics" else 1
        return int(self.corrections), columns


def candidates(priors: dict[str, str | LatencyPredictor | None]) -> list[Candidate]:
    """Each prior fitted with corrections, and every real prior also kept as it ranks. With models given
    and the physical basis among the priors, the models join the basis in one stack instead of standing
    alone: the stack weighs each model by the measurements, where choosing one of thirty by ten
    networks' cross-validation mostly chose noise (benchmarks/any_device.py)."""
    models = tuple(p for p in priors.values() if isinstance(p, LatencyPredictor))
    stacks = {"physics+models": "physics"} if models and "physics" in priors else {}
    alone = {name: p for name, p in priors.items() if not (stacks and isinstance(p, LatencyPredictor))}
    out: list[Candidate] = []
    for name, prior in {**alone, **stacks}.items():
        basis = models if name in stacks else ()
        out.append(Candidate(name, prior, basis_models=basis))
        if prior is not None:
            out.append(Candidate(name, prior, corrections=False, basis_models=basis))
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
class PriorChoice:
    """The chosen candidate, every candidate's out-of-fold report, and a line saying why."""

    chosen: Candidate
    reports: dict[str, dict[str, float]]
    folds: int
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen.label, "folds": self.folds, "candidates": self.reports}


def choose(make: Callable[[Candidate], LatencyPredictor], cands: list[Candidate], X, y,
           folds: int = 5, seed: int = 0) -> PriorChoice:
    """The candidate whose out-of-fold predictions rank best."""
    y = np.asarray(y, dtype=float)
    k = selection_folds(len(y), folds)
    reports = {c.label: metrics.report(y, out_of_fold(lambda c=c: make(c), X, y, k, seed)) for c in cands}
    best = _pick(cands, reports)
    how = "leave-one-out" if k == len(y) else f"{k}-fold"
    r = reports[best.label]
    note = (f"prior chosen by {how} CV among {len(cands)} candidates: {best.label} (Spearman {r['spearman']:.3f}, "
            f"±10% {r['acc10']:.1%})")
    if _score(r)[0] <= 0:
        note += "; no candidate ranked these networks in CV, so a prior is kept as it ranks"
    fitted = next((c for c in cands if c.name == best.name and c.corrections), None)
    if not best.corrections and fitted is not None:
        f = reports[fitted.label]
        note += (f"; fitting corrections to these networks ranked worse than the prior itself (Spearman "
                 f"{f['spearman']:.3f}), so the prior is kept and only scaled")
    return PriorChoice(best, reports, k, note)


def _pick(cands: list[Candidate], reports: dict[str, dict[str, float]]) -> Candidate:
    """The best-ranking candidate; within TIE of it the simplest. When none ranks (Spearman <= 0 for
    all), a real prior kept as it ranks (a device's model before the basis, the basis before FLOPs):
    ten networks too noisy to rank are no reason to drop what is known about devices."""
    ranking = [c for c in cands if _score(reports[c.label])[0] > 0]
    if not ranking:
        kept = [c for c in cands if not c.corrections and c.prior is not None]
        order = lambda c: (0 if isinstance(c.prior, LatencyPredictor) else 1 if c.prior == "physics" else 2)  # noqa: E731
        return min(kept, key=order) if kept else max(cands, key=lambda c: _score(reports[c.label]))
    top = max(_score(reports[c.label])[0] for c in ranking)
    near = [c for c in ranking if _score(reports[c.label])[0] >= top - TIE]
    return min(near, key=lambda c: (c.complexity, -_score(reports[c.label])[1]))


def choose_layerwise(space: str, X, y, priors: dict[str, str | LatencyPredictor | None],
                     resolution: int | None = None, dtype: str = "fp32") -> PriorChoice:
    """`fit`'s default for a whole-network table: the prior (and whether to correct it) chosen by CV."""
    from edgelat.predictors.layerwise import LayerwisePredictor

    return choose(lambda c: LayerwisePredictor(space=space, prior=c.prior, resolution=resolution, dtype=dtype,
                                               corrections=c.corrections, basis_models=list(c.basis_models) or None),
                  candidates(priors), X, y)


def default_priors(models: dict[str, LatencyPredictor] | None = None) -> dict[str, str | LatencyPredictor | None]:
    """none, flops, params and the physical basis (the built-in priors), then the given models."""
    return {name: (None if name == "none" else name) for name in BUILT_IN_PRIORS} | (models or {})
