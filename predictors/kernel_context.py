"""Whole-model context for kernel sums. A kernel timed alone runs with its weights in the cache. Inside
a model whose memory traffic per inference (weights, and activations read and written) exceeds the
last-level cache, a share of every layer's weights comes from DRAM instead, so wide models run slower
than the sum of their kernels. Calibration on a few whole models measured on the device learns, per
dtype, a factor on the kernel sum, the ms per MB of weights streamed, and the effective cache size. The
cache is chosen by leave-one-out over a grid, so no figure of the device is needed."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

import numpy as np

from edgelat.core.kernelspec import KernelSpec
from edgelat.core.sizes import DTYPE_BYTES
from edgelat.errors import DataError

# effective caches tried, 1-64 MB, and one that holds everything (no streaming: the factor alone)
CACHE_GRID_MB = (*(float(c) for c in np.geomspace(1.0, 64.0, 19)), float("inf"))
MIN_MODELS_FOR_CACHE = 3  # below this, leave-one-out cannot choose a cache: the factor alone is fitted


def kernel_bytes(spec: KernelSpec) -> tuple[float, float]:
    """(weight bytes, traffic bytes) of one kernel: its weights, and its weights plus the elements it
    reads and writes (constant operands other than weights are left out)."""
    tensors = [s for s, const in spec.input_shapes() if not const]
    weights, size = spec.weights(), DTYPE_BYTES[spec.dtype]
    return float(weights * size), float((weights + sum(prod(s) for s in tensors) + prod(spec.output_shape())) * size)


def streamed_fraction(traffic_mb: float, cache_mb: float) -> float:
    """The share of a model's weights read from beyond the cache: the part of its traffic per
    inference that the cache cannot hold (0 when it all fits)."""
    return max(0.0, 1.0 - cache_mb / traffic_mb) if traffic_mb > 0 and np.isfinite(cache_mb) else 0.0


def _solve(sums: np.ndarray, streamed: np.ndarray, measured: np.ndarray, ridge: float) -> tuple[float, float]:
    """measured ≈ factor·sum + ms_per_mb·streamed, on relative error, shrunk toward (1, 0)."""
    A = np.stack([sums, streamed], 1) / measured[:, None]
    scale = np.sqrt((A ** 2).mean(0)) + 1e-12
    An = A / scale
    w = np.linalg.solve(An.T @ An + ridge * np.eye(2), An.sum(0) + ridge * np.array([1.0, 0.0]) * scale) / scale
    return float(max(w[0], 0.0)), float(max(w[1], 0.0))


def _loo_rmse(sums, weights, traffic, measured, cache_mb: float, ridge: float) -> float:
    streamed = weights * np.array([streamed_fraction(t, cache_mb) for t in traffic])
    errors = []
    for i in range(len(measured)):
        keep = np.arange(len(measured)) != i
        factor, per_mb = _solve(sums[keep], streamed[keep], measured[keep], ridge)
        errors.append((factor * sums[i] + per_mb * streamed[i]) / measured[i] - 1.0)
    return float(np.sqrt(np.mean(np.square(errors))))


def fit_context(kernel_sum_ms: Sequence[float], weight_mb: Sequence[float], traffic_mb: Sequence[float],
                measured_ms: Sequence[float], ridge: float = 1.0,
                grid_mb: Sequence[float] = CACHE_GRID_MB) -> dict[str, Any]:
    """The calibration of one dtype from whole models: {factor, ms_per_mb, cache_mb, models}. The cache
    comes from `grid_mb` by leave-one-out; with fewer than MIN_MODELS_FOR_CACHE models, or when no cache
    does better than one holding everything, only the factor is fitted (ms_per_mb 0, cache_mb None)."""
    sums, weights, traffic, measured = (np.asarray(v, float) for v in (kernel_sum_ms, weight_mb, traffic_mb,
                                                                         measured_ms))
    if not len(measured) or np.any(measured <= 0) or np.any(sums <= 0):
        raise DataError("calibration needs whole models with a positive measured latency and kernel sum")
    if len(measured) < MIN_MODELS_FOR_CACHE:
        factor, _ = _solve(sums, np.zeros_like(sums), measured, ridge)
        return {"factor": factor, "ms_per_mb": 0.0, "cache_mb": None, "models": int(len(measured))}
    cache_mb = min(grid_mb, key=lambda c: _loo_rmse(sums, weights, traffic, measured, c, ridge))
    streamed = weights * np.array([streamed_fraction(t, cache_mb) for t in traffic])
    factor, per_mb = _solve(sums, streamed, measured, ridge)
    finite = np.isfinite(cache_mb) and per_mb > 0
    return {"factor": factor, "ms_per_mb": per_mb if finite else 0.0, "cache_mb": float(cache_mb) if finite else None,
            "models": int(len(measured))}


def describe(calibration: dict[str, Any]) -> str:
    """One line: what a calibration does to a kernel sum."""
    text = f"x{calibration['factor']:.3f}"
    if calibration["ms_per_mb"] > 0 and calibration["cache_mb"] is not None:
        text += (f", plus {calibration['ms_per_mb']:.4f} ms per MB of weights streamed past an effective "
                 f"{calibration['cache_mb']:.1f} MB cache")
    return text


def context_ms(calibration: dict[str, Any], kernel_sum_ms: float, weight_mb: float, traffic_mb: float) -> float:
    """A whole model's calibrated latency from its kernel sum, weights and traffic (what predict_kernels
    gives, op by op)."""
    return calibration["factor"] * kernel_sum_ms + calibration["ms_per_mb"] * streamed_share(calibration,
                                                                                              traffic_mb) * weight_mb


def streamed_share(calibration: dict[str, Any], traffic_mb: float) -> float:
    """The share of a model's weights that `calibration` counts as streamed (0 without a cache term)."""
    return streamed_fraction(traffic_mb, calibration["cache_mb"]) if calibration["cache_mb"] else 0.0
