"""Ask where the predictor is unsure: which whole networks to measure next.

Query by committee: the model is refitted on bootstrap resamples of its own training networks,
and the committee's disagreement (the spread of its log predictions) is the uncertainty of
each candidate network. Candidates come from a pool drawn from the space the search will use,
and are drawn with probability proportional to their squared disagreement, so the suggestions
go where the model is unsure while staying spread over the space (taking only the most
uncertain networks picks extremes, which on the shipped tables helped less than random ones).
"""

from __future__ import annotations

import numpy as np

from edgelat.errors import OptionError
from edgelat.predictors.layerwise import LayerwisePredictor

COMMITTEE = 8


def disagreement(model: LayerwisePredictor, train_archs: np.ndarray, train_y: np.ndarray, pool_archs: np.ndarray,
                 committee: int = COMMITTEE, seed: int = 0) -> np.ndarray:
    """Per pool network: the standard deviation of log predictions of `committee` bootstrap refits."""
    rng = np.random.default_rng(seed)
    logs = []
    for _ in range(committee):
        rows = rng.choice(len(train_y), len(train_y), replace=True)
        member = LayerwisePredictor(**model.get_params(deep=False)).fit(train_archs[rows], train_y[rows])
        logs.append(np.log(np.maximum(member.predict(pool_archs), 1e-9)))
    return np.std(logs, axis=0)


def suggest(model: LayerwisePredictor, train_archs: np.ndarray, train_y: np.ndarray, pool_archs: np.ndarray,
            n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices into `pool_archs` of `n` networks to measure next, and each one's disagreement."""
    model._check_fitted()
    if n < 1 or n > len(pool_archs):
        raise OptionError(f"--n must be between 1 and the pool size ({len(pool_archs)}), got {n}")
    spread = disagreement(model, np.asarray(train_archs), np.asarray(train_y, float), pool_archs, seed=seed)
    weight = spread**2 + 1e-12
    picked = np.random.default_rng(seed + 1).choice(len(pool_archs), n, replace=False, p=weight / weight.sum())
    order = np.argsort(-spread[picked])
    return picked[order], spread[picked][order]


def candidate_pool(model: LayerwisePredictor, size: int, exclude: np.ndarray, seed: int = 0) -> np.ndarray:
    """`size` random networks of the model's space, none of them already measured."""
    space = model.space_()
    pool = np.unique(space.random(size * 2, seed=seed), axis=0)
    seen = {tuple(a) for a in np.asarray(exclude)}
    pool = np.array([a for a in pool if tuple(a) not in seen])
    return pool[np.random.default_rng(seed).permutation(len(pool))[:size]]
