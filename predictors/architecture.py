"""Predict whole architectures of a space from a block predictor.

The predictor is asked once for every distinct (layer, choice) block; an architecture's
latency is then a gather and a sum over that table, plus the fixed parts the predictor knows
(stem, head, classifier). That makes batch prediction millions of architectures a second
whatever the block predictor is.
"""

from __future__ import annotations

import numpy as np

from edgelat.core.spaces import SearchSpace, network_constant_ms
from edgelat.errors import PredictorError
from edgelat.predictors.base import LatencyPredictor
from edgelat.predictors.features import fields_frame
from edgelat.predictors.layerwise import LayerwisePredictor


def fixed_ms(predictor: LatencyPredictor) -> float:
    """The predictor's fixed parts that every network pays (stem, head; not the per-layer skip convs)."""
    return network_constant_ms(getattr(predictor, "fixed_", {}))


def cost_table(space: SearchSpace, predictor: LatencyPredictor, dtype: str = "fp32") -> np.ndarray:
    """[layer, choice] latency in ms (identity skip 0, unused slots NaN)."""
    if isinstance(predictor, LayerwisePredictor):
        if predictor.space != space.name:
            raise PredictorError(f"the model is for space {predictor.space!r}, not {space.name!r}")
        return predictor.costs_
    table = np.full((len(space.layers), space.max_choices), np.nan)
    cells, specs = [], []
    for i, layer in enumerate(space.layers):
        for j, choice in enumerate(layer.choices):
            if choice.skip:
                table[i, j] = 0.0 if layer.identity_skip else _skip_ms(predictor, layer, i)
            else:
                cells.append((i, j))
                specs.append(layer.block(choice, dtype))
    preds = predictor.predict(fields_frame(specs))
    for (i, j), p in zip(cells, preds, strict=True):
        table[i, j] = p
    return table


def _skip_ms(predictor: LatencyPredictor, layer, index: int) -> float:
    """A shape-changing skip's 1x1 conv, as measured with the fixed parts (`profile --fixed-parts`)."""
    fixed = getattr(predictor, "fixed_", {})
    if layer.skip_part not in fixed:
        raise PredictorError(f"layer {index}: the skip is a strided 1x1 conv ({layer.skip_part}) and the model has "
                             f"no measurement of it; profile the space with --fixed-parts and fit again")
    return float(fixed[layer.skip_part])


class ArchitecturePredictor:
    """Vectorised latency of [N, layers] choice arrays for one space and one predictor."""

    def __init__(self, space: SearchSpace, predictor: LatencyPredictor, dtype: str = "fp32"):
        self.space = space
        self.table = np.nan_to_num(cost_table(space, predictor, dtype))
        self.constant = predictor.intercept_ if isinstance(predictor, LayerwisePredictor) else fixed_ms(predictor)
        self._rows = np.arange(len(space.layers))

    def predict(self, archs: np.ndarray) -> np.ndarray:
        return self.table[self._rows, archs].sum(axis=1) + self.constant
