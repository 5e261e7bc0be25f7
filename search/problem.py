"""The search problem: the space, a vectorised latency model (ms per architecture), the accuracy
signal, the budget and extra hard constraints (peak SRAM, flash), and what a strategy returns.

`Problem` caches signal scores per architecture and counts evaluations, so strategies compared
on one problem spend comparable budgets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from edgelat.core.spaces import SearchSpace
from edgelat.errors import SearchError
from edgelat.search.journal import ScoreJournal
from edgelat.search.signals import AccuracySignal


class LatencyModel(Protocol):
    """Anything that prices architectures: `predict([N, layers] choice indices) -> N ms`."""

    def predict(self, archs: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Constraint:
    """An extra hard limit: `fn(archs)` must be <= `limit` (e.g. peak SRAM bytes)."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    limit: float
    unit: str = ""
    declared: float | None = None  # the user's limit, when `limit` was tightened to steer an estimate

    @property
    def user_limit(self) -> float:
        return self.limit if self.declared is None else self.declared


@dataclass(frozen=True)
class Budget:
    """A latency budget: hard (infeasible candidates are rejected), or MnasNet's soft reward
    acc * (lat / T) ** w (w = -0.07 as in MnasNet), which needs an accuracy-valued signal."""

    target_ms: float
    mode: str = "hard"
    w: float = -0.07

    def __post_init__(self) -> None:
        if not (self.target_ms > 0 and math.isfinite(self.target_ms)):
            raise SearchError(f"target-ms: must be a positive number, got {self.target_ms}")
        if self.mode not in ("hard", "soft"):
            raise SearchError(f"budget mode: must be 'hard' or 'soft', got {self.mode!r}")

    def reward(self, score: np.ndarray, latency: np.ndarray) -> np.ndarray:
        """What strategies maximise: the score within the budget (hard) or MnasNet's reward (soft)."""
        if self.mode == "hard":
            return np.where(latency <= self.target_ms, score, -np.inf)
        return score * (latency / self.target_ms) ** self.w


