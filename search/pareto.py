"""Pareto fronts and their hypervolume, for searches that return the whole trade-off.

Objectives are minimised: a search's points are (-accuracy, latency on device 1, latency on device
2, ...). The hypervolume is the volume dominated by a front up to a reference point; the ratio of a
found front's hypervolume to the exact front's (enumerated, where the space allows) says how much of
the trade-off a search recovered. Exact for any number of objectives, by slicing along the first one
(fast for the fronts of one search: a few hundred points in up to four objectives).
"""

from __future__ import annotations

import numpy as np


def nondominated(F: np.ndarray) -> np.ndarray:
    """Mask of the rows of F (n points x d objectives, minimised) that no other row dominates;
    of identical rows, the first is kept."""
    F = np.asarray(F, float)
    keep = np.ones(len(F), bool)
    order = np.lexsort(F.T[::-1])  # by the first objective, then the next ...
    front: list[int] = []
    for i in order:
        if front and np.any(np.all(F[front] <= F[i], axis=1)):
            keep[i] = False
        else:
            front.append(int(i))
    return keep


def _hv2(F: np.ndarray, ref: np.ndarray) -> float:
    """Exact 2-D hypervolume of points (already inside the reference box)."""
    F = F[np.argsort(F[:, 0], kind="stable")]
    best = np.minimum.accumulate(F[:, 1])
    widths = np.diff(np.append(F[:, 0], ref[0]))
    return float(np.sum(widths * (ref[1] - best)))


def _hv(F: np.ndarray, ref: np.ndarray) -> float:
    if len(F) == 0:
        return 0.0
    if F.shape[1] == 1:
        return float(ref[0] - F[:, 0].min())
    if F.shape[1] == 2:
        return _hv2(F, ref)
    F = F[np.argsort(F[:, 0], kind="stable")]
    cuts = np.append(F[:, 0], ref[0])
    total = 0.0
    for i in range(len(F)):
        depth = cuts[i + 1] - cuts[i]
        if depth > 0:
            prefix = F[: i + 1, 1:]  # 2-D needs no filtering; higher, dropping dominated points pays
            total += depth * _hv(prefix if prefix.shape[1] == 2 else prefix[nondominated(prefix)], ref[1:])
    return total


def hypervolume(F: np.ndarray, ref: np.ndarray) -> float:
    """The volume that the points of F dominate inside the box below `ref` (points outside it add nothing)."""
    F, ref = np.asarray(F, float).reshape(-1, len(ref)), np.asarray(ref, float)
    F = F[np.all(F < ref, axis=1)]
    return _hv(F[nondominated(F)], ref) if len(F) else 0.0


def normalise(F: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Each objective mapped to [0, 1] over the range [low, high] (the space's), so that no unit dominates."""
    span = np.where(np.asarray(high) > np.asarray(low), np.asarray(high) - np.asarray(low), 1.0)
    return (np.asarray(F, float) - low) / span
