"""One final evaluation for every strategy, and the relative improvements (RI) reported against
random search and random sampling.

With a supernet, a network inherits its weights and has its BatchNorm recalibrated; without
one it is trained briefly from scratch. Both score top-1 on the test split.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from edgelat.core.progress import Progress
from edgelat.core.spaces import SearchSpace
from edgelat.search.options import SearchOptions
from edgelat.search.problem import Problem, SearchResult

Evaluator = Callable[[np.ndarray], tuple[float, Any]]  # arch -> (test top-1, Keras model)


def final_evaluator(kind: str, space: SearchSpace, data, net, epochs: int, seed: int) -> Evaluator:
    """(arch) -> (test top-1, Keras model) with one fixed procedure for every strategy."""
    from edgelat.core.builders import build_network
    from edgelat.search.signals import short_train
    from edgelat.search.weights import inherit_weights, recalibrate_bn, top1

    def supernet_eval(arch):
        model = build_network(space, arch, seed=seed)
        inherit_weights(model, net, arch)
        recalibrate_bn(model, data.x_train)
        return top1(model, data.x_test, data.y_test), model

    def train_eval(arch):
        model, acc = short_train(space, arch, data, epochs, seed, split="test")
        return acc, model

    return supernet_eval if kind == "supernet" else train_eval


def evaluate_final(opts: SearchOptions, problem: Problem, result: SearchResult, baseline: SearchResult | None,
                   space: SearchSpace, data, net, progress: Progress) -> tuple[dict[str, Any], Any]:
    """The chosen network's test top-1 and RI against the baseline and random feasible samples
    (arch.json's ``relative_improvement``), and the chosen network's Keras model."""
    if problem.signal.name == "table":
        return _table_final(opts, problem, result, baseline, space, data, progress)
    kind = "supernet" if net is not None else "train"
    final = final_evaluator(kind, space, data, net, opts.train_epochs, opts.seed)
    progress.phase(f"final evaluation ({kind}) and random sampling ({opts.ri_samples} architectures)", 1)
    acc_method, model = final(result.arch)
    ri: dict[str, Any] = {"evaluation": f"{kind}: test top-1", "method": acc_method}
    if baseline is not None:
        acc_rs, _ = final(baseline.arch)
        ri.update(random_search=acc_rs, ri_vs_random_search=100 * (acc_method - acc_rs) / acc_rs)
    samples = problem.random_feasible(opts.ri_samples, np.random.default_rng(opts.seed + 2))
    if len(samples):
        accs = [final(a)[0] for a in samples]
        mean = float(np.mean(accs))
        ri.update(random_sampling_mean=mean, random_sampling=accs,
                  ri_vs_random_sampling=100 * (acc_method - mean) / mean)
    return ri, model


def _table_final(opts: SearchOptions, problem: Problem, result: SearchResult, baseline: SearchResult | None,
                 space: SearchSpace, data, progress: Progress) -> tuple[dict[str, Any], Any]:
    """With measured accuracies, the final evaluation is the table itself (no estimate); the model to
    export is trained briefly on the data, as the `train` signal would."""
    table = problem.signal
    acc = lambda arch: float(table.evaluate(np.asarray(arch)[None])[0])  # noqa: E731
    ri: dict[str, Any] = {"evaluation": f"table: measured accuracy ({table.path.name})", "method": acc(result.arch)}
    if baseline is not None:
        ri.update(random_search=acc(baseline.arch),
                  ri_vs_random_search=100 * (ri["method"] - acc(baseline.arch)) / acc(baseline.arch))
    samples = problem.random_feasible(opts.ri_samples, np.random.default_rng(opts.seed + 2))
    if len(samples):
        accs = [acc(a) for a in samples]
        mean = float(np.mean(accs))
        ri.update(random_sampling_mean=mean, random_sampling=accs,
                  ri_vs_random_sampling=100 * (ri["method"] - mean) / mean)
    model = None
    if opts.export:
        from edgelat.search.signals import short_train

        progress.phase(f"training the chosen network for export ({opts.train_epochs} epochs on {data.name})", 1)
        model, _ = short_train(space, result.arch, data, opts.train_epochs, opts.seed, split="test")
    return ri, model


def finetune(model, data, epochs: int, seed: int = 0) -> None:
    """A short fine-tune (Adam 1e-3, batch 32) of a model at a new resolution."""
    from edgelat.search.training import fit_model

    fit_model(model, data.x_train, data.y_train, epochs=epochs, batch=32, lr=1e-3, seed=seed)
