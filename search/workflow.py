"""What `edgelat search` does: build the problem, run the strategy and the random baseline,
evaluate both the same way, export the network and write arch.json and search.png.

The latency side uses the space at the deployment resolution (the predictor's blocks); the
accuracy side uses the same space at the training resolution of the dataset (32 px digits by
default). Both have the same layers and choices, so one encoding names both, and the exported
model inherits the trained weights (convolutions do not depend on the input size) with its
BatchNorm statistics recalibrated at the deployment resolution.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import time
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from edgelat.core.paths import ensure_dir, ensure_parent
from edgelat.core.progress import NullProgress, Progress
from edgelat.core.spaces import SearchSpace, get_space
from edgelat.devices.catalog import Device, get_device
from edgelat.errors import SearchError
from edgelat.profiler.cache import default_cache_dir
from edgelat.search.accuracy_table import TableSignal, check_coverage
from edgelat.search.data import load_dataset
from edgelat.search.final_eval import evaluate_final, final_kind
from edgelat.search.fleet_file import load_fleet
from edgelat.search.fleet_workflow import budget_limits, fleet_predictions, fleet_targets, run_front
from edgelat.search.front_search import FRONT_SEARCHES
from edgelat.search.journal import JOURNAL_NAME, ScoreJournal, fingerprint
from edgelat.search.latency_side import LatencySide, latency_side
from edgelat.search.mcu_fit import exact_memory, fit_exactly
from edgelat.search.options import SearchOptions, check_options, default_strategy
from edgelat.search.outputs import SearchRun, export_model, search_document, write_outputs
from edgelat.search.problem import Budget, Problem, SearchResult
from edgelat.search.remote_trainer import RayTrainer
from edgelat.search.signals import SIGNALS, SignalContext
from edgelat.search.strategies import STRATEGIES, RandomSearch, StrategyContext
from edgelat.search.verify import device_measure, verify_loop

__all__ = ["SIGNALS", "STRATEGIES", "SearchOptions", "check_options", "run_search", "supernet_for"]


def run_search(opts: SearchOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Check the options; build the latency model, the accuracy signal and the strategy; search; run
    the random baseline; evaluate both the same way; export; write the outputs. Returns arch.json."""
    rep = progress or NullProgress()
    start = time.perf_counter()
    opts = replace(opts, strategy=default_strategy(opts))
    device = _checked_device(opts)
    budget = Budget(opts.target_ms, opts.budget)
    data = load_dataset(opts.data, opts.train_resolution, opts.seed, opts.train_images)
    lat_space = get_space(opts.space, opts.resolution, opts.width, num_classes=data.num_classes)
    acc_space = get_space(opts.space, opts.train_resolution, opts.width, num_classes=data.num_classes)
    latency = latency_side(opts, device, lat_space)
    targets, fleet_limits = fleet_targets(opts, device, latency, lat_space)
    if opts.accuracy == "table":  # read now: a table that cannot serve fails before anything is written
        table = TableSignal(acc_space, opts.accuracy_table)
        check_coverage(table.path, table.table, acc_space)
    ensure_dir(opts.out, "the search's outputs")  # before the search, not after it
    journal = ScoreJournal(Path(opts.out) / JOURNAL_NAME, fingerprint(asdict(opts), data.num_classes))
    rep.note(f"data: {data.summary()}")  # every input checked: from here on, progress
    if journal.scores:
        rep.note(f"resuming: {len(journal.scores)} networks already scored in {journal.path}")
    signal_type, strategy_type = SIGNALS.get(opts.accuracy), STRATEGIES.get(opts.strategy)
    need_supernet = signal_type.needs_supernet or strategy_type.needs_supernet or opts.final_eval == "supernet"
    net = supernet_for(acc_space, data, opts.supernet_epochs, opts.seed, rep) if need_supernet else None
    trainer = _trainer(opts, acc_space, data, rep)
    signal = signal_type.from_context(SignalContext(acc_space, data, net, opts.train_epochs, opts.seed,
                                                         opts.accuracy_table, trainer))
    if opts.pareto:
        return run_front(opts, lat_space, signal, targets, fleet_limits, rep, start)
    problem = Problem(lat_space, latency.model, signal, budget, fleet_limits + budget_limits(targets), journal)
    strategy = strategy_type.from_context(StrategyContext(opts, signal, acc_space, data, net, latency.table,
                                                          latency.constant))
    rep.phase(f"{strategy.name} search (signal: {signal.name})", 1)
    result = strategy.run(problem, rep)
    again = partial(_search_again, opts, signal, acc_space, data, net, latency, rep)
    problem, result, checks = _check_chosen(opts, device, problem, result, again, data.num_classes, rep)
    baseline = None if opts.strategy == "random" else random_baseline(problem, opts.evaluations, opts.seed, result,
                                                                      rep)
    run = SearchRun(opts, device, data, lat_space, acc_space, latency.name, problem, result, baseline)
    ri, model = evaluate_final(opts, problem, result, baseline, acc_space, data, net, rep, trainer)
    if trainer is not None:
        workers = len({(r["host"], r["pid"]) for r in trainer.runs})
        run_log = f"cluster: {len(trainer.runs)} trainings on {workers} workers"
        result.log.append(run_log)
        rep.note(run_log)
    doc = search_document(run, ri)
    if len(targets) > 1:
        doc["fleet"] = fleet_predictions(targets, result.arch)
    if model is None and opts.export:
        model = _untrained(acc_space, result.arch, opts.seed, doc, rep)
    doc.update(checks)
    files = export_model(run, doc, model, rep) if opts.export else {}
    return write_outputs(run, doc, files, start)


