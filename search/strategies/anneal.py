"""Simulated annealing over parallel chains, in the spirit of FOX-NAS."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from edgelat.core.progress import NullProgress, Progress
from edgelat.errors import SearchError
from edgelat.search.problem import Problem, SearchResult
from edgelat.search.strategies.base import Strategy, StrategyContext


@dataclass
class _Chains:
    """The chains' current architectures, latencies and rewards, their own bests, and the best overall."""

    cur: np.ndarray
    lat: np.ndarray
    reward: np.ndarray
    chain_best: np.ndarray
    stale: np.ndarray  # steps since each chain last improved its own best
    best: np.ndarray
    best_r: float
    scale: float  # the score spread of the initial population: the temperature's unit
    restarts: int = 0


class SimulatedAnnealing(Strategy):
    """Simulated annealing in the spirit of FOX-NAS, with parallel chains.

    A move re-draws the choices of m layers, m shrinking linearly from `neighbourhood` to 1.
    The temperature falls geometrically from `t_start` to `t_end` (in units of the median absolute
    deviation of the initial population's scores), acceptance is Metropolis, and a chain that has
    not improved for `patience` steps restarts. With `evaluations`, the run lasts until that many
    new architectures have been scored (revisits are free, so a fixed step count would spend less
    than the random baseline it is compared with): `init_share` of them go to a random initial
    population whose best members seed the chains, stale chains restart at a fresh random network
    (exploration, since the best is already kept), the schedule follows the share of the budget
    spent, and `steps` caps it at 20x. Without `evaluations` (cheap signals) the population is one
    network per chain and stale chains restart from the best so far.
    """

    name = "anneal"

    def __init__(self, steps: int = 200, chains: int | None = 8, neighbourhood: int | None = None,
                 t_start: float = 0.3, t_end: float = 0.01, patience: int = 40, seed: int = 0,
                 evaluations: int | None = None, init_share: float = 0.3):
        """`chains=None` picks 1-4 chains by budget (one per 50 evaluations)."""
        if steps < 1 or (chains is not None and chains < 1) or (evaluations is not None and evaluations < 1):
            raise SearchError("anneal: steps, chains and evaluations must be >= 1")
        if not 0.0 <= init_share < 1.0:
            raise SearchError(f"anneal: init_share must be in [0, 1), got {init_share}")
        if chains is None:
            chains = int(np.clip((evaluations or 200) // 50, 1, 4))
        self.evaluations, self.init_share = evaluations, init_share
        self.steps, self.chains, self.neighbourhood = steps, chains, neighbourhood
        self.t_start, self.t_end, self.patience, self.seed = t_start, t_end, patience, seed

    @classmethod
    def from_context(cls, ctx: StrategyContext) -> SimulatedAnnealing:
        """Cheap signals: `steps` x 10 steps. Costly ones: exactly the random baseline's number of
        new evaluations, on 1-4 chains by budget (never more than `--chains`)."""
        opts, vectorised = ctx.options, ctx.signal.vectorised
        chains = opts.chains if vectorised else int(np.clip(opts.evaluations // 50, 1, min(opts.chains, 4)))
        steps = opts.steps * 10 if vectorised else max(1, opts.evaluations // chains)
        return cls(steps=steps, chains=chains, seed=opts.seed, evaluations=None if vectorised else opts.evaluations)

    def run(self, problem: Problem, progress: Progress | None = None) -> SearchResult:
        progress = progress or NullProgress()
        start = time.perf_counter()
        spent0 = problem.evaluations  # the budget counts the initial population too
        rng = np.random.default_rng(self.seed)
        searchable = np.array(problem.space.searchable)
        counts = np.array([len(layer.choices) for layer in problem.space.layers])
        m0 = self.neighbourhood or max(1, len(searchable) // 4)
        chains = self._start(problem, rng)
        spent_init = problem.evaluations - spent0
        history, done_steps = [], 0
        for it in range(self.steps if self.evaluations is None else 20 * self.steps):
            frac = self._schedule(it, problem.evaluations - spent0, spent_init)
            if frac is None:
                break
            temp = self.t_start * (self.t_end / self.t_start) ** frac
            m = max(1, int(round(m0 * (1 - frac))))
            left = None if self.evaluations is None else self.evaluations - (problem.evaluations - spent0)
            self._accept(chains, *self._propose(problem, chains.cur, m, searchable, counts, rng, left), temp, rng)
            self._restart(problem, chains, rng, self.evaluations is not None
                          and problem.evaluations - spent0 < self.evaluations)
            done_steps = it + 1
            history.append({"step": it, "temperature": temp, "neighbourhood": m, "best_reward": chains.best_r,
                            "evaluations": problem.evaluations})
            done, total = ((it + 1, self.steps) if self.evaluations is None
                           else (problem.evaluations - spent0, self.evaluations))
            progress.advance(min(done, total), total, {"best": chains.best_r})
        best = chains.best
        score = problem.scores(best[None], problem.latency.predict(best[None]))[0]
        log = [f"anneal: {done_steps} steps x {self.chains} chains, neighbourhood {m0}->1, "
               f"T {self.t_start}->{self.t_end} x score spread {chains.scale:.4g}, {chains.restarts} restarts"]
        return self._result(problem, best, score, start, history, log)

    def _schedule(self, it: int, spent: int, spent_init: int) -> float | None:
        """The share of the annealing done at step `it`: of the steps, or of the evaluations left
        after the initial population (None once the evaluation budget is spent)."""
        if self.evaluations is None:
            return it / max(1, self.steps - 1)
        if spent >= self.evaluations:
            return None
        return (spent - spent_init) / max(1, self.evaluations - spent_init)

    def _start(self, problem: Problem, rng: np.random.Generator) -> _Chains:
        """A random feasible population (`init_share` of the evaluation budget, at least one network
        per chain; the fastest network when sampling finds none); its best members seed the chains."""
        size = max(self.chains, int(round(self.init_share * self.evaluations)) if self.evaluations else 0)
        pop = problem.random_feasible(size, rng)
        if len(pop) == 0:
            arch, _ = problem.fastest()
            if not problem.feasible(arch[None])[0]:
                raise problem.no_feasible_error()
            pop = arch[None]
        lat = problem.latency.predict(pop)
        reward = problem.budget.reward(problem.scores(pop, lat), lat)
        top = np.argsort(-reward, kind="stable")[: self.chains]
        top = top[np.arange(self.chains) % len(top)]
        cur, lat, reward_c = pop[top].copy(), lat[top], reward[top]
        b = int(np.argmax(reward))
        return _Chains(cur, lat, reward_c, reward_c.copy(), np.zeros(self.chains, np.int64), pop[b].copy(),
                       float(reward[b]), _spread(reward))

    def _propose(self, problem: Problem, cur: np.ndarray, m: int, searchable: np.ndarray, counts: np.ndarray,
                 rng: np.random.Generator, left: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each chain's move (m layers re-drawn) with its latency, feasibility and reward (-inf if infeasible);
        with `left`, moves to new networks beyond that many evaluations are dropped (the budget is exact)."""
        prop = cur.copy()
        for c in range(self.chains):
            layers = rng.choice(searchable, size=min(m, len(searchable)), replace=False)
            prop[c, layers] = (prop[c, layers] + rng.integers(1, counts[layers])) % counts[layers]
        problem.candidates += len(prop)
        lat = problem.latency.predict(prop)
        ok = problem.feasible(prop, lat)
        if left is not None:
            ok[np.flatnonzero(ok & problem.unseen(prop))[max(left, 0):]] = False
        r = np.full(self.chains, -np.inf)
        if ok.any():
            r[ok] = problem.budget.reward(problem.scores(prop[ok], lat[ok]), lat[ok])
        return prop, lat, ok, r

    def _accept(self, chains: _Chains, prop: np.ndarray, lat: np.ndarray, ok: np.ndarray, r: np.ndarray,
                temp: float, rng: np.random.Generator) -> None:
        """Metropolis acceptance of feasible moves; updates each chain's best and the overall best."""
        delta = (r - chains.reward) / chains.scale
        with np.errstate(over="ignore", invalid="ignore"):
            accept = ok & ((delta >= 0) | (rng.random(self.chains) < np.exp(np.minimum(delta, 0) / temp)))
        chains.cur[accept], chains.lat[accept], chains.reward[accept] = prop[accept], lat[accept], r[accept]
        better = r > chains.chain_best  # per-chain progress decides restarts
        chains.chain_best = np.where(better, r, chains.chain_best)
        chains.stale = np.where(better, 0, chains.stale + 1)
        if r.max() > chains.best_r:
            k = int(np.argmax(r))
            chains.best, chains.best_r = prop[k].copy(), float(r[k])

    def _restart(self, problem: Problem, chains: _Chains, rng: np.random.Generator, at_random: bool) -> None:
        """Chains that have not improved for `patience` steps restart: at a random network when new
        evaluations are counted (and one is left to spend), else from the best architecture."""
        for c in np.flatnonzero(chains.stale >= self.patience):
            arch, reward = chains.best, chains.best_r
            if at_random:  # new evaluations are counted and one is left to spend
                fresh = problem.random_feasible(1, rng)
                if len(fresh):
                    lat = problem.latency.predict(fresh)
                    arch, reward = fresh[0], float(problem.budget.reward(problem.scores(fresh, lat), lat)[0])
            chains.cur[c], chains.lat[c], chains.reward[c] = arch, problem.latency.predict(arch[None])[0], reward
            chains.chain_best[c], chains.stale[c] = reward, 0
            chains.restarts += 1


def _spread(reward: np.ndarray) -> float:
    """The temperature's unit: the scores' median absolute deviation (robust to a few outliers),
    falling back to the standard deviation, then to the score's own size."""
    finite = reward[np.isfinite(reward)]
    if len(finite) > 1:
        mad = float(np.median(np.abs(finite - np.median(finite))))
        if mad > 0:
            return mad
        if np.std(finite) > 0:
            return float(np.std(finite))
    return max(1e-3, abs(float(finite[0]))) if len(finite) else 1.0
