"""Exact memory before export, on microcontrollers. The search prices peak SRAM and flash with
estimates that run up to ~5% low, so a search pressed against a limit can pick a network whose
exact figures (TFLM's arena, the int8 file's flash) break it. The chosen network is converted to
int8 and measured by TFLM; while it breaks a limit, that limit is tightened by estimate / exact
there and the strategy searches again, as `search --verify` does for latency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from edgelat.core.progress import Progress
from edgelat.errors import SearchError
from edgelat.search.problem import Problem, SearchResult

EXACT_FIELDS = {"peak SRAM": "peak_sram_bytes", "flash": "flash_bytes"}  # constraint name -> McuReport field
MAX_ROUNDS = 3


def exact_memory(space, arch: np.ndarray, device, seed: int = 0):
    """TFLM's exact report of `arch` converted to full int8, with every weight and BatchNorm statistic
    drawn at random first: at their initial values, the folded biases of equal widths are equal
    (zeros), the converter stores them once, and the file comes out a few % smaller than a trained one."""
    from edgelat.core.builders import build_network
    from edgelat.core.convert import convert_model
    from edgelat.devices.mcu.tflm import mcu_report  # lazy: the TFLM interpreter loads only for MCU targets

    model = build_network(space, arch, batch_size=1, seed=seed)
    rng = np.random.default_rng(seed)
    for v in model.weights:
        positive = any(k in v.path for k in ("variance", "gamma"))
        v.assign((rng.uniform(0.5, 1.5, v.shape) if positive else rng.normal(0.0, 0.1, v.shape)).astype("float32"))
    return mcu_report(convert_model(model, "int8", calibration_samples=4, seed=seed).data, device)


def _check(problem: Problem, arch: np.ndarray, report) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    """The exact figure of every memory limit, and name -> (estimate, exact) of those it breaks."""
    exact, broken = {}, {}
    for c in problem.constraints:
        if c.name in EXACT_FIELDS:
            exact[c.name] = float(getattr(report, EXACT_FIELDS[c.name]))
            if exact[c.name] > c.user_limit:
                broken[c.name] = (float(c.fn(arch[None])[0]), exact[c.name])
    return exact, broken


def fit_exactly(problem: Problem, result: SearchResult, search_again: Callable[[Problem], SearchResult],
                exact_of: Callable[[np.ndarray], Any], progress: Progress, max_rounds: int = MAX_ROUNDS
                ) -> tuple[Problem, SearchResult, list[dict[str, Any]]]:
    """Check `result` exactly; while it breaks a memory limit and rounds remain, set that limit to the
    user's times estimate / exact there (never looser than before) and search again. Returns the last
    problem, the last result (it may still break a limit: the export then says so) and one row per
    round. The limits recorded and checked at export stay the user's."""
    rounds: list[dict[str, Any]] = []
    limits = {c.name: c.user_limit for c in problem.constraints}
    for r in range(1, max_rounds + 1):
        exact, broken = _check(problem, result.arch, exact_of(result.arch))
        rounds.append({"round": r, "arch": problem.space.encode(result.arch), "exact_bytes": exact,
                       "broken": sorted(broken)})
        if not broken:
            progress.note(f"memory {r}: {problem.space.encode(result.arch)} fits TFLM's exact figures")
            break
        text = ", ".join(f"{k} {x:.0f} B exact > {limits[k]:.0f} B (estimate {e:.0f} B)"
                         for k, (e, x) in broken.items())
        if r == max_rounds:
            progress.note(f"memory {r}/{max_rounds}: {text}; no round left")
            break
        progress.note(f"memory {r}/{max_rounds}: {text}; the limit is tightened by estimate/exact and the search "
                      "runs again")
        tightened = [replace(c, limit=min(c.limit, c.user_limit * broken[c.name][0] / broken[c.name][1]),
                             declared=c.user_limit) if c.name in broken else c for c in problem.constraints]
        narrower = problem.constrained_by(tightened)
        try:
            result = search_again(narrower)
        except SearchError as exc:  # nothing meets the tightened limits
            progress.note(f"memory: stopped, nothing meets the tightened limits ({exc})")
            break
        problem = narrower
    return problem, result, rounds
