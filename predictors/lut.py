"""Lookup-table predictor: blocks looked up exactly by their canonical key.

A network is the sum of its blocks plus its fixed parts (stem, head, classifier) when the
table has them. A missing key is an error naming the key, unless a fallback predictor was
given explicitly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgelat.core.blockspec import BlockSpec
from edgelat.core.spaces import network_constant_ms
from edgelat.errors import PredictorError
from edgelat.predictors.base import LatencyPredictor, check_targets
from edgelat.predictors.features import as_frame


def frame_keys(frame) -> list[str]:
    """Canonical block keys of each row of a frame of BlockSpec fields."""
    cols = [c for c in ("input_hw", "cin", "cout", "expand", "kernel", "stride", "se", "act", "dtype") if c in frame]
    return [BlockSpec(**dict(zip(cols, row, strict=True))).key for row in frame[cols].itertuples(index=False)]


class LUTPredictor(LatencyPredictor):
    kind = "lut"

    def __init__(self, fallback: LatencyPredictor | None = None):
        self.fallback = fallback

    def fit(self, X, y, fixed: dict[str, float] | None = None) -> LUTPredictor:
        """Average the latencies of each key; `fixed` holds the non-block parts in ms."""
        y = check_targets(y)
        keys = frame_keys(as_frame(X))
        if len(keys) != len(y):
            raise PredictorError(f"{len(keys)} blocks but {len(y)} latencies")
        sums: dict[str, list[float]] = {}
        for key, value in zip(keys, y, strict=True):
            sums.setdefault(key, []).append(float(value))
        self.table_ = {k: float(np.mean(v)) for k, v in sums.items()}
        self.fixed_ = dict(fixed or {})
        self.n_train_ = len(y)
        return self

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        frame = as_frame(X)
        keys = frame_keys(frame)
        out = np.array([self.table_.get(k, np.nan) for k in keys])
        missing = np.isnan(out)
        if missing.any():
            if self.fallback is None:
                first = keys[int(np.argmax(missing))]
                raise PredictorError(
                    f"block {first} is not in the lookup table ({int(missing.sum())} missing); "
                    "give a fallback predictor to estimate missing blocks"
                )
            out[missing] = self.fallback.predict(frame[missing])
        return out

    @property
    def fixed_ms(self) -> float:
        self._check_fitted()
        return network_constant_ms(self.fixed_)

    def state(self) -> dict[str, Any]:
        return {"table": self.table_, "fixed": self.fixed_, "n_train": self.n_train_}

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, Any]) -> LUTPredictor:
        model = cls(fallback=params.get("fallback"))
        model.table_ = {str(k): float(v) for k, v in state["table"].items()}
        model.fixed_ = {str(k): float(v) for k, v in state.get("fixed", {}).items()}
        model.n_train_ = int(state["n_train"])
        return model
