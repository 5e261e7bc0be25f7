"""Whole-network latency of a layer-wise space: a lookup table of per-(layer, choice) costs.

`LayerwisePredictor` learns that table from whole-network measurements by regularised least
squares on one-hot choices. With a `prior` (per-(layer, choice) costs from FLOPs or from
another device's model) it fits latency ≈ scale·prior + intercept + corrections, the
corrections shrunk by a ridge penalty chosen by leave-one-out CV, so that 10 networks
already give a good model and 1,000 refine it. With a block model as the prior (a block table
calibrated by whole networks) fewer than MIN_FOR_CORRECTIONS networks fit the factor alone.
Prediction is a gather and a sum, which is what lets a search score millions of architectures
a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgelat.core.spaces import SearchSpace, get_space
from edgelat.errors import PredictorError
from edgelat.predictors.base import LatencyPredictor, check_targets
from edgelat.predictors.block_costs import cost_table, fixed_ms

ALPHAS = tuple(10.0 ** np.arange(-3, 5.5, 0.5))
# Networks needed before a block-model calibration fits more than one factor (a constant and
# per-layer corrections too). benchmarks/whole_network.py: with 10-20 networks the factor alone
# was within ±10% for 95-100% of held-out networks in all four settings, while the constant and
# the corrections fitted measurement noise (128 px int8: 45-50%).
MIN_FOR_CORRECTIONS = 50


def prior_costs(space: SearchSpace, prior: str | LatencyPredictor | None, dtype: str = "fp32"
                ) -> np.ndarray | None:
    """[layer, choice] prior costs: 'flops' or 'params' (in millions), a fitted layer-wise model, or a
    block predictor (its ms per block: a block table calibrated by a few whole networks). The
    'physics' prior is fitted to the networks themselves (`LayerwisePredictor._stack`)."""
    if prior is None:
        return None
    if prior == "physics":
        raise PredictorError("the 'physics' prior is a stack fitted to measured networks, not a fixed table")
    if prior == "flops":
        return space.choice_matrix(lambda layer, c: layer.macs(c)) / 1e6
    if prior == "params":
        return space.choice_matrix(lambda layer, c: layer.params(c)) / 1e6
    if isinstance(prior, LayerwisePredictor):
        prior._check_fitted()
        if prior.space != space.name:
            raise PredictorError(f"prior model is for space {prior.space!r}, not {space.name!r}")
        return prior.costs_
    if isinstance(prior, LatencyPredictor):
        return cost_table(space, prior, dtype)
    raise PredictorError(f"prior: expected 'flops', 'params', a layer-wise or a block model, got {prior!r}")


def prior_constant_ms(prior: str | LatencyPredictor | None) -> float:
    """What a block predictor adds to every network (its stem and head); 0 for the other priors."""
    if isinstance(prior, LatencyPredictor) and not isinstance(prior, LayerwisePredictor):
        return fixed_ms(prior)
    return 0.0


class LayerwisePredictor(LatencyPredictor):
    """Predicts networks given as [N, layers] arrays of choice indices (or encodings)."""

    kind = "layerwise"

    def __init__(self, space: str = "fbnet", prior: str | LatencyPredictor | None = None, alpha: float | None = None,
                 robust: bool = True, resolution: int | None = None, width: float = 1.0, dtype: str = "fp32",
                 corrections: bool = True, basis_models: list[LatencyPredictor] | None = None):
        self.space = space
        self.basis_models = basis_models  # other devices' models stacked with the 'physics' terms
        self.corrections = corrections  # False: the prior kept as it ranks, only scaled (and shifted)
        self.dtype = dtype  # of the blocks a block-predictor prior prices
        self.prior = prior
        self.alpha = alpha
        self.robust = robust
        self.resolution = resolution
        self.width = width

    def space_(self) -> SearchSpace:
        return get_space(self.space, self.resolution, self.width)

    def _onehot(self, archs: np.ndarray, n_choices: int) -> np.ndarray:
        n, layers = archs.shape
        onehot = np.zeros((n, layers * n_choices))
        onehot[np.arange(n)[:, None], np.arange(layers) * n_choices + archs] = 1.0
        return onehot

    def as_archs(self, X) -> np.ndarray:
        space = self.space_()
        if isinstance(X, str):
            X = [X]
        if len(X) and isinstance(X[0], str):
            return np.stack([space.decode(s) for s in X])
        return space.validate(np.asarray(X))

    def fit(self, X, y) -> LayerwisePredictor:
        y = check_targets(y)
        space = self.space_()
        archs = self.as_archs(X)
        if len(archs) != len(y):
            raise PredictorError(f"{len(archs)} architectures but {len(y)} latencies")
        c = space.max_choices
        valid = ~np.isnan(space.choice_matrix(lambda layer, ch: 0.0))
        P = self._stack(space, archs, y) if self.prior == "physics" else prior_costs(space, self.prior, self.dtype)
        const = 0.0 if self.prior == "physics" else prior_constant_ms(self.prior)
        onehot = self._onehot(archs, c)
        # A block model's sum is off by a factor (cache effects) more than by a constant: below
        # MIN_FOR_CORRECTIONS networks the calibration is that factor alone, which cannot chase
        # noise or extrapolate to negative latencies the way a line through a few points can.
        block_few = bool(const) and len(y) < MIN_FOR_CORRECTIONS
        factor_only = block_few or (P is not None and not self.corrections)
        base = [] if block_few else [np.ones(len(y))]
        if P is not None:
            base.insert(0, onehot @ np.nan_to_num(P).ravel() + const)
        B = np.column_stack(base)  # unpenalised: [prior sum,] intercept
        solve = self._factor if factor_only else self._solve
        # Relative-error weights (1/y²) and, when robust, Huber reweighting: whole-network phone
        # measurements have spikes of 2x that plain least squares would chase.
        w = 1.0 / y**2
        for _ in range(6 if self.robust else 1):
            Bx = B
            d, coef_b = solve(Bx, onehot, y, w)
            if P is not None and coef_b[0] <= 0:
                break  # a negative scale would invert the prior's ranking: kept as it ranks, below
            pred = Bx @ coef_b + onehot @ d
            rel = (y - pred) / np.maximum(pred, 1e-9)
            scale = 1.4826 * np.median(np.abs(rel - np.median(rel))) + 1e-12
            huber = np.minimum(1.0, 1.345 * scale / np.maximum(np.abs(rel), 1e-12))
            w = huber / y**2
        # A prior whose fitted scale collapses keeps its ranking, only scaled (the geometric mean of
        # measured / prior): the user asked for it, and a constant would rank nothing.
        self.scaled_only_ = P is not None and coef_b[0] <= 0
        if self.scaled_only_:
            sums = B[:, 0]
            ok = sums > 0
            coef_b = np.array([float(np.exp(np.mean(np.log(y[ok] / sums[ok])))) if ok.any() else 0.0, 0.0])
            d = np.zeros_like(d)
            block_few = True  # no intercept
        with_prior = P is not None
        scale = float(coef_b[0]) if with_prior else 0.0
        with_intercept = not with_prior or not block_few
        self.scale_ = scale
        self.intercept_ = (float(coef_b[-1]) if with_intercept else 0.0) + scale * const
        costs = d.reshape(len(space.layers), c)
        if P is not None:
            costs = costs + scale * np.nan_to_num(P)
        self.costs_ = np.where(valid, costs, np.nan)
        self.n_train_ = len(y)
        return self

    def _stack(self, space: SearchSpace, archs: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The 'physics' prior: a non-negative mix of the physical cost terms (and of `basis_models`),
        fitted to these networks (predictors/basis.py)."""
        from edgelat.predictors.basis import fit_stack, network_sums, physical_tables, stacked_costs

        named = physical_tables(space, self.dtype)
        for i, model in enumerate(self.basis_models or []):
            named[f"model{i}"] = prior_costs(space, model, self.dtype)
        tables = list(named.values())
        coef, _ = fit_stack(network_sums(tables, archs), y)
        self.stack_ = {name: float(c) for name, c in zip(named, coef, strict=True)}
        return stacked_costs(tables, coef)

    def _factor(self, B: np.ndarray, onehot: np.ndarray, y: np.ndarray, w: np.ndarray):
        """Weighted least squares on B alone (no corrections: they stay zero)."""
        sw = np.sqrt(w)
        self.alpha_ = None
        return np.zeros(onehot.shape[1]), np.linalg.lstsq(B * sw[:, None], y * sw, rcond=None)[0]

    def _solve(self, B: np.ndarray, onehot: np.ndarray, y: np.ndarray, w: np.ndarray):
        """Weighted ridge on the one-hot corrections with B unpenalised; alpha by leave-one-out CV."""
        sw = np.sqrt(w)
        Bw, Ow, yw = B * sw[:, None], onehot * sw[:, None], y * sw
        Q, _ = np.linalg.qr(Bw)
        resid = lambda M: M - Q @ (Q.T @ M)  # noqa: E731
        Ot, yt = resid(Ow), resid(yw)
        U, s, Vt = np.linalg.svd(Ot, full_matrices=False)
        Uy = U.T @ yt
        best = None
        for a in ALPHAS if self.alpha is None else (float(self.alpha),):
            shrink = s**2 / (s**2 + a)
            fitted = U @ (shrink * Uy)
            hat = np.einsum("ij,j,ij->i", U, shrink, U) + np.einsum("ij,ij->i", Q, Q)
            loo = np.mean(((yt - fitted) / np.maximum(1 - hat, 1e-6)) ** 2)
            if best is None or loo < best[0]:
                best = (loo, a)
        self.alpha_ = best[1]
        d = Vt.T @ ((s / (s**2 + self.alpha_)) * Uy)
        coef_b = np.linalg.lstsq(Bw, yw - Ow @ d, rcond=None)[0]
        return d, coef_b

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        archs = self.as_archs(X)
        table = np.nan_to_num(self.costs_)
        return table[np.arange(archs.shape[1]), archs].sum(axis=1) + self.intercept_

    def state(self) -> dict[str, Any]:
        return {"costs": np.where(np.isnan(self.costs_), None, self.costs_).tolist(), "intercept": self.intercept_,
                "scale": self.scale_, "alpha": self.alpha_, "n_train": self.n_train_}

    @classmethod
    def from_state(cls, params: dict[str, Any], state: dict[str, Any]) -> LayerwisePredictor:
        model = cls(**params)
        model.costs_ = np.array([[np.nan if v is None else v for v in row] for row in state["costs"]], dtype=float)
        model.intercept_, model.scale_ = float(state["intercept"]), float(state["scale"])
        model.alpha_ = None if state["alpha"] is None else float(state["alpha"])  # None: a factor alone
        model.n_train_ = int(state["n_train"])
        return model
