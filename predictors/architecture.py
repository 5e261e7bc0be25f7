"""Predict whole architectures of a space from a block predictor.

The predictor is asked once for every distinct (layer, choice) block; an architecture's
latency is then a gather and a sum over that table, plus the fixed parts the predictor knows
(stem, head, classifier). That makes batch prediction millions of architectures a second
whatever the block predictor is.
"""

from __future__ import annotations

import numpy as np

from edgelat.core.spaces import SearchSpace
from edgelat.errors import PredictorError
from edgelat.predictors.base import LatencyPredictor
from edgelat.predictors.block_costs import cost_table as block_cost_table
from edgelat.predictors.block_costs import fixed_ms
from edgelat.predictors.layerwise import LayerwisePredictor


def cost_table(space: SearchSpace, predictor: LatencyPredictor, dtype: str = "fp32") -> np.ndarray:
    """[layer, choice] latency in ms (identity skip 0, unused slots NaN), of a layer-wise model or a
    block predictor."""
    if isinstance(predictor, LayerwisePredictor):
        if predictor.space != space.name:
            raise PredictorError(f"the model is for space {predictor.space!r}, not {space.name!r}")
        return predictor.costs_
    return block_cost_table(space, predictor, dtype)


class ArchitecturePredictor:
    """Vectorised latency of [N, layers] choice arrays for one space and one predictor."""

    def __init__(self, space: SearchSpace, predictor: LatencyPredictor, dtype: str = "fp32"):
        self.space = space
        self.table = np.nan_to_num(cost_table(space, predictor, dtype))
        self.constant = predictor.intercept_ if isinstance(predictor, LayerwisePredictor) else fixed_ms(predictor)
        self._rows = np.arange(len(space.layers))

    def predict(self, archs: np.ndarray) -> np.ndarray:
        return self.table[self._rows, archs].sum(axis=1) + self.constant
