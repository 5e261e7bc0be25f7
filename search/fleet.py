"""One search over several devices at once: a network is judged on every device's latency, is
feasible only if it holds every budget and every hard limit (an MCU's SRAM), and the answer is
either the best feasible network or the Pareto front over accuracy and each device's latency.

`FleetProblem` wraps a `Problem` (its score cache and evaluation count are the fleet's), so a
single-objective strategy can run on one slice of the trade-off (`FleetProblem.under`) and every
network it scores counts toward the front.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgelat.core.spaces import SearchSpace
from edgelat.errors import SearchError
from edgelat.search.pareto import nondominated
from edgelat.search.problem import Budget, Constraint, LatencyModel, Problem
from edgelat.search.signal_base import AccuracySignal

NO_BUDGET_MS = 1e300  # a budget no network exceeds, for a device with no budget of its own
INFEASIBLE = 1e12  # the objectives given to a network outside the limits, never scored


@dataclass(frozen=True)
class DeviceTarget:
    """One device of the fleet: its name, what prices networks on it, and its budget (None: none)."""

    name: str
    latency: LatencyModel
    budget_ms: float | None = None

    def __post_init__(self) -> None:
        if self.budget_ms is not None and not (self.budget_ms > 0 and math.isfinite(self.budget_ms)):
            raise SearchError(f"{self.name}: the budget must be a positive number of ms, got {self.budget_ms}")


class FleetProblem:
    """Networks of `space` scored by `signal` and priced on every device of `targets`."""

    def __init__(self, space: SearchSpace, signal: AccuracySignal, targets: list[DeviceTarget],
                 constraints: list[Constraint] | None = None):
        if not targets:
            raise SearchError("a fleet search needs at least one device")
        self.space, self.signal, self.targets = space, signal, list(targets)
        self.constraints = list(constraints or [])
        self._scores: dict[bytes, float] = {}  # the fleet's score cache, shared by every slice's problem
        self.problem = self.under([t.budget_ms for t in self.targets])

    def under(self, budgets_ms: list[float | None]) -> Problem:
        """A single-objective problem: the first device's budget, the others' as hard limits, sharing the
        fleet's score cache and so its evaluation count."""
        limits = [Constraint(f"{t.name} latency", t.latency.predict, b, " ms")
                  for t, b in zip(self.targets[1:], budgets_ms[1:], strict=True) if b is not None]
        problem = Problem(self.space, self.targets[0].latency, self.signal,
                          Budget(budgets_ms[0] if budgets_ms[0] is not None else NO_BUDGET_MS),
                          limits + self.constraints)
        problem._cache = self._scores
        return problem

    @property
    def evaluations(self) -> int:
        """Distinct networks scored so far, by any strategy on any slice of this fleet."""
        return len(self._scores)

    def latencies(self, archs: np.ndarray) -> np.ndarray:
        """[N, devices] predicted ms."""
        return np.column_stack([t.latency.predict(archs) for t in self.targets])

    def feasible(self, archs: np.ndarray) -> np.ndarray:
        return self.problem.feasible(archs)

    def violation(self, archs: np.ndarray) -> np.ndarray:
        """How far each network is outside the limits: the sum of the relative excesses over every budget and
        hard limit (0 when feasible), a graded signal for samplers that learn from infeasible points."""
        archs = np.asarray(archs, np.int64).reshape(-1, len(self.space.layers))
        lat, total = self.latencies(archs), np.zeros(len(archs))
        for j, t in enumerate(self.targets):
            if t.budget_ms is not None:
                total += np.maximum(0.0, lat[:, j] / t.budget_ms - 1.0)
        for c in self.constraints:
            total += np.maximum(0.0, np.asarray(c.fn(archs), float) / c.limit - 1.0)
        return total

    def feasible_objectives(self, archs: np.ndarray) -> np.ndarray:
        """`objectives` of the feasible networks; an infeasible one is not scored (no evaluation spent: its
        latency and memory are known before any accuracy is) and gets INFEASIBLE in every column."""
        archs = np.asarray(archs, np.int64).reshape(-1, len(self.space.layers))
        F = np.full((len(archs), 1 + len(self.targets)), INFEASIBLE)
        ok = self.feasible(archs)
        if ok.any():
            F[ok] = self.objectives(archs[ok])
        return F

    def objectives(self, archs: np.ndarray) -> np.ndarray:
        """[N, 1 + devices], all minimised: minus the score, then each device's latency. Scoring a network
        not seen before counts as an evaluation."""
        archs = np.asarray(archs, np.int64).reshape(-1, len(self.space.layers))
        lat = self.latencies(archs)
        return np.column_stack([-self.problem.scores(archs, lat[:, 0]), lat])

    def evaluated(self) -> np.ndarray:
        """Every distinct network scored so far (canonical encodings)."""
        keys = list(self._scores)
        return np.frombuffer(b"".join(keys), np.int8).reshape(len(keys), -1).astype(np.int64) if keys else \
            np.zeros((0, len(self.space.layers)), np.int64)

    def front(self) -> tuple[np.ndarray, np.ndarray]:
        """(archs, objectives) of the non-dominated feasible networks scored so far, fastest first."""
        archs = self.evaluated()
        archs = archs[self.feasible(archs)] if len(archs) else archs
        if not len(archs):
            return archs, np.zeros((0, 1 + len(self.targets)))
        F = self.objectives(archs)  # all cached: no evaluation
        keep = nondominated(F)
        order = np.argsort(F[keep][:, 1], kind="stable")
        return archs[keep][order], F[keep][order]

    def best(self) -> tuple[np.ndarray, float] | None:
        """The most accurate feasible network scored so far and its score (None when there is none)."""
        archs, F = self.front()
        if not len(archs):
            return None
        i = int(np.argmin(F[:, 0]))
        return archs[i], float(-F[i, 0])
