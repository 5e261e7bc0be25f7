"""A physical cost basis for a device never seen: a non-negative mix of what every layer costs anywhere.

Each (layer, choice) of a space has five physical terms from one op breakdown (`core.op_breakdown`):
kernel launches, dense and depthwise multiply-accumulates, weight bytes and activation bytes. A GPU at
batch 1 spends its time launching kernels, a phone's CPU mostly computing, an accelerator moving bytes,
and depthwise MACs run at a fraction of dense ones' speed, by a factor each device sets. Every device
is, to a first order, a non-negative combination of the five, plus a constant. Fitting those few
coefficients needs ten networks, where a per-layer table of the space needs hundreds.

Any other device's per-layer costs (a shipped table, a `--prior` model) join the same stack as
further columns: a new device is often a scaled or mixed copy of one already known.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from edgelat.core.op_breakdown import layer_basis
from edgelat.core.sizes import DTYPE_BYTES
from edgelat.core.spaces import Choice, Layer, SearchSpace

PHYSICAL_TERMS = ("launches", "dense_macs", "depthwise_macs", "weight_bytes", "act_bytes")


def _in_bytes(terms: dict[str, float], element: int) -> tuple[float, ...]:
    """BASIS_TERMS in the order of PHYSICAL_TERMS, element counts turned into bytes."""
    return (terms["launches"], terms["dense_macs"], terms["depthwise_macs"], terms["weight_elems"] * element,
            terms["act_elems"] * element)


def physical_tables(space: SearchSpace, dtype: str = "fp32") -> dict[str, np.ndarray]:
    """[layer, choice] tables of the physical terms (NaN where a layer has fewer choices)."""
    element = DTYPE_BYTES[dtype]
    return {name: space.choice_matrix(lambda layer, c, i=i: _in_bytes(layer_basis(layer, c), element)[i])
            for i, name in enumerate(PHYSICAL_TERMS)}


def network_sums(tables: list[np.ndarray], archs: np.ndarray) -> np.ndarray:
    """[N, len(tables)]: each network's sum of each table over its layers' choices."""
    rows = np.arange(archs.shape[1])
    return np.column_stack([np.nan_to_num(t)[rows, archs].sum(axis=1) for t in tables])


def fit_stack(sums: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Non-negative coefficients of the columns of `sums`, and a non-negative constant, by weighted
    least squares (relative errors by default: weights 1/y). Columns are scaled to [0, 1] first so
    that launches and bytes, six orders of magnitude apart, are fitted alike."""
    y = np.asarray(y, float)
    w = 1.0 / y if weights is None else np.asarray(weights, float)
    design = np.column_stack([sums, np.ones(len(y))])
    scale = np.abs(design).max(axis=0)
    scale[scale == 0] = 1.0
    coef, _ = nnls(design / scale * w[:, None], y * w)
    coef = coef / scale
    return coef[:-1], float(coef[-1])


def stacked_costs(tables: list[np.ndarray], coef: np.ndarray) -> np.ndarray:
    """The [layer, choice] cost table of a fitted stack (NaN where a layer has fewer choices)."""
    return sum((c * t for c, t in zip(coef, tables, strict=True)), np.zeros_like(tables[0]))


def block_terms(frame, dtype: str = "fp32") -> np.ndarray:
    """[N, 5] physical terms of the MBConv blocks in a block table's frame (input_hw, cin, cout, expand,
    kernel, stride, se, act), from the same op breakdown as a space's layers."""

    element = DTYPE_BYTES[dtype]
    rows = []
    for b in frame.itertuples(index=False):
        choice = Choice("block", int(b.kernel), int(b.expand))
        layer = Layer(int(b.input_hw), int(b.cin), int(b.cout), int(b.stride), (choice,), act=str(b.act),
                      se=int(b.se))
        rows.append(_in_bytes(layer_basis(layer, choice), element))
    return np.array(rows, dtype=float)
