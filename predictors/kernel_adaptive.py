"""Adaptive kernel sampling (as nn-Meter does): after a first sample is measured, each round fits
the kernel predictors, finds the kernels they predict worst out of fold, and measures new kernels
near those, so the profiling budget goes where the predictors err."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from edgelat.core.kernelspec import KernelSpec
from edgelat.core.progress import NullProgress, Progress
from edgelat.predictors.kernels import KernelPredictor, kernel_out_of_fold, kernel_type
from edgelat.profiler.kernel_sampling import near_kernel
from edgelat.profiler.workflow import run_profile


@dataclass
class AdaptiveRound:
    """One round: how many kernels per type were measured so far and the out-of-fold ±10% per type."""

    kernels: int
    per_type: dict[str, int]
    acc10: dict[str, float]
    added: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kernels": self.kernels, "per_type": self.per_type, "acc10": self.acc10, "added": self.added}


def worst_first(specs: list[KernelSpec], y: np.ndarray) -> tuple[list[KernelSpec], dict[str, float]]:
    """Kernels by out-of-fold relative error, worst first (types too rare to judge come first), and
    the ±10% share per type."""
    pred = kernel_out_of_fold(KernelPredictor, specs, y)
    err = np.where(np.isnan(pred), np.inf, np.abs(pred / y - 1))
    acc = {}
    types = np.array([kernel_type(s) for s in specs])
    for t in sorted(set(types)):
        e = err[types == t]
        acc[t] = float(np.mean(e[np.isfinite(e)] < 0.10)) if np.isfinite(e).any() else float("nan")
    return [specs[i] for i in np.argsort(-err, kind="stable")], acc


def next_batch(specs: list[KernelSpec], y: np.ndarray, n: int, seed: int) -> tuple[list[KernelSpec], dict[str, float]]:
    """`n` new kernels near the worst-predicted fifth of `specs` (in their dtype), and the per-type ±10%."""
    order, acc = worst_first(specs, y)
    worst = order[: max(1, len(order) // 5)]
    rng, known, out = random.Random(seed), {s.key for s in specs}, {}
    for _ in range(50 * n):
        if len(out) >= n:
            break
        base = rng.choice(worst)
        cand = near_kernel(rng, base).with_dtype(base.dtype)
        if cand.key not in known:
            out.setdefault(cand.key, cand)
    return list(out.values()), acc


def run_adaptive(opts, rounds: int, progress: Progress | None = None):
    """Profile `opts` (its --kernels sample and --from-model kernels), then `rounds` more batches of
    opts.kernels kernels each, chosen by next_batch. Returns the last profile result and the rounds."""
    from edgelat.predictors.datasets import load_kernels

    progress = progress or NullProgress()
    result = run_profile(opts, progress)
    history: list[AdaptiveRound] = []
    extra: tuple[str, ...] = ()
    for r in range(rounds):
        specs, y, _ = load_kernels(result.summary["store"], result.device.name)
        batch, acc = next_batch(specs, y, opts.kernels, opts.seed + r + 1)
        history.append(AdaptiveRound(len(specs), dict(Counter(kernel_type(s) for s in specs)), acc,
                                     dict(Counter(kernel_type(s) for s in batch))))
        short = (f", fewer than the {opts.kernels} asked: no more new ones near them"
                 if len(batch) < opts.kernels else "")
        progress.note(f"adaptive round {r + 1}/{rounds}: {len(batch)} kernels near the worst predicted "
                      f"({', '.join(f'{t} {n}' for t, n in history[-1].added.items())}{short})")
        extra += tuple(s.key for s in batch)
        result = run_profile(replace(opts, kernel_keys=extra), progress)
    specs, y, _ = load_kernels(result.summary["store"], result.device.name)
    history.append(AdaptiveRound(len(specs), dict(Counter(kernel_type(s) for s in specs)), worst_first(specs, y)[1]))
    return result, history
