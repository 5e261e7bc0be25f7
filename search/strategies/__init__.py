"""Search strategies, one module each, and the table `edgelat search --strategy NAME` picks from.

A new strategy is one module with a `Strategy` subclass (its `from_context` takes what it
needs) and one entry in `STRATEGIES`.
"""

from __future__ import annotations

from edgelat.search.strategies.anneal import SimulatedAnnealing
from edgelat.search.strategies.base import Strategy, StrategyContext
from edgelat.search.strategies.guided import GuidedSearch
from edgelat.search.strategies.random import RandomSearch
from edgelat.search.strategies.single_path import SinglePathSearch, repair

STRATEGIES: dict[str, type[Strategy]] = {
    "anneal": SimulatedAnnealing,
    "guided": GuidedSearch,
    "random": RandomSearch,
    "single-path": SinglePathSearch,
}
"""Name -> strategy class; `STRATEGIES[name].from_context(ctx)` builds the configured strategy."""

__all__ = ["STRATEGIES", "GuidedSearch", "RandomSearch", "SimulatedAnnealing", "SinglePathSearch", "Strategy",
           "StrategyContext", "repair"]