@dataclass
class Problem:
    """What a strategy searches: architectures of `space` priced by `latency`, ranked by `signal`."""

    space: SearchSpace
    latency: LatencyModel
    signal: AccuracySignal
    budget: Budget
    constraints: list[Constraint] = field(default_factory=list)
    journal: ScoreJournal | None = None  # scores on disk: a re-run of the search continues it

    def __post_init__(self) -> None:
        if self.budget.mode == "soft" and not self.signal.is_accuracy:
            raise SearchError(f"the soft reward needs an accuracy signal (supernet or train), not "
                              f"{self.signal.name!r}; use a hard budget")
        self._cache: dict[bytes, float] = {}
        self.evaluations = 0
        self.candidates = 0
        self.points: list[tuple[float, float]] = []  # every evaluated (latency, score)

    def sibling(self) -> Problem:
        """The same problem with fresh counters and points, sharing the signal's score cache."""
        return self.priced_by(self.latency)

    def priced_by(self, latency: LatencyModel) -> Problem:
        """The same problem under another latency model, with fresh counters, sharing the score cache."""
        other = Problem(self.space, latency, self.signal, self.budget, self.constraints, self.journal)
        other._cache = self._cache
        return other

    def constrained_by(self, constraints: list[Constraint]) -> Problem:
        """The same problem under other hard limits, with fresh counters, sharing the score cache."""
        other = Problem(self.space, self.latency, self.signal, self.budget, constraints, self.journal)
        other._cache = self._cache
        return other

    def feasible(self, archs: np.ndarray, latency: np.ndarray | None = None) -> np.ndarray:
        """Mask of candidates meeting every hard limit (the latency one only in hard mode)."""
        lat = self.latency.predict(archs) if latency is None else latency
        ok = lat <= self.budget.target_ms if self.budget.mode == "hard" else np.ones(len(archs), bool)
        for c in self.constraints:
            ok &= np.asarray(c.fn(archs)) <= c.limit
        return ok

    def scores(self, archs: np.ndarray, latency: np.ndarray) -> np.ndarray:
        """Signal scores, cached per network (equivalent encodings are one); each new network counts as an
        evaluation."""
        keys = [a.astype(np.int8).tobytes() for a in self.space.canonical(archs)]
        todo = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if todo:
            vals = self._fresh_scores(todo)
            lat_of = dict(zip(keys, latency, strict=True))
            for k, v in zip(todo, vals, strict=True):
                self._cache[k] = float(v)
                self.points.append((float(lat_of[k]), float(v)))
            self.evaluations += len(todo)
        return np.array([self._cache[k] for k in keys])

    def _fresh_scores(self, todo: list[bytes]) -> np.ndarray:
        """Scores of networks this problem has not seen: from the journal when a stopped run scored them,
        else from the signal (and then written to the journal)."""
        known = self.journal.scores if self.journal is not None else {}
        new = [k for k in todo if k not in known]
        if new:
            vals = self.signal.evaluate(np.frombuffer(b"".join(new), np.int8).reshape(len(new), -1).astype(np.int64))
            if self.journal is not None:
                self.journal.record(new, vals)
            known = {**known, **dict(zip(new, map(float, vals), strict=True))}
        return np.array([known[k] for k in todo])

    def unseen(self, archs: np.ndarray) -> np.ndarray:
        """Mask of the archs whose network has no score yet (scoring it would cost an evaluation)."""
        return np.array([a.astype(np.int8).tobytes() not in self._cache for a in self.space.canonical(archs)], bool)

    def fastest(self) -> tuple[np.ndarray, float]:
        """The per-layer cheapest architecture (exact for additive latency models)."""
        n = len(self.space.layers)
        arch = np.zeros(n, np.int64)
        for i, layer in enumerate(self.space.layers):
            cands = np.tile(arch, (len(layer.choices), 1))
            cands[:, i] = np.arange(len(layer.choices))
            arch[i] = int(np.argmin(self.latency.predict(cands)))
        return arch, float(self.latency.predict(arch[None])[0])

    def random_feasible(self, n: int, rng: np.random.Generator, tries: int = 50) -> np.ndarray:
        """Up to `n` random feasible architectures, distinct networks (fewer when the budget is tight)."""
        found: dict[bytes, np.ndarray] = {}
        for _ in range(tries):
            batch = self.space.random(max(4 * n, 256), seed=int(rng.integers(2**31)))
            self.candidates += len(batch)
            batch = batch[self.feasible(batch)]
            for arch, key in zip(batch, self.space.canonical(batch).astype(np.int8), strict=True):
                found.setdefault(key.tobytes(), arch)
            if len(found) >= n:
                break
        return np.array(list(found.values())[:n], np.int64).reshape(-1, len(self.space.layers))

    def least(self, fn: Callable[[np.ndarray], np.ndarray]) -> float:
        """The smallest `fn` found by per-layer descent (exact for additive `fn`, e.g. flash)."""
        arch = np.zeros(len(self.space.layers), np.int64)
        for _ in range(2):
            for i, layer in enumerate(self.space.layers):
                cands = np.tile(arch, (len(layer.choices), 1))
                cands[:, i] = np.arange(len(layer.choices))
                arch[i] = int(np.argmin(np.asarray(fn(cands))))
        return float(np.asarray(fn(arch[None]))[0])

    def no_feasible_error(self) -> SearchError:
        """The error that says how far the space is from the limits (its fastest and smallest networks)."""
        arch, ms = self.fastest()
        extra = "".join(f", {c.name} <= {c.limit:.10g}{c.unit}" for c in self.constraints)
        least = "".join(f"; the per-layer minimum {c.name} is {self.least(c.fn):.10g}{c.unit}"
                        for c in self.constraints)
        return SearchError(f"no architecture found within the budget of {self.budget.target_ms:g} ms{extra}; "
                           f"the fastest architecture of the space is predicted at {ms:.2f} ms{least}")


@dataclass
class SearchResult:
    """A strategy's answer: the best architecture, its latency and score, and how it was found."""

    strategy: str
    arch: np.ndarray
    latency_ms: float
    score: float
    evaluations: int
    candidates: int
    wall_s: float
    points: list[tuple[float, float]]
    history: list[dict[str, Any]] = field(default_factory=list)  # best so far per step
    log: list[str] = field(default_factory=list)
