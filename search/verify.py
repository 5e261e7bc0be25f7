"""Measure-and-rescale (`search --verify N`): the network a search picks is built, converted and
measured on the device; while it breaks the budget, the latency model is rescaled by the error
measured there and the strategy searches again.

A predictor calibrated on random networks can err where a search ends up: a search pressed
against a budget drifts to networks unlike the random ones (early layers skipped, heavy late
ones), and there the calibrated factor does not transfer. The measured network tells how wrong
the model is in exactly that region, so the next round searches under a model that is at least
that pessimistic everywhere (the factor only grows, so a later round is never more optimistic).

A network is judged on more than one sitting (a campaign of its own, in a fresh runner process,
some time later), and the slower sitting counts. On a shared machine one sitting can land in a
quiet minute: in the whole-network benchmark's run D a network accepted at 0.989 of its budget on
three passes of one sitting measured 1.052 in a campaign a minute later; the passes within each
sitting agreed to 1%, so only another sitting could have seen it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgelat.core.progress import Progress
from edgelat.core.spaces import get_space
from edgelat.devices.passes import wait_pass_gap
from edgelat.devices.policy import DEFAULT_POLICY
from edgelat.errors import SearchError
from edgelat.profiler.store import Store
from edgelat.profiler.workflow import ProfileOptions, run_profile
from edgelat.search.options import SearchOptions
from edgelat.search.problem import LatencyModel, Problem, SearchResult

SearchRound = Callable[[Problem, float], SearchResult]  # (problem, factor) -> the strategy's answer


@dataclass(frozen=True)
class SittingsMeasurement:
    """One network on the device: the fastest pass of each sitting; the slowest sitting counts."""

    sittings_ms: tuple[float, ...]

    @property
    def ms(self) -> float:
        return max(self.sittings_ms)


Measure = Callable[[np.ndarray], SittingsMeasurement]  # arch -> what the device measured


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
        sat = measure(result.arch)
        measured = sat.ms
        unscaled = float(base.predict(result.arch[None])[0])
        check.rounds.append({"round": r, "arch": problem.space.encode(result.arch), "factor": check.factor,
                             "predicted_ms": result.latency_ms, "measured_ms": measured,
                             "sittings_ms": list(sat.sittings_ms), "score": result.score})
        tried.append((result, measured, problem))
        progress.note(f"verify {r}/{max_rounds}: {problem.space.encode(result.arch)} predicted "
                      f"{result.latency_ms:.3f} ms, measured {_sittings(sat)} (budget {target:g} ms)")
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


def _sittings(sat: SittingsMeasurement) -> str:
    each = ", ".join(f"{ms:.3f}" for ms in sat.sittings_ms)
    return f"{sat.ms:.3f} ms" if len(sat.sittings_ms) == 1 else f"{sat.ms:.3f} ms (the slower of {each})"


def device_measure(opts: SearchOptions, out: Path, num_classes: int, progress: Progress, *, sittings: int = 2,
                   passes: int = DEFAULT_POLICY.passes, **campaign: Any) -> Measure:
    """arch -> SittingsMeasurement: the whole network built, converted and measured on the search's device by
    the profiler in `sittings` campaigns, each into its own store (`out`/verify.sqlite, verify-2.sqlite,
    ...) with `passes` passes, of which the fastest counts. `campaign` goes to ProfileOptions (e.g.
    pass_gap_s, spell_guard, probe_history); each sitting starts at least the pass gap after the last one ended."""

    if sittings < 1 or passes < 1:
        raise SearchError(f"--verify: needs >= 1 sitting of >= 1 pass, got {sittings} x {passes}")
    space = get_space(opts.space, opts.resolution, opts.width, num_classes=num_classes)
    gap_s = float(campaign.get("pass_gap_s", DEFAULT_POLICY.pass_gap_s))

    def measure(arch: np.ndarray) -> SittingsMeasurement:
        enc, fastest, ended = space.encode(arch), [], time.perf_counter()
        for n in range(1, sittings + 1):
            if n > 1:  # a later moment, not straight after the last pass
                wait_pass_gap(ended, gap_s)
            store = out / ("verify.sqlite" if n == 1 else f"verify-{n}.sqlite")
            run_profile(ProfileOptions(device=opts.device, device_file=opts.device_file, space=opts.space,
                                       resolution=space.resolution, width=opts.width, dtype=opts.dtype,
                                       store=str(store), archs=(enc,), passes=passes, num_classes=num_classes,
                                       **campaign), progress)
            fastest.append(_fastest_ms(store, enc, opts.dtype, space.resolution, opts.device))
            ended = time.perf_counter()
        return SittingsMeasurement(tuple(fastest))

    return measure


def _fastest_ms(store: Path, enc: str, dtype: str, resolution: int, device: str) -> float:
    """The fastest pass of network `enc` in `store` (Store.rows "min")."""

    with Store(store) as s:
        rows = [row for row in s.rows(networks=True, estimate="min")
                if row["arch"] == enc.split(":", 1)[1] and row["dtype"] == dtype and row["resolution"] == resolution]
    if not rows:
        raise SearchError(f"--verify: {enc} could not be measured on {device!r} (see {store})")
    return float(rows[0]["median_ms"])
