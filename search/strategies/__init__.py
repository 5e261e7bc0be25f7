"""Search strategies, one module each, and the table `edgelat search --strategy NAME` picks from.

A new strategy is one module with a `Strategy` subclass (its `from_context` takes what it
needs) and one `STRATEGIES.register(name, cls)` line here.
"""

from __future__ import annotations

from edgelat.core.registry import Registry
from edgelat.errors import SearchError
from edgelat.search.strategies.anneal import SimulatedAnnealing
from edgelat.search.strategies.base import Strategy, StrategyContext
from edgelat.search.strategies.guided import GuidedSearch
from edgelat.search.strategies.optuna_tpe import OptunaTPE
from edgelat.search.strategies.random import RandomSearch
from edgelat.search.strategies.single_path import SinglePathSearch, repair

STRATEGIES: Registry[type[Strategy]] = Registry("strategy", SearchError)
"""Name -> strategy class; `STRATEGIES.get(name).from_context(ctx)` builds the configured strategy."""
STRATEGIES.register("anneal", SimulatedAnnealing)
STRATEGIES.register("guided", GuidedSearch)
STRATEGIES.register("random", RandomSearch)
STRATEGIES.register("superkernel", SinglePathSearch)  # Single-Path NAS: trains the superkernel's indicators
STRATEGIES.register("single-path", SinglePathSearch, hidden=True)  # its old name (a space's too): goes in 0.2
STRATEGIES.register("optuna-tpe", OptunaTPE)  # optional: pip install 'edgelat[compare]'


__all__ = ["STRATEGIES", "GuidedSearch", "OptunaTPE", "RandomSearch", "SimulatedAnnealing", "SinglePathSearch",
           "Strategy", "StrategyContext", "repair"]
