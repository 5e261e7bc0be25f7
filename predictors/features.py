"""The feature schema of block predictors, defined once, versioned, and hashed into saved models.

Features are physical: MACs of the expansion, depthwise, projection and SE parts, activation
and residual element counts, memory traffic of activations and weights, plus the shape
fields. All are computed vectorised over arrays of blocks (a search predicts millions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from edgelat.core.blockspec import ACTIVATIONS, BlockSpec

SCHEMA_VERSION = 1

# Cost features: each adds time in proportion to its size (non-negative linear coefficients).
COST_FEATURES = (
    "macs_expand", "macs_dw", "macs_project", "macs_se",
    "elems_act", "elems_act_hswish", "elems_residual",
    "bytes_act_in", "bytes_act_expanded", "bytes_act_dw", "bytes_act_out", "bytes_weights",
    "has_expand", "has_se",
)  # fmt: skip
# Shape features: descriptive, for trees only.
SHAPE_FEATURES = ("input_hw", "output_hw", "cin", "cout", "expand", "kernel", "stride", "se", "act_id", "int8")
FEATURES = COST_FEATURES + SHAPE_FEATURES


def schema_hash() -> str:
    """A short hash of the schema; a saved model carries it and is refused if it differs."""
    text = f"v{SCHEMA_VERSION}:" + ",".join(FEATURES)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _round_channels_vec(v: np.ndarray, divisor: int = 8) -> np.ndarray:
    """Vectorised twin of edgelat.core.channels.round_channels (tested equal)."""
    r = np.maximum(divisor, (v + divisor / 2) // divisor * divisor)
    return np.where(r < 0.9 * v, r + divisor, r)


def fields_frame(specs: Iterable[BlockSpec]) -> pd.DataFrame:
    return pd.DataFrame([s.to_dict() for s in specs])


def block_features(frame: pd.DataFrame) -> pd.DataFrame:
    """FEATURES for each row of a frame holding BlockSpec fields (dtype optional, fp32)."""
    hw = frame["input_hw"].to_numpy(np.float64)
    cin = frame["cin"].to_numpy(np.float64)
    cout = frame["cout"].to_numpy(np.float64)
    e = frame["expand"].to_numpy(np.float64)
    k = frame["kernel"].to_numpy(np.float64)
    s = frame["stride"].to_numpy(np.float64)
    se = frame["se"].to_numpy(np.float64) if "se" in frame else np.zeros_like(hw)
    act = frame["act"].to_numpy() if "act" in frame else np.full(len(frame), "relu6")
    int8 = (frame["dtype"].to_numpy() == "int8").astype(np.float64) if "dtype" in frame else np.zeros_like(hw)
    ho = np.ceil(hw / s)
    exp = cin * e
    has_exp = (e > 1).astype(np.float64)
    se_ch = _round_channels_vec(exp / 4) * se
    hswish = np.array([a in ("hswish", "hard_swish") for a in act], dtype=np.float64)
    act_id = np.array([ACTIVATIONS.index(a) if a in ACTIVATIONS else 2 for a in act], dtype=np.float64)
    elem_bytes = np.where(int8 > 0, 1.0, 4.0)
    elems_act = has_exp * hw * hw * exp + ho * ho * exp
    residual = ((s == 1) & (cin == cout)).astype(np.float64)
    out = {
        "macs_expand": has_exp * hw * hw * cin * exp,
        "macs_dw": ho * ho * exp * k * k,
        "macs_project": ho * ho * exp * cout,
        "macs_se": se * (2 * ho * ho * exp + 2 * exp * se_ch),
        "elems_act": elems_act,
        "elems_act_hswish": elems_act * hswish,
        "elems_residual": residual * ho * ho * cout,
        "bytes_act_in": hw * hw * cin * elem_bytes,
        "bytes_act_expanded": has_exp * hw * hw * exp * elem_bytes,
        "bytes_act_dw": ho * ho * exp * elem_bytes,
        "bytes_act_out": ho * ho * cout * elem_bytes,
        "bytes_weights": (has_exp * cin * exp + k * k * exp + exp * cout + se * 2 * exp * se_ch) * elem_bytes,
        "has_expand": has_exp,
        "has_se": se,
        "input_hw": hw, "output_hw": ho, "cin": cin, "cout": cout, "expand": e, "kernel": k, "stride": s,
        "se": se, "act_id": act_id, "int8": int8,
    }  # fmt: skip
    return pd.DataFrame(out, index=frame.index)[list(FEATURES)]


def total_macs(frame: pd.DataFrame) -> np.ndarray:
    f = block_features(frame)
    return (f["macs_expand"] + f["macs_dw"] + f["macs_project"] + f["macs_se"]).to_numpy()


def params(frame: pd.DataFrame) -> np.ndarray:
    f = block_features(frame)
    return (f["bytes_weights"] / np.where(f["int8"] > 0, 1.0, 4.0)).to_numpy()


def as_frame(X: pd.DataFrame | Sequence[BlockSpec] | Sequence[str]) -> pd.DataFrame:
    """Accept a frame of fields, BlockSpecs, or block keys."""
    if isinstance(X, pd.DataFrame):
        return X
    items = list(X)
    if items and isinstance(items[0], str):
        items = [BlockSpec.from_key(k) for k in items]
    return fields_frame(items)
