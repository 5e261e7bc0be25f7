"""Search strategies, passed in as objects: random search, simulated annealing, single-path.

A `Problem` holds the space, a vectorised latency model (ms per architecture), the accuracy
signal, the budget and any extra hard constraints (peak SRAM, flash). Strategies return a
`SearchResult` with the best architecture, every evaluated (latency, score) point, and a log.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from edgelat.core.spaces import SearchSpace
from edgelat.errors import SearchError
from edgelat.search.signals import AccuracySignal


class LatencyModel(Protocol):
    def predict(self, archs: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Constraint:
    """An extra hard limit: `fn(archs)` must be <= `limit` (e.g. peak SRAM bytes)."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    limit: float
    unit: str = ""


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
        if self.mode == "hard":
            return np.where(latency <= self.target_ms, score, -np.inf)
        return score * (latency / self.target_ms) ** self.w


@dataclass
class Problem:
    space: SearchSpace
    latency: LatencyModel
    signal: AccuracySignal
    budget: Budget
    constraints: list[Constraint] = field(default_factory=list)

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
        other = Problem(self.space, self.latency, self.signal, self.budget, self.constraints)
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
        """Signal scores, cached per architecture; each new one counts as an evaluation."""
        keys = [a.astype(np.int8).tobytes() for a in archs]
        todo = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if todo:
            fresh = np.frombuffer(b"".join(todo), np.int8).reshape(len(todo), -1).astype(np.int64)
            vals = self.signal.evaluate(fresh)
            lat_of = dict(zip(keys, latency, strict=True))
            for k, v in zip(todo, vals, strict=True):
                self._cache[k] = float(v)
                self.points.append((float(lat_of[k]), float(v)))
            self.evaluations += len(todo)
        return np.array([self._cache[k] for k in keys])

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
        """Up to `n` random feasible architectures (fewer when the budget is tight)."""
        found: list[np.ndarray] = []
        for _ in range(tries):
            batch = self.space.random(max(4 * n, 256), seed=int(rng.integers(2**31)))
            self.candidates += len(batch)
            ok = self.feasible(batch)
            found.extend(batch[ok])
            if len(found) >= n:
                break
        return np.array(found[:n], np.int64).reshape(-1, len(self.space.layers))

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
        arch, ms = self.fastest()
        extra = "".join(f", {c.name} <= {c.limit:.10g}{c.unit}" for c in self.constraints)
        least = "".join(f"; the per-layer minimum {c.name} is {self.least(c.fn):.10g}{c.unit}"
                        for c in self.constraints)
        return SearchError(f"no architecture found within the budget of {self.budget.target_ms:g} ms{extra}; "
                           f"the fastest architecture of the space is predicted at {ms:.2f} ms{least}")


@dataclass
class SearchResult:
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


def _result(name: str, problem: Problem, arch: np.ndarray, score: float, start: float, history, log) -> SearchResult:
    lat = float(problem.latency.predict(arch[None])[0])
    return SearchResult(name, arch, lat, float(score), problem.evaluations, problem.candidates,
                        time.perf_counter() - start, list(problem.points), history, log)


Progress = Callable[[int, int, dict], None]


class RandomSearch:
    """Sample feasible architectures uniformly, score `evaluations` of them, keep the best."""

    name = "random"

    def __init__(self, evaluations: int = 100, seed: int = 0):
        self.evaluations, self.seed = evaluations, seed

    def run(self, problem: Problem, progress: Progress | None = None) -> SearchResult:
        start = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        archs = problem.random_feasible(self.evaluations, rng)
        if len(archs) == 0:
            raise problem.no_feasible_error()
        lat = problem.latency.predict(archs)
        best, best_r, history = archs[0], -np.inf, []
        step = len(archs) if problem.signal.vectorised else 1
        for i in range(0, len(archs), step):
            chunk = slice(i, i + step)
            r = problem.budget.reward(problem.scores(archs[chunk], lat[chunk]), lat[chunk])
            k = int(np.argmax(r))
            if r[k] > best_r:
                best, best_r = archs[chunk][k], float(r[k])
            history.append({"evaluations": problem.evaluations, "best_reward": best_r})
            if progress:
                progress(min(i + step, len(archs)), len(archs), {"best": best_r})
        score = problem.scores(best[None], problem.latency.predict(best[None]))[0]
        log = [f"random: {len(archs)} feasible architectures scored"]
        return _result(self.name, problem, best, score, start, history, log)


