"""A space's [layer, choice] cost table from a block predictor: each distinct block asked once, a
shape-changing skip priced from the fixed parts measured beside the blocks."""

from __future__ import annotations

import numpy as np

from edgelat.core.spaces import SearchSpace, network_constant_ms
from edgelat.errors import PredictorError
from edgelat.predictors.base import LatencyPredictor
from edgelat.predictors.features import fields_frame


def fixed_ms(predictor: LatencyPredictor) -> float:
    """The predictor's fixed parts that every network pays (stem, head; not the per-layer skip convs)."""
    return network_constant_ms(getattr(predictor, "fixed_", {}))


def cost_table(space: SearchSpace, predictor: LatencyPredictor, dtype: str = "fp32") -> np.ndarray:
    """[layer, choice] latency in ms of a block predictor (identity skip 0, unused slots NaN)."""
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
