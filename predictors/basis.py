"""A physical cost basis for a device never seen: a non-negative mix of what every layer costs anywhere.

Each (layer, choice) of a space has four physical terms from one op breakdown (`core.op_breakdown`):
kernel launches, multiply-accumulates, weight bytes and activation bytes. A GPU at batch 1 spends its
time launching kernels, a phone's CPU mostly computing, an accelerator moving bytes; every device
is, to a first order, a non-negative combination of the four, plus a constant. Fitting those few
coefficients needs ten networks, where a per-layer table of the space needs hundreds.

Any other device's per-layer costs (a shipped table, a `--prior` model) join the same stack as
further columns: a new device is often a scaled or mixed copy of one already known.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from edgelat.core.op_breakdown import layer_terms
from edgelat.core.sizes import DTYPE_BYTES
from edgelat.core.spaces import SearchSpace

PHYSICAL_TERMS = ("launches", "macs", "weight_bytes", "act_bytes")


def physical_tables(space: SearchSpace, dtype: str = "fp32") -> dict[str, np.ndarray]:
    """[layer, choice] tables of the four physical terms (NaN where a layer has fewer choices)."""
    element = DTYPE_BYTES[dtype]
    raw = {t: space.choice_matrix(lambda layer, c, t=t: layer_terms(layer, c)[t])
           for t in ("launches", "macs", "weight_elems", "act_elems")}
    return {"launches": raw["launches"], "macs": raw["macs"], "weight_bytes": raw["weight_elems"] * element,
            "act_bytes": raw["act_elems"] * element}


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
    """[N, 4] physical terms of the MBConv blocks in a block table's frame (input_hw, cin, cout, expand,
    kernel, stride, se, act), from the same op breakdown as a space's layers."""
    from edgelat.core.spaces import Choice, Layer

    element = DTYPE_BYTES[dtype]
    rows = []
    for b in frame.itertuples(index=False):
        choice = Choice("block", int(b.kernel), int(b.expand))
        layer = Layer(int(b.input_hw), int(b.cin), int(b.cout), int(b.stride), (choice,), act=str(b.act),
                      se=int(b.se))
        t = layer_terms(layer, choice)
        rows.append((t["launches"], t["macs"], t["weight_elems"] * element, t["act_elems"] * element))
    return np.array(rows, dtype=float)
