"""What every search strategy is: a name, `run(problem, progress) -> SearchResult`, and a factory
`from_context` that takes what it needs from the search's options and the pieces built from them."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from edgelat.core.progress import Progress
from edgelat.core.spaces import SearchSpace
from edgelat.search.options import SearchOptions
from edgelat.search.problem import Problem, SearchResult
from edgelat.search.signals import AccuracySignal


@dataclass(frozen=True)
class StrategyContext:
    """What a strategy factory may draw on; `space` is the accuracy side's (training resolution)."""

    options: SearchOptions
    signal: AccuracySignal
    space: SearchSpace
    data: Any
    supernet: Any = None
    table: np.ndarray | None = None  # per-(layer, choice) ms of an additive block predictor
    constant: float = 0.0


class Strategy(ABC):
    """A search strategy. Class flags say what it needs before it is built (a trained supernet,
    an additive per-block latency table) so the workflow can provide it or refuse early."""

    name: ClassVar[str] = ""
    needs_supernet: ClassVar[bool] = False
    needs_block_table: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def from_context(cls, ctx: StrategyContext) -> Strategy:
        """The strategy `edgelat search --strategy NAME` runs, configured from `ctx`."""

    @abstractmethod
    def run(self, problem: Problem, progress: Progress | None = None) -> SearchResult:
        """Search `problem`; `progress.advance` is called as the search goes."""

    def _result(self, problem: Problem, arch: np.ndarray, score: float, start: float,
                history: list[dict[str, Any]], log: list[str]) -> SearchResult:
        """The result of a run that started at `start` (perf_counter) and chose `arch`."""
        lat = float(problem.latency.predict(arch[None])[0])
        return SearchResult(self.name, arch, lat, float(score), problem.evaluations, problem.candidates,
                            time.perf_counter() - start, list(problem.points), history, log)
