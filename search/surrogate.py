"""The surrogate of the guided strategy: a Bayesian ridge regression of (rank-transformed) scores on
one-hot choices, whose posterior gives both a mean prediction and Thompson samples for exploration."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np


def one_hot(archs: np.ndarray, counts: list[int], interactions: bool = False) -> np.ndarray:
    """One-hot features without each layer's choice 0 (the baseline); optionally pairwise products."""
    archs = np.atleast_2d(archs)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    full = np.zeros((len(archs), int(np.sum(counts))))
    np.put_along_axis(full, archs + offsets, 1.0, axis=1)
    feats = np.delete(full, offsets, axis=1)
    if not interactions:
        return feats
    layer = np.repeat(np.arange(len(counts)), [n - 1 for n in counts])
    i, j = np.triu_indices(feats.shape[1], 1)
    keep = layer[i] != layer[j]
    return np.concatenate([feats, feats[:, i[keep]] * feats[:, j[keep]]], axis=1)


def rank_scores(y: np.ndarray) -> np.ndarray:
    """Scores mapped to normal scores of their ranks: the long low-accuracy tail cannot pull the fit."""
    ranks = np.argsort(np.argsort(y, kind="stable"), kind="stable")
    inv_cdf = NormalDist().inv_cdf
    return np.array([inv_cdf((r + 0.5) / len(y)) for r in ranks])


@dataclass(frozen=True)
class Posterior:
    """Gaussian posterior of a Bayesian ridge regression on centred features."""

    mean: np.ndarray
    cov: np.ndarray
    x_mean: np.ndarray
    intercept: float

    def predict(self, feats: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Scores of `feats` [n, d] under `weights` [k, d] -> [n, k] (the posterior mean by default)."""
        w = self.mean[None] if weights is None else weights
        return (feats - self.x_mean) @ w.T + self.intercept

    def sample(self, rng: np.random.Generator, k: int, scale: float) -> np.ndarray:
        """`k` weight vectors: the mean, then `k - 1` posterior draws (covariance scaled by scale²)."""
        draws = rng.multivariate_normal(self.mean, scale**2 * self.cov, size=k - 1, method="cholesky")
        return np.vstack([self.mean[None], draws])


def fit_posterior(feats: np.ndarray, y: np.ndarray, iters: int = 30) -> Posterior:
    """Bayesian ridge with both precisions set by evidence maximisation (MacKay): no tuning knob."""
    x_mean = feats.mean(axis=0)
    x, t = feats - x_mean, y - y.mean()
    n, _ = x.shape
    eig, vec = np.linalg.eigh(x.T @ x)
    eig = np.clip(eig, 0.0, None)
    proj = vec.T @ (x.T @ t)
    alpha, beta = 1.0, 1.0 / max(float(t.var()), 1e-6)
    for _ in range(iters):
        mean_rot = beta * proj / (beta * eig + alpha)
        gamma = float(np.sum(beta * eig / (beta * eig + alpha)))
        resid = float(np.sum((t - x @ (vec @ mean_rot)) ** 2))
        alpha = max(gamma, 1e-3) / max(float(mean_rot @ mean_rot), 1e-12)
        beta = max(n - gamma, 1e-3) / max(resid, 1e-12)
    cov = (vec / (beta * eig + alpha)) @ vec.T
    mean = vec @ (beta * proj / (beta * eig + alpha))
    return Posterior(mean, cov, x_mean, float(y.mean()))
