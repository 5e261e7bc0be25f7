"""Single-Path NAS as a strategy: train the superkernel on CE + lambda ln R, read the architecture
off its indicators, and repair it greedily if it is still over the hard limits."""

from __future__ import annotations

import time

import numpy as np

from edgelat.core.progress import Progress
from edgelat.search.problem import Problem, SearchResult
from edgelat.search.strategies.base import Strategy, StrategyContext


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


class SinglePathSearch(Strategy):
    """Single-Path NAS: train the superkernel with CE + lambda ln R and read the architecture off
    its indicators. With a target, lambda follows a dual-ascent schedule; the decoded network is
    then repaired greedily if it is still over the hard budget (logged)."""

    name = "superkernel"
    needs_supernet = True
    needs_block_table = True

    def __init__(self, net, data, table: np.ndarray, constant: float, epochs: int = 6, lam: float | None = None,
                 seed: int = 0):
        self.net, self.data, self.table, self.constant = net, data, table, constant
        self.epochs, self.lam, self.seed = epochs, lam, seed

    @classmethod
    def from_context(cls, ctx: StrategyContext) -> SinglePathSearch:
        """A copy of the trained supernet (the signal keeps the original) with fresh indicator references."""
        from edgelat.search.supernet import build_supernet

        search_net = build_supernet(ctx.space, seed=ctx.options.seed)
        search_net.set_weights(ctx.supernet.get_weights())
        for block in search_net.blocks:
            block.reset_reference()
        return cls(search_net, ctx.data, ctx.table, ctx.constant, epochs=ctx.options.single_path_epochs,
                   seed=ctx.options.seed)

    def run(self, problem: Problem, progress: Progress | None = None) -> SearchResult:
        from edgelat.search.training import train_single_path

        start = time.perf_counter()
        target = None if self.lam is not None else problem.budget.target_ms
        out = train_single_path(self.net, self.data.x_train, self.data.y_train, self.table, self.constant,
                                target_ms=target, lam=self.lam or 0.0, epochs=self.epochs, seed=self.seed,
                                progress=progress.advance if progress else None)
        arch = out.arch
        log = [f"superkernel: {self.epochs} epochs, final indicators decode to {problem.space.encode(arch)} at "
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
            log.append(f"superkernel: {len(ok)} of {len(late)} decoded architectures of the second half are "
                       f"feasible; kept {problem.space.encode(arch)} ({float(lat[int(np.argmax(r))]):.2f} ms)")
        else:
            arch, fixes = repair(problem, arch, self.net.margins())
            log += fixes
        score = problem.scores(arch[None], problem.latency.predict(arch[None]))[0]
        history = [{"step": i, **{k: v for k, v in h.items() if k != "arch"}} for i, h in enumerate(out.history)]
        return self._result(problem, arch, score, start, history, log)