def _check_chosen(opts: SearchOptions, device: Device, problem: Problem, result: SearchResult, again, classes: int,
                  rep: Progress) -> tuple[Problem, SearchResult, dict[str, Any]]:
    """The chosen network checked where the search's model can err, searching again while it fails:
    measured on the device (--verify N), and TFLM's exact memory on MCUs. Returns what to record."""
    checks: dict[str, Any] = {}
    if opts.verify:
        problem, result, verification = verify_loop(problem, result, again(),
                                                    device_measure(opts, Path(opts.out), classes, rep), opts.verify,
                                                    rep)
        checks["verification"] = verification.document()
    if device.kind == "mcu" and opts.export:
        search = again("under the tightened memory limits")
        problem, result, checks["memory_rounds"] = fit_exactly(
            problem, result, lambda p: search(p, 1.0), lambda a: exact_memory(problem.space, a, device, opts.seed), rep)
    return problem, result, checks


def _search_again(opts: SearchOptions, signal, acc_space: SearchSpace, data, net, latency: LatencySide,
                  rep: Progress, why: str | None = None):
    """(problem, factor) -> a fresh strategy's answer on `problem`, its block table scaled by `factor`."""
    def again(problem: Problem, factor: float) -> SearchResult:
        table = None if latency.table is None else latency.table * factor
        strategy = STRATEGIES.get(opts.strategy).from_context(StrategyContext(opts, signal, acc_space, data, net, table,
                                                                          latency.constant * factor))
        rep.phase(f"{strategy.name} search again {why or f'under the rescaled model (x{factor:.3f})'}", 1)
        return strategy.run(problem, rep)

    return again


def _trainer(opts: SearchOptions, space: SearchSpace, data, rep: Progress):
    """A RayTrainer when --cluster is given and something trains (the train signal, --final-eval train)."""
    if not opts.cluster:
        return None

    trainer = RayTrainer(opts.cluster, (opts.space, space.resolution, space.width, space.num_classes), data,
                         opts.train_epochs, opts.seed)
    rep.note(f"cluster: short trainings run on {opts.cluster} (one CPU each)")
    return trainer


def _untrained(space: SearchSpace, arch: np.ndarray, seed: int, doc: dict[str, Any], rep: Progress):
    """The chosen network with initial weights, for export when nothing was trained (--final-eval none)."""
    from edgelat.core.builders import build_network

    doc["weights"] = "untrained (--final-eval none): right for latency and memory, not for accuracy"
    rep.note(f"export: {doc['weights']}")
    return build_network(space, arch, seed=seed)


