"""How many bytes a network of a space streams into the cache per inference: every weight read
once, and every activation written once (the next op reads it back while it is still cached).

Inside a network run again and again, a block finds its weights still cached only if the rest of
the network streamed less than the cache holds in between. Context timing (`profile --timing
context`) recreates that: before each timed run of a block it sweeps a buffer of the bytes the
space's typical network streams, so the block starts as it would inside such a network.
"""

from __future__ import annotations

import numpy as np

from edgelat.core.sizes import DTYPE_BYTES
from edgelat.core.spaces import Choice, Layer, SearchSpace

TYPICAL_SAMPLE = 500  # random networks whose median is a space's typical footprint


def _layer_elems(layer: Layer, choice: Choice) -> float:
    """Weights plus activations written by one layer with `choice` (biases and SE left out)."""
    ho = layer.output_hw
    if choice.skip:
        return 0.0 if layer.identity_skip else float(layer.params(choice) + ho * ho * layer.cout)
    mid = layer.cin * choice.expand
    expanded = layer.input_hw ** 2 * mid if (choice.expand > 1 or layer.expand_conv_always) else 0
    residual = ho * ho * layer.cout if (layer.stride == 1 and layer.cin == layer.cout) else 0
    return float(layer.params(choice) + expanded + ho * ho * mid + ho * ho * layer.cout + residual)


def _fixed_elems(space: SearchSpace) -> float:
    """The stem (3x3 conv) and head (1x1 conv, pooling, classifier) of a space."""
    last = space.layers[-1]
    stem = 27 * space.stem_channels + space.stem_hw ** 2 * space.stem_channels
    head = (last.cout * space.head_channels + last.output_hw ** 2 * space.head_channels
            + space.head_channels * (1 + space.num_classes) + space.num_classes)
    return float(stem + head)


def streamed_bytes(space: SearchSpace, archs: np.ndarray, dtype: str = "fp32") -> np.ndarray:
    """Bytes each architecture (rows of choice indices) streams per inference in `dtype`."""
    archs = space.validate(np.atleast_2d(archs))
    table = space.choice_matrix(_layer_elems)
    elems = table[np.arange(len(space.layers)), archs].sum(1) + _fixed_elems(space)
    return elems * DTYPE_BYTES[dtype]


def typical_streamed_bytes(space: SearchSpace, dtype: str = "fp32") -> int:
    """The median bytes streamed by TYPICAL_SAMPLE random networks of the space (seeded)."""
    return int(np.median(streamed_bytes(space, space.random(TYPICAL_SAMPLE, seed=0), dtype)))
