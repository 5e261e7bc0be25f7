"""Random search: the baseline every other strategy is compared with."""

from __future__ import annotations

import time

import numpy as np

from edgelat.core.progress import NullProgress, Progress
from edgelat.search.problem import Problem, SearchResult
from edgelat.search.strategies.base import Strategy, StrategyContext


class RandomSearch(Strategy):
    """Sample feasible architectures uniformly, score `evaluations` of them, keep the best."""

    name = "random"

    def __init__(self, evaluations: int = 100, seed: int = 0):
        self.evaluations, self.seed = evaluations, seed

    @classmethod
    def from_context(cls, ctx: StrategyContext) -> RandomSearch:
        return cls(ctx.options.evaluations, ctx.options.seed)

    def run(self, problem: Problem, progress: Progress | None = None) -> SearchResult:
        progress = progress or NullProgress()
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
            progress.advance(min(i + step, len(archs)), len(archs), {"best": best_r})
        score = problem.scores(best[None], problem.latency.predict(best[None]))[0]
        log = [f"random: {len(archs)} feasible architectures scored"]
        return self._result(problem, best, score, start, history, log)
