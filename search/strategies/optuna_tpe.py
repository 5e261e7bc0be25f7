"""Optuna's TPE as a strategy: one categorical choice per layer, the budget and hard limits as
Optuna constraints, the reward maximised. A network known to break a limit is never scored (its
latency and memory are known before any accuracy is), so it spends no evaluation.

Optional: pip install 'edgelat[compare]'. It stands beside edgelat's own strategies in
benchmarks/search_quality.py, and `search --strategy optuna-tpe` runs it.
"""

from __future__ import annotations

import time

import numpy as np

from edgelat.core.progress import NullProgress, Progress
from edgelat.errors import OptionError
from edgelat.search.problem import Problem, SearchResult
from edgelat.search.strategies.base import Strategy, StrategyContext

STALL_TRIALS = 200  # proposals in a row with no new feasible network: the feasible space is likely exhausted


def _optuna():
    try:
        import optuna
    except ImportError:
        raise OptionError("--strategy optuna-tpe needs Optuna: pip install 'edgelat[compare]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def violation(problem: Problem, arch: np.ndarray) -> float:
    """The relative excess over the latency budget (hard mode) and every hard limit; 0 when feasible."""
    total = 0.0
    if problem.budget.mode == "hard":
        total += max(0.0, float(problem.latency.predict(arch[None])[0]) / problem.budget.target_ms - 1.0)
    for c in problem.constraints:
        total += max(0.0, float(np.asarray(c.fn(arch[None]))[0]) / c.limit - 1.0)
    return total


class OptunaTPE(Strategy):
    """Optuna's multivariate TPE until `evaluations` new networks are scored."""

    name = "optuna-tpe"

    def __init__(self, evaluations: int = 100, seed: int = 0):
        self.evaluations, self.seed = evaluations, seed

    @classmethod
    def from_context(cls, ctx: StrategyContext) -> OptunaTPE:
        return cls(ctx.options.evaluations, ctx.options.seed)

    def run(self, problem: Problem, progress: Progress | None = None) -> SearchResult:
        optuna, progress, start = _optuna(), progress or NullProgress(), time.perf_counter()
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(multivariate=True,
                                                                                            seed=self.seed))
        counts, spent0 = problem.space.choice_counts, problem.evaluations
        best, best_r, history, stalled = None, -np.inf, [], 0
        while problem.evaluations - spent0 < self.evaluations and stalled < STALL_TRIALS:
            trial, before = study.ask(), problem.evaluations
            arch = np.array([trial.suggest_int(f"l{i}", 0, int(c) - 1) for i, c in enumerate(counts)])
            excess = violation(problem, arch)
            trial.set_constraint("limits", excess)
            reward = -1e12
            if excess == 0:
                lat = problem.latency.predict(arch[None])
                reward = float(problem.budget.reward(problem.scores(arch[None], lat), lat)[0])
                if reward > best_r:
                    best, best_r = arch, reward
            study.tell(trial, reward)
            stalled = 0 if problem.evaluations > before else stalled + 1
            history.append({"evaluations": problem.evaluations, "best_reward": best_r})
            progress.advance(problem.evaluations - spent0, self.evaluations, {"best": best_r})
        if best is None:
            raise problem.no_feasible_error()
        score = problem.scores(best[None], problem.latency.predict(best[None]))[0]
        log = [f"optuna-tpe: {len(study.trials)} trials, {problem.evaluations - spent0} networks scored"]
        return self._result(problem, best, score, start, history, log)
