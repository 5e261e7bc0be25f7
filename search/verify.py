"""Measure-and-rescale (`search --verify N`): the network a search picks is built, converted and
measured on the device; while it breaks the budget, the latency model is rescaled by the error
measured there and the strategy searches again.

A predictor calibrated on random networks can err where a search ends up: a search pressed
against a budget drifts to networks unlike the random ones (early layers skipped, heavy late
ones), and there the calibrated factor does not transfer. The measured network tells how wrong
the model is in exactly that region, so the next round searches under a model that is at least
that pessimistic everywhere (the factor only grows, so a later round is never more optimistic).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgelat.core.progress import Progress
from edgelat.errors import SearchError
from edgelat.search.options import SearchOptions
from edgelat.search.problem import LatencyModel, Problem, SearchResult

SearchRound = Callable[[Problem, float], SearchResult]  # (problem, factor) -> the strategy's answer
Measure = Callable[[np.ndarray], float]  # arch -> measured ms on the device


@dataclass(frozen=True)
class ScaledLatency:
    """A latency model multiplied by `factor` (what the device measured over what it predicted)."""

    model: LatencyModel
    factor: float

    def predict(self, archs: np.ndarray) -> np.ndarray:
        return self.factor * np.asarray(self.model.predict(archs), float)


@dataclass
class Verification:
    """What the rounds measured: one row per round, and whether the chosen network met the budget."""

    rounds: list[dict[str, Any]] = field(default_factory=list)
    met_budget: bool = False
    factor: float = 1.0

    def document(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "met_budget": self.met_budget, "factor": self.factor}


def verify_loop(problem: Problem, result: SearchResult, search_again: SearchRound, measure: Measure,
                max_rounds: int, progress: Progress) -> tuple[Problem, SearchResult, Verification]:
    """Measure `result`'s network; while it is over the budget and rounds remain, rescale the model
    by measured/unscaled-predicted there and search again. Returns the problem of the last round (its
    model rescaled), the chosen result (the best-scoring measured network within the budget, else the
    last one, said in a note) and the record of the rounds."""
    base, target = problem.latency, problem.budget.target_ms
    check = Verification()
    tried: list[tuple[SearchResult, float, Problem]] = []
    for r in range(1, max_rounds + 1):
        measured = measure(result.arch)
        unscaled = float(base.predict(result.arch[None])[0])
        check.rounds.append({"round": r, "arch": problem.space.encode(result.arch), "factor": check.factor,
                             "predicted_ms": result.latency_ms, "measured_ms": measured,
                             "score": result.score})
        tried.append((result, measured, problem))
        progress.note(f"verify {r}/{max_rounds}: {problem.space.encode(result.arch)} predicted "
                      f"{result.latency_ms:.3f} ms, measured {measured:.3f} ms (budget {target:g} ms)")
        if measured <= target or r == max_rounds:
            break
        check.factor = max(check.factor, measured / unscaled)
        progress.note(f"verify {r}/{max_rounds}: over the budget; the model is rescaled x{check.factor:.3f} "
                      "(measured / predicted there) and the search runs again")
        problem = problem.priced_by(ScaledLatency(base, check.factor))
        try:
            result = search_again(problem, check.factor)
        except SearchError as exc:  # nothing is predicted within the budget any more
            progress.note(f"verify: stopped, the rescaled model leaves nothing within the budget ({exc})")
            break
    within = [t for t in tried if t[1] <= target]
    check.met_budget = bool(within)
    if within:
        result, _, problem = max(within, key=lambda t: t[0].score)
    else:
        progress.note(f"verify: no measured network met the budget of {target:g} ms in {max_rounds} round(s); "
                      f"the last one is kept (measured {tried[-1][1]:.3f} ms); raise --verify or the budget")
    return problem, result, check


def device_measure(opts: SearchOptions, out: Path, num_classes: int, progress: Progress) -> Measure:
    """arch -> ms: the whole network built, converted and measured on the search's device with the
    profiler (3 passes, the fastest counts), into `out`/verify.sqlite."""
    from edgelat.core.spaces import get_space
    from edgelat.profiler.store import Store
    from edgelat.profiler.workflow import ProfileOptions, run_profile

    space = get_space(opts.space, opts.resolution, opts.width, num_classes=num_classes)
    store = out / "verify.sqlite"

    def measure(arch: np.ndarray) -> float:
        enc = space.encode(arch)
        run_profile(ProfileOptions(device=opts.device, device_file=opts.device_file, space=opts.space,
                                   resolution=space.resolution, width=opts.width, dtype=opts.dtype,
                                   store=str(store), archs=(enc,), passes=3, num_classes=num_classes), progress)
        with Store(store) as s:
            rows = [row for row in s.rows(networks=True, estimate="min")
                    if row["arch"] == enc.split(":", 1)[1] and row["dtype"] == opts.dtype
                    and row["resolution"] == space.resolution]
        if not rows:
            raise SearchError(f"--verify: {enc} could not be measured on {opts.device!r} (see {store})")
        return float(rows[0]["median_ms"])

    return measure