def _checked_device(opts: SearchOptions) -> Device:
    """The device, once the names and the options that need no TensorFlow are known good."""
    strategy = default_strategy(opts)
    if strategy not in STRATEGIES:
        raise SearchError(f"--strategy: unknown {strategy!r} (known: {', '.join(STRATEGIES.names())})")
    if opts.accuracy not in SIGNALS:
        raise SearchError(f"--accuracy: unknown {opts.accuracy!r} (known: {', '.join(SIGNALS.names())})")
    if opts.pareto and opts.front_search not in FRONT_SEARCHES:
        raise SearchError(f"--front-search: unknown {opts.front_search!r} (known: {', '.join(FRONT_SEARCHES.names())})")
    for choice in ((opts.front_search,) if opts.pareto else ()) + (strategy,):
        library = choice.split("-")[0]
        if library in ("optuna", "pymoo") and importlib.util.find_spec(library) is None:
            raise SearchError(f"{choice!r} needs {library}: pip install 'edgelat[compare]'")
    if opts.dtype not in ("fp32", "int8"):
        raise SearchError(f"--dtype: must be fp32 or int8, got {opts.dtype!r}")
    device = get_device(None if opts.device_file else opts.device, opts.device_file)
    if opts.fleet:  # read now: a bad file fails before the data and the models load
        load_fleet(opts.fleet)
    if device.kind != "mcu" and (opts.max_sram or opts.max_flash):
        raise SearchError(f"--max-sram/--max-flash apply to MCU devices; {device.name!r} is a {device.kind}")
    if final_kind(opts, opts.accuracy) != "train" and opts.accuracy != "train" and opts.cluster:
        raise SearchError("--cluster: nothing here trains (use --accuracy train or --final-eval train)")
    if opts.verify and opts.budget != "hard":
        raise SearchError("--verify: needs a hard budget (a soft one may be exceeded by design)")
    if device.kind != "mcu" and not opts.predictor:
        raise SearchError(f"--predictor: give a model JSON from `edgelat fit` for device {device.name!r}")
    return device


def random_baseline(problem: Problem, evaluations: int, seed: int, result: SearchResult,
                    progress: Progress) -> SearchResult | None:
    """Random search with the same signal (sharing its cache, so only new evaluations count);
    None, noted in `result.log`, when uniform sampling misses a small feasible region."""
    progress.phase(f"random baseline ({evaluations} evaluations)", 1)
    try:
        return RandomSearch(evaluations, seed + 1).run(problem.sibling(), progress)
    except SearchError as exc:  # e.g. MCU memory limits
        progress.note(f"random baseline: none ({exc})")
        result.log.append(f"random baseline: none ({exc})")
        return None


def supernet_for(space: SearchSpace, data, epochs: int, seed: int, progress: Progress):
    """A trained weight-sharing supernet, cached on disk by everything that determines it."""
    from edgelat.search.supernet import build_supernet
    from edgelat.search.training import train_supernet

    key = json.dumps([space.name, space.resolution, space.width, space.num_classes, [str(la) for la in space.layers],
                      data.name, len(data.y_train), float(data.x_train.sum()), epochs, seed, 2])
    path = default_cache_dir() / "supernets" / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.weights.h5"
    net = build_supernet(space, seed=seed)
    if path.is_file():
        net.load_weights(path)
        progress.note(f"supernet: loaded from the cache ({path})")
        return net
    progress.phase(f"training the supernet ({epochs} epochs)", 1)
    history = train_supernet(net, data.x_train, data.y_train, epochs=epochs, seed=seed, progress=progress.advance)
    progress.note(f"supernet: trained {epochs} epochs, final loss {history[-1]:.3f}")
    ensure_parent(path, "the supernet cache")
    tmp = path.with_name(path.name.replace(".weights.h5", f".{os.getpid()}.weights.h5"))
    net.save_weights(tmp)
    tmp.replace(path)
    return net
