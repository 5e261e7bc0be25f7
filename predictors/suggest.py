"""Ask where the predictor is unsure: which whole networks to measure next.

A layer-wise model is a table of per-(layer, choice) costs, and each cell is pinned down by the
measured networks that contain it: its uncertainty falls as 1 / (1 + times measured). A
candidate network's uncertainty is the mean of its cells'. Suggestions are picked greedily from
a pool of random networks of the space the search will use: the most uncertain one, then the
table's counts are updated as if it were measured, and so on. This balanced design beat random
networks on three of the four shipped FBNet devices (benchmarks/trust.py); picking where a
bootstrap committee disagrees did about as well, and the D- and I-optimal designs of the
one-hot model did worse than random (they chose extreme networks unlike the search's).
"""

from __future__ import annotations

import numpy as np

from edgelat.core.spaces import SearchSpace
from edgelat.errors import OptionError
from edgelat.predictors.layerwise import LayerwisePredictor


def choice_counts(archs: np.ndarray, n_choices: int) -> np.ndarray:
    """[layer, choice]: how many of `archs` use each choice at each layer."""
    archs = np.asarray(archs)
    counts = np.zeros((archs.shape[1], n_choices))
    np.add.at(counts, (np.broadcast_to(np.arange(archs.shape[1]), archs.shape), archs), 1)
    return counts


def suggest(model: LayerwisePredictor, train_archs: np.ndarray, pool_archs: np.ndarray, n: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Indices into `pool_archs` of `n` networks to measure next, and each one's uncertainty when
    it was picked (the mean over its layers of 1 / (1 + times that choice was measured))."""
    model._check_fitted()
    pool_archs = np.asarray(pool_archs)
    if n < 1 or n > len(pool_archs):
        raise OptionError(f"--n must be between 1 and the pool size ({len(pool_archs)}), got {n}")
    counts = choice_counts(train_archs, model.space_().max_choices)
    layers = np.arange(pool_archs.shape[1])
    picked: list[int] = []
    scores: list[float] = []
    for _ in range(n):
        score = (1.0 / (1.0 + counts[layers, pool_archs])).mean(axis=1)
        score[picked] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        scores.append(float(score[best]))
        counts[layers, pool_archs[best]] += 1
    return np.array(picked), np.array(scores)


def candidate_pool(model: LayerwisePredictor, size: int, exclude: np.ndarray, seed: int = 0) -> np.ndarray:
    """`size` random networks of the model's space, none of them already measured."""
    space = model.space_()
    pool = np.unique(space.random(size * 2, seed=seed), axis=0)
    seen = {tuple(a) for a in np.asarray(exclude)}
    pool = np.array([a for a in pool if tuple(a) not in seen])
    return pool[np.random.default_rng(seed).permutation(len(pool))[:size]]


def for_new_device(space: SearchSpace, n: int, pool_size: int = 2000, seed: int = 0, dtype: str = "fp32"
                   ) -> np.ndarray:
    """`n` networks to measure first on a device never seen: those that best pin down the physical
    basis (launches, MACs, weight and activation bytes), as HELP fixes its reference networks.
    Greedy D-optimal design on the networks' standardised log term sums, from a pool trimmed to the
    5th-95th percentile of every term (the extremes fit the basis but are networks no search keeps)."""
    if n < 1 or n > pool_size:
        raise OptionError(f"--n must be between 1 and the pool size ({pool_size}), got {n}")
    pool = np.unique(space.random(pool_size * 2, seed=seed), axis=0)
    pool = pool[np.random.default_rng(seed).permutation(len(pool))[:pool_size]]
    return pool[pick_for_new_device(space, pool, n, dtype)]


def pick_for_new_device(space: SearchSpace, pool: np.ndarray, n: int, dtype: str = "fp32") -> np.ndarray:
    """Indices into `pool` of the `n` networks `for_new_device` would measure first."""
    from edgelat.predictors.basis import network_sums, physical_tables

    index = np.arange(len(pool))
    terms = np.log1p(network_sums(list(physical_tables(space, dtype).values()), pool))
    low, high = np.percentile(terms, 5, axis=0), np.percentile(terms, 95, axis=0)
    inside = np.all((terms >= low) & (terms <= high), axis=1)
    index, terms = index[inside], terms[inside]
    spread = terms.std(axis=0)
    design = np.column_stack([np.ones(len(index)), (terms - terms.mean(axis=0)) / np.where(spread > 0, spread, 1)])
    info = 1e-3 * np.eye(design.shape[1])
    picked: list[int] = []
    for _ in range(min(n, len(index))):
        inverse = np.linalg.inv(info)
        gain = np.einsum("ij,jk,ik->i", design, inverse, design)  # det grows by (1 + x' M^-1 x)
        gain[picked] = -np.inf
        best = int(np.argmax(gain))
        picked.append(best)
        info += np.outer(design[best], design[best])
    return index[picked]
