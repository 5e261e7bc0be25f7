"""What every accuracy signal is, and what its factory may draw on (kept apart from the signals
so that a signal can live in a module of its own)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgelat.core.spaces import SearchSpace


@dataclass(frozen=True)
class SignalContext:
    """What a signal factory may draw on: the accuracy side's space, the data, the trained
    supernet (None unless a signal or strategy needs it), the short-training epochs and the seed."""

    space: SearchSpace
    data: Any
    supernet: Any = None
    epochs: int = 8
    seed: int = 0
    table: str | None = None  # --accuracy-table: measured accuracies keyed by architecture
    trainer: Any = None  # a RayTrainer (search --cluster): the short trainings run on the cluster


class AccuracySignal(ABC):
    """Scores architectures, higher is better; `from_context` builds the one `--accuracy NAME` uses."""

    name: str = ""
    is_accuracy: bool = False
    vectorised: bool = False  # cheap enough to call on thousands of candidates
    needs_supernet: bool = False  # the workflow trains (or loads) the supernet first

    @classmethod
    @abstractmethod
    def from_context(cls, ctx: SignalContext) -> AccuracySignal:
        """The signal configured from `ctx`."""

    @abstractmethod
    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        """N scores for an [N, layers] array of choice indices."""