class SimulatedAnnealing:
    """Simulated annealing in the spirit of FOX-NAS, with parallel chains.

    A move re-draws the choices of m layers, m shrinking linearly from `neighbourhood` to 1.
    The temperature falls geometrically from `t_start` to `t_end` (in units of the score spread
    of the initial population), acceptance is Metropolis, and a chain that has not improved for
    `patience` steps restarts from the best architecture found so far. With `evaluations`,
    the run lasts until that many new architectures have been scored (revisits are free, so a
    fixed step count would spend less than the random baseline it is compared with); the
    schedule then follows the share of that budget spent, and `steps` caps it at 20x.
    """

    name = "anneal"

    def __init__(self, steps: int = 200, chains: int = 8, neighbourhood: int | None = None, t_start: float = 1.0,
                 t_end: float = 0.01, patience: int = 40, seed: int = 0, evaluations: int | None = None):
        if steps < 1 or chains < 1 or (evaluations is not None and evaluations < 1):
            raise SearchError("anneal: steps, chains and evaluations must be >= 1")
        self.evaluations = evaluations
        self.steps, self.chains, self.neighbourhood = steps, chains, neighbourhood
        self.t_start, self.t_end, self.patience, self.seed = t_start, t_end, patience, seed

    def run(self, problem: Problem, progress: Progress | None = None) -> SearchResult:
        start = time.perf_counter()
        spent0 = problem.evaluations  # the budget counts the initial population too
        rng = np.random.default_rng(self.seed)
        space = problem.space
        searchable = np.array(space.searchable)
        counts = np.array([len(layer.choices) for layer in space.layers])
        m0 = self.neighbourhood or max(1, len(searchable) // 4)
        cur = problem.random_feasible(self.chains, rng)
        if len(cur) == 0:
            arch, _ = problem.fastest()
            if not problem.feasible(arch[None])[0]:
                raise problem.no_feasible_error()
            cur = arch[None]
        cur = cur[rng.integers(len(cur), size=self.chains)] if len(cur) < self.chains else cur
        cur_lat = problem.latency.predict(cur)
        cur_r = problem.budget.reward(problem.scores(cur, cur_lat), cur_lat)
        finite = cur_r[np.isfinite(cur_r)]
        scale = float(np.std(finite)) if len(finite) > 1 and np.std(finite) > 0 else max(1e-3, abs(float(finite[0])))
        b = int(np.argmax(cur_r))
        best, best_r = cur[b].copy(), float(cur_r[b])
        stale = np.zeros(self.chains, np.int64)
        chain_best = cur_r.copy()
        history, restarts = [], 0
        max_steps = self.steps if self.evaluations is None else 20 * self.steps
        it, done_steps = -1, 0
        while it + 1 < max_steps:
            it += 1
            if self.evaluations is None:
                frac = it / max(1, self.steps - 1)
            else:
                frac = min(1.0, (problem.evaluations - spent0) / self.evaluations)
                if frac >= 1.0:
                    break
            temp = self.t_start * (self.t_end / self.t_start) ** frac
            m = max(1, int(round(m0 * (1 - frac))))
            prop = cur.copy()
            for c in range(self.chains):
                layers = rng.choice(searchable, size=min(m, len(searchable)), replace=False)
                prop[c, layers] = (prop[c, layers] + rng.integers(1, counts[layers])) % counts[layers]
            problem.candidates += len(prop)
            lat = problem.latency.predict(prop)
            ok = problem.feasible(prop, lat)
            r = np.full(self.chains, -np.inf)
            if ok.any():
                r[ok] = problem.budget.reward(problem.scores(prop[ok], lat[ok]), lat[ok])
            delta = (r - cur_r) / scale
            with np.errstate(over="ignore", invalid="ignore"):
                accept = ok & ((delta >= 0) | (rng.random(self.chains) < np.exp(np.minimum(delta, 0) / temp)))
            cur[accept], cur_lat[accept], cur_r[accept] = prop[accept], lat[accept], r[accept]
            better = r > chain_best  # per-chain progress decides restarts
            chain_best = np.where(better, r, chain_best)
            stale = np.where(better, 0, stale + 1)
            if r.max() > best_r:
                k = int(np.argmax(r))
                best, best_r = prop[k].copy(), float(r[k])
            for c in np.flatnonzero(stale >= self.patience):
                cur[c], cur_lat[c], cur_r[c], stale[c] = best, problem.latency.predict(best[None])[0], best_r, 0
                restarts += 1
            done_steps = it + 1
            history.append({"step": it, "temperature": temp, "neighbourhood": m, "best_reward": best_r,
                            "evaluations": problem.evaluations})
            if progress:
                done, total = ((it + 1, self.steps) if self.evaluations is None
                               else (problem.evaluations - spent0, self.evaluations))
                progress(min(done, total), total, {"best": best_r})
        score = problem.scores(best[None], problem.latency.predict(best[None]))[0]
        log = [f"anneal: {done_steps} steps x {self.chains} chains, neighbourhood {m0}->1, "
               f"T {self.t_start}->{self.t_end} x score spread {scale:.4g}, {restarts} restarts"]
        return _result(self.name, problem, best, score, start, history, log)


def repair(problem: Problem, arch: np.ndarray, margins: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Make `arch` meet the hard limits by greedy single-layer downgrades: each step takes the
    change that saves the most latency per unit of indicator margin (least confident first)."""
    arch = arch.copy()
    log: list[str] = []
    while not problem.feasible(arch[None])[0]:
        base = float(problem.latency.predict(arch[None])[0])
        best, best_gain = None, 0.0
        for i in problem.space.searchable:
            for j in range(len(problem.space.layers[i].choices)):
                if j == arch[i]:
                    continue
                cand = arch.copy()
                cand[i] = j
                saved = base - float(problem.latency.predict(cand[None])[0])
                if saved <= 0:
                    continue
                conf = 1.0 + (float(np.min(np.abs(margins[i]))) if margins is not None else 0.0)
                if saved / conf > best_gain:
                    best, best_gain = (i, j), saved / conf
        if best is None:
            raise problem.no_feasible_error()
        i, j = best
        log.append(f"repair: layer {i} {problem.space.layers[i].choices[arch[i]].name} -> "
                   f"{problem.space.layers[i].choices[j].name}")
        arch[i] = j
    return arch, log


class SinglePathSearch:
    """Single-Path NAS: train the superkernel with CE + lambda ln R and read the architecture off
    its indicators. With a target, lambda follows a dual-ascent schedule; the decoded network is
    then repaired greedily if it is still over the hard budget (logged)."""

    name = "single-path"

    def __init__(self, net, data, table: np.ndarray, constant: float, epochs: int = 6, lam: float | None = None,
                 seed: int = 0):
        self.net, self.data, self.table, self.constant = net, data, table, constant
        self.epochs, self.lam, self.seed = epochs, lam, seed

    def run(self, problem: Problem, progress: Progress | None = None) -> SearchResult:
        from edgelat.search.training import train_single_path

        start = time.perf_counter()
        target = None if self.lam is not None else problem.budget.target_ms
        out = train_single_path(self.net, self.data.x_train, self.data.y_train, self.table, self.constant,
                                target_ms=target, lam=self.lam or 0.0, epochs=self.epochs, seed=self.seed,
                                progress=progress)
        arch = out.arch
        log = [f"single-path: {self.epochs} epochs, final indicators decode to {problem.space.encode(arch)} at "
               f"{float(problem.latency.predict(arch[None])[0]):.2f} ms"]
        # The indicators are read off at every step; the distinct feasible architectures of the
        # second half of training are ranked by the accuracy signal (the search oscillates
        # around the target, so the last one alone may waste the budget or exceed it).
        late = np.array([h["arch"] for h in out.history[len(out.history) // 2 :]] + [arch.tolist()], np.int64)
        late = np.unique(late, axis=0)
        ok = late[problem.feasible(late)]
        if len(ok):
            lat = problem.latency.predict(ok)
            r = problem.budget.reward(problem.scores(ok, lat), lat)
            arch = ok[int(np.argmax(r))]
            log.append(f"single-path: {len(ok)} of {len(late)} decoded architectures of the second half are "
                       f"feasible; kept {problem.space.encode(arch)} ({float(lat[int(np.argmax(r))]):.2f} ms)")
        else:
            arch, fixes = repair(problem, arch, self.net.margins())
            log += fixes
        score = problem.scores(arch[None], problem.latency.predict(arch[None]))[0]
        history = [{"step": i, **{k: v for k, v in h.items() if k != "arch"}} for i, h in enumerate(out.history)]
        return _result(self.name, problem, arch, score, start, history, log)
