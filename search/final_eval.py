"""One final evaluation for every strategy (`--final-eval`), and the relative improvements (RI)
reported against random search and random sampling.

`supernet`: a network inherits the supernet's weights and has its BatchNorm recalibrated;
`train`: it is trained briefly from scratch; both score top-1 on the test split. `table`: the
measured accuracy itself. `none`: the signal's own values, no training (the default for zero-cost
signals, so such a search takes seconds; the exported model then has untrained weights).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from edgelat.core.progress import Progress
from edgelat.core.spaces import SearchSpace
from edgelat.errors import SearchError
from edgelat.search.options import SearchOptions
from edgelat.search.problem import Problem, SearchResult
from edgelat.search.signals import short_train

Evaluator = Callable[[np.ndarray], tuple[float, Any]]  # arch -> (score, Keras model or None)
FINAL_EVALS = ("none", "supernet", "train", "table")
_LABELS = {"none": "none: the signal's values", "supernet": "supernet: test top-1", "train": "train: test top-1"}


def final_kind(opts: SearchOptions, signal_name: str) -> str:
    """The final evaluation asked for, else the one that fits the signal (no training for zero-cost ones)."""
    kind = opts.final_eval or {"table": "table", "supernet": "supernet", "train": "train"}.get(signal_name, "none")
    if kind not in FINAL_EVALS:
        raise SearchError(f"--final-eval: unknown {kind!r} (known: {', '.join(FINAL_EVALS)})")
    if kind == "table" and signal_name != "table":
        raise SearchError("--final-eval table: needs --accuracy table (measured accuracies)")
    return kind


def final_evaluator(kind: str, space: SearchSpace, data, net, epochs: int, seed: int,
                    signal=None) -> Evaluator:
    """(arch) -> (score, Keras model or None) with one fixed procedure for every strategy."""
    from edgelat.core.builders import build_network
    from edgelat.search.weights import inherit_weights, recalibrate_bn, top1

    def supernet_eval(arch):
        model = build_network(space, arch, seed=seed)
        inherit_weights(model, net, arch)
        recalibrate_bn(model, data.x_train)
        return top1(model, data.x_test, data.y_test), model

    def train_eval(arch):
        model, acc = short_train(space, arch, data, epochs, seed, split="test")
        return acc, model

    def signal_eval(arch):
        return float(signal.evaluate(np.asarray(arch)[None])[0]), None

    return {"supernet": supernet_eval, "train": train_eval, "none": signal_eval}[kind]


def evaluate_final(opts: SearchOptions, problem: Problem, result: SearchResult, baseline: SearchResult | None,
                   space: SearchSpace, data, net, progress: Progress, trainer=None) -> tuple[dict[str, Any], Any]:
    """The chosen network's final score and RI against the baseline and random feasible samples
    (arch.json's ``relative_improvement``), and the chosen network's Keras model (None: untrained).
    With a `trainer` (search --cluster), the stand-alone trainings but the chosen one's run on the cluster."""
    kind = final_kind(opts, problem.signal.name)
    if kind == "table":
        return _table_final(opts, problem, result, baseline, space, data, progress)
    final = final_evaluator(kind, space, data, net, opts.train_epochs, opts.seed, problem.signal)
    samples = problem.random_feasible(opts.ri_samples, np.random.default_rng(opts.seed + 2))
    todo = [result.arch, *([baseline.arch] if baseline is not None else []), *samples]
    which = ", ".join(["the chosen one", *(["random search's"] if baseline is not None else []),
                       f"{len(samples)} random samples"])
    progress.note(f"final evaluation ({kind}): {len(todo)} networks ({which})"
                  + (f", each trained {opts.train_epochs} epochs from scratch; --final-eval none skips it"
                     if kind == "train" else ""))
    progress.phase(f"final evaluation ({kind}) of {len(todo)} networks", len(todo))
    # with a cluster, the others train there; the chosen one here (its model is the one exported)
    remote = list(trainer.accuracies(todo[1:], "test")) if trainer is not None and kind == "train" else []
    if remote:
        progress.advance(len(remote), len(todo), {"where": "cluster"})
    values, model = [], None
    for i, arch in enumerate(todo[:1] if remote else todo):
        value, m = final(arch)
        values.append(value)
        model = m if i == 0 else model
        progress.advance(len(remote) + i + 1, len(todo), {})
    values += remote
    ri = _ri(_LABELS[kind], values[0], values[1] if baseline is not None else None,
             values[2 if baseline is not None else 1:])
    return ri, model


def _ri(label: str, method: float, random_search: float | None, sampled: list[float]) -> dict[str, Any]:
    """The RI figures of arch.json: against random search's network, and the mean of random samples."""
    ri: dict[str, Any] = {"evaluation": label, "method": method}
    if random_search is not None:
        ri.update(random_search=random_search, ri_vs_random_search=100 * (method - random_search) / random_search)
    if sampled:
        mean = float(np.mean(sampled))
        ri.update(random_sampling_mean=mean, random_sampling=list(sampled),
                  ri_vs_random_sampling=100 * (method - mean) / mean)
    return ri


def _table_final(opts: SearchOptions, problem: Problem, result: SearchResult, baseline: SearchResult | None,
                 space: SearchSpace, data, progress: Progress) -> tuple[dict[str, Any], Any]:
    """With measured accuracies, the final evaluation is the table itself (no estimate); the model to
    export is trained briefly on the data, as the `train` signal would."""
    table = problem.signal
    acc = lambda arch: float(table.evaluate(np.asarray(arch)[None])[0])  # noqa: E731
    samples = problem.random_feasible(opts.ri_samples, np.random.default_rng(opts.seed + 2))
    ri = _ri(f"table: measured accuracy ({table.path.name})", acc(result.arch),
             None if baseline is None else acc(baseline.arch), [acc(a) for a in samples])
    model = None
    if opts.export:

        steps = -(-len(data.y_train) // 64) * opts.train_epochs
        progress.phase(f"training the chosen network for export ({opts.train_epochs} epochs on {data.name})", steps)
        model, _ = short_train(space, result.arch, data, opts.train_epochs, opts.seed, split="test",
                               progress=progress.advance)
    return ri, model


def finetune(model, data, epochs: int, seed: int = 0, progress=None) -> None:
    """A short fine-tune (Adam 1e-3, batch 32) of a model at a new resolution; `progress(done, total, info)`
    hears every step."""
    from edgelat.search.training import fit_model

    fit_model(model, data.x_train, data.y_train, epochs=epochs, batch=32, lr=1e-3, seed=seed, progress=progress)
