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
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgelat.core.progress import NullProgress, Progress
from edgelat.core.sizes import parse_size
from edgelat.core.spaces import SearchSpace, get_space
from edgelat.devices.catalog import Device, get_device
from edgelat.devices.sidecar import write_sidecar
from edgelat.errors import DoesNotFitError, OptionError, SearchError
from edgelat.predictors import persistence
from edgelat.predictors.architecture import ArchitecturePredictor
from edgelat.predictors.mcu import McuPredictor
from edgelat.search.signals import SIGNALS

STRATEGIES = ("anneal", "random", "single-path")


@dataclass
class SearchOptions:
    space: str = "single-path"
    device: str = "pixel1"
    device_file: str | None = None
    predictor: str | None = None
    dtype: str = "fp32"
    target_ms: float = 80.0
    budget: str = "hard"
    strategy: str = "anneal"
    accuracy: str = "supernet"
    data: str | None = None
    resolution: int | None = None
    train_resolution: int = 32
    width: float = 1.0
    out: str = "runs/search"
    seed: int = 0
    evaluations: int = 100
    steps: int = 60
    chains: int = 8
    supernet_epochs: int = 30
    single_path_epochs: int = 8
    train_epochs: int = 8
    ri_samples: int = 10
    finetune_epochs: int | None = None  # at the deployment resolution; default 1 when it differs
    max_sram: str | None = None
    max_flash: str | None = None
    export: bool = True


Reporter = NullProgress  # until search/demo.py and benchmarks/search.py use edgelat.core.progress


def _cache_dir() -> Path:
    return Path(os.environ.get("EDGELAT_CACHE_DIR") or Path.home() / ".cache" / "edgelat")


def _size(value: str, option: str) -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise SearchError(f"{option}: {exc}") from None


def _device(opts: SearchOptions) -> Device:
    return get_device(None if opts.device_file else opts.device, opts.device_file)


def supernet_for(space: SearchSpace, data, epochs: int, seed: int, reporter: Progress):
    """A trained weight-sharing supernet, cached on disk by everything that determines it."""
    from edgelat.search.supernet import build_supernet
    from edgelat.search.training import train_supernet

    key = json.dumps([space.name, space.resolution, space.width, space.num_classes, [str(la) for la in space.layers],
                      data.name, len(data.y_train), float(data.x_train.sum()), epochs, seed, 2])
    path = _cache_dir() / "supernets" / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.weights.h5"
    net = build_supernet(space, seed=seed)
    if path.is_file():
        net.load_weights(path)
        reporter.note(f"supernet: loaded from the cache ({path})")
        return net
    reporter.phase(f"training the supernet ({epochs} epochs)", 1)
    history = train_supernet(net, data.x_train, data.y_train, epochs=epochs, seed=seed,
                             progress=reporter.advance)
    reporter.note(f"supernet: trained {epochs} epochs, final loss {history[-1]:.3f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name.replace(".weights.h5", f".{os.getpid()}.weights.h5"))
    net.save_weights(tmp)
    tmp.replace(path)
    return net


def _final_evaluator(kind: str, space: SearchSpace, data, net, epochs: int, seed: int) -> Callable:
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


def run_search(opts: SearchOptions, reporter: Progress | None = None) -> dict[str, Any]:
    from edgelat.search import signals as sig
    from edgelat.search.data import load_dataset
    from edgelat.search.strategies import Budget, Constraint, Problem, RandomSearch, SimulatedAnnealing

    rep = reporter or NullProgress()
    start = time.perf_counter()
    if opts.strategy not in STRATEGIES:
        raise SearchError(f"--strategy: unknown {opts.strategy!r} (known: {', '.join(STRATEGIES)})")
    if opts.accuracy not in SIGNALS:
        raise SearchError(f"--accuracy: unknown {opts.accuracy!r} (known: {', '.join(SIGNALS)})")
    if opts.dtype not in ("fp32", "int8"):
        raise SearchError(f"--dtype: must be fp32 or int8, got {opts.dtype!r}")
    device = _device(opts)
    mcu = device.kind == "mcu"
    if not mcu and (opts.max_sram or opts.max_flash):  # cheap checks before TensorFlow loads
        raise SearchError(f"--max-sram/--max-flash apply to MCU devices; {device.name!r} is a {device.kind}")
    if not mcu and not opts.predictor:
        raise SearchError(f"--predictor: give a model JSON from `edgelat fit` for device {device.name!r}")
    data = load_dataset(opts.data, opts.train_resolution, opts.seed)
    rep.note(f"data: {data.summary()}")
    lat_space = get_space(opts.space, opts.resolution, opts.width, num_classes=data.num_classes)
    acc_space = get_space(opts.space, opts.train_resolution, opts.width, num_classes=data.num_classes)
    out = Path(opts.out)

    constraints: list[Constraint] = []
    if mcu:
        lat = McuPredictor(lat_space, device)
        sram = _size(opts.max_sram, "--max-sram") if opts.max_sram else device.memory.get("sram")
        flash = _size(opts.max_flash, "--max-flash") if opts.max_flash else device.memory.get("flash")
        if sram:
            constraints.append(Constraint("peak SRAM", lat.sram, float(sram), " B"))
        if flash:
            constraints.append(Constraint("flash", lat.flash, float(flash), " B"))
        latency_model, table, constant, predictor_name = lat, None, 0.0, "mcu-cycle-model (estimate)"
        if opts.strategy == "single-path":
            raise SearchError("--strategy single-path needs an additive block predictor; on MCUs use anneal or random")
    else:
        if opts.max_sram or opts.max_flash:
            raise SearchError(f"--max-sram/--max-flash apply to MCU devices; {device.name!r} is a {device.kind}")
        if not opts.predictor:
            raise SearchError(f"--predictor: give a model JSON from `edgelat fit` for device {device.name!r}")
        model = persistence.load(opts.predictor)
        latency_model = ArchitecturePredictor(lat_space, model, opts.dtype)
        table, constant = latency_model.table, latency_model.constant
        predictor_name = str(opts.predictor)

    budget = Budget(opts.target_ms, opts.budget)
    need_supernet = opts.accuracy == "supernet" or opts.strategy == "single-path"
    net = supernet_for(acc_space, data, opts.supernet_epochs, opts.seed, rep) if need_supernet else None

    def make_signal():
        if opts.accuracy == "supernet":
            return sig.SupernetSignal(net, data.x_val, data.y_val)
        if opts.accuracy == "params":
            return sig.ParamsSignal(acc_space)
        if opts.accuracy == "flops":
            return sig.FlopsSignal(acc_space)
        if opts.accuracy == "train":
            return sig.TrainSignal(acc_space, data, opts.train_epochs, opts.seed)
        cls = {"synflow": sig.SynflowSignal, "naswot": sig.NaswotSignal, "nasgraph": sig.NasgraphSignal}
        return cls[opts.accuracy](acc_space, data.x_train, seed=opts.seed)

    signal = make_signal()
    problem = Problem(lat_space, latency_model, signal, budget, constraints)
    evaluations = opts.evaluations

    if opts.strategy == "random":
        strategy = RandomSearch(evaluations, opts.seed)
    elif opts.strategy == "anneal":
        # Costly signals: exactly the random baseline's number of new evaluations, on 4 chains.
        chains = opts.chains if signal.vectorised else min(opts.chains, 4)
        steps = opts.steps * 10 if signal.vectorised else max(1, evaluations // chains)
        strategy = SimulatedAnnealing(steps=steps, chains=chains, seed=opts.seed,
                                      evaluations=None if signal.vectorised else evaluations)
    else:
        from edgelat.search.strategies import SinglePathSearch
        from edgelat.search.supernet import build_supernet

        search_net = build_supernet(acc_space, seed=opts.seed)
        search_net.set_weights(net.get_weights())
        for block in search_net.blocks:
            block.reset_reference()
        strategy = SinglePathSearch(search_net, data, table, constant, epochs=opts.single_path_epochs,
                                    seed=opts.seed)
    rep.phase(f"{strategy.name} search (signal: {signal.name})", 1)
    result = strategy.run(problem, rep.advance)
    baseline = None
    if opts.strategy != "random":
        base_problem = problem.sibling()  # same signal: shares its cache, counts only new evaluations
        rep.phase(f"random baseline ({evaluations} evaluations)", 1)
        try:
            baseline = RandomSearch(evaluations, opts.seed + 1).run(base_problem, rep.advance)
        except SearchError as exc:  # uniform sampling can miss a small feasible region (MCU memory limits)
            rep.note(f"random baseline: none ({exc})")
            result.log.append(f"random baseline: none ({exc})")

    # One final evaluation for every strategy: supernet-inherited weights when a supernet exists,
    # otherwise a short training from scratch; test split, BatchNorm recalibrated.
    final_kind = "supernet" if net is not None else "train"
    final = _final_evaluator(final_kind, acc_space, data, net, opts.train_epochs, opts.seed)
    rep.phase(f"final evaluation ({final_kind}) and random sampling ({opts.ri_samples} architectures)", 1)
    acc_method, model = final(result.arch)
    ri: dict[str, Any] = {"evaluation": f"{final_kind}: test top-1", "method": acc_method}
    if baseline is not None:
        acc_rs, _ = final(baseline.arch)
        ri.update(random_search=acc_rs, ri_vs_random_search=100 * (acc_method - acc_rs) / acc_rs)
    samples = problem.random_feasible(opts.ri_samples, np.random.default_rng(opts.seed + 2))
    if len(samples):
        accs = [final(a)[0] for a in samples]
        mean = float(np.mean(accs))
        ri.update(random_sampling_mean=mean, random_sampling=accs,
                  ri_vs_random_sampling=100 * (acc_method - mean) / mean)

    doc: dict[str, Any] = {
        "arch": lat_space.encode(result.arch),
        "space": opts.space, "resolution": lat_space.resolution, "train_resolution": acc_space.resolution,
        "width": opts.width, "num_classes": data.num_classes,
        "layers": [lat_space.layers[i].choices[j].name for i, j in enumerate(result.arch)],
        "device": device.name, "predictor": predictor_name, "dtype": opts.dtype,
        "predicted_ms": result.latency_ms,
        "constraint": {"target_ms": opts.target_ms, "mode": opts.budget,
                       **{c.name.replace(" ", "_") + "_max": c.limit for c in constraints}},
        "accuracy_signal": signal.name, "accuracy": result.score, "strategy": result.strategy,
        "evaluations": result.evaluations, "candidates": result.candidates, "search_s": result.wall_s,
        "random_baseline": None if baseline is None else {
            "arch": lat_space.encode(baseline.arch), "predicted_ms": baseline.latency_ms, "accuracy": baseline.score,
            "evaluations": baseline.evaluations},
        "relative_improvement": ri, "data": data.summary(), "seed": opts.seed,
        "log": result.log + (baseline.log if baseline else []),
        "options": asdict(opts),
    }
    if mcu:
        est = latency_model.estimate(result.arch)
        doc["memory"] = {"peak_sram_bytes": est.peak_sram_bytes, "flash_bytes": est.flash_bytes,
                         "estimated": True}
    files: dict[str, str] = {}
    if opts.export:
        from edgelat.core.builders import build_network
        from edgelat.search.model_export import export_network
        from edgelat.search.weights import copy_weights, recalibrate_bn, top1

        rep.phase("export (Keras, TFLite fp32 and int8, LiteRT check)", 1)
        if lat_space.resolution != acc_space.resolution:
            deploy = build_network(lat_space, result.arch, seed=opts.seed)
            copy_weights(deploy, model)
            hi = data.resized(lat_space.resolution)
            epochs = 1 if opts.finetune_epochs is None else opts.finetune_epochs
            if epochs > 0:
                rep.note(f"fine-tuning {epochs} epoch(s) at the deployment resolution {lat_space.resolution} px "
                         f"(the inherited weights were trained at {acc_space.resolution} px)")
                finetune(deploy, hi, epochs, opts.seed)
            recalibrate_bn(deploy, hi.x_train[:256], batch=32)
            doc["deploy_resolution_top1"] = top1(deploy, hi.x_test, hi.y_test, batch=32)
            doc["finetune_epochs"] = epochs
            model, export_data = deploy, hi
        else:
            export_data = data
        exported = export_network(out, lat_space, result.arch, model, export_data, seed=opts.seed)
        files, doc["export_check"] = exported["files"], exported["check"]
        if mcu:
            from edgelat.devices.mcu_sim import mcu_report

            exact = mcu_report(Path(files["int8"]), device)
            limits = {c.name: int(c.limit) for c in constraints}  # the search's limits, else the device's
            exact = replace(exact, sram_available=limits.get("peak SRAM", exact.sram_available),
                            flash_available=limits.get("flash", exact.flash_available))
            doc["memory"].update(exact_peak_sram_bytes=exact.peak_sram_bytes, exact_flash_bytes=exact.flash_bytes,
                                 exact_latency_ms=exact.latency_ms, fits=exact.fits,
                                 not_fit=exact.not_fit_message(f"the exported {Path(files['int8']).name}") or None)
    from edgelat.search.plots import plot_search

    files["plot"] = str(plot_search(out / "search.png", result, baseline, opts.target_ms, signal.name,
                                    f"{doc['arch']} on {device.name}: {result.latency_ms:.1f} ms predicted"))
    for kind in ("fp32", "int8"):  # per-file sidecars, read by `edgelat deploy`
        if kind in files:
            priced = kind == opts.dtype
            side = write_sidecar(Path(files[kind]), doc["arch"], device.name, kind,
                                 result.latency_ms if priced else None,
                                 None if priced else f"the search predicted the {opts.dtype} model only")
            files[f"{kind}_sidecar"] = str(side)
    doc["files"] = {**files, "arch": str(out / "arch.json")}
    doc["wall_s"] = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    (out / "arch.json").write_text(json.dumps(doc, indent=2, default=_json_default) + "\n")
    if doc.get("memory", {}).get("not_fit"):  # the estimate fitted, TFLM's exact arena does not: say so, files kept
        raise DoesNotFitError(f"{doc['memory']['not_fit']} (TFLM's exact figures; the search's estimate was "
                              f"{doc['memory']['peak_sram_bytes']} B SRAM, {doc['memory']['flash_bytes']} B flash)")
    return doc


def finetune(model, data, epochs: int, seed: int = 0) -> None:
    """A short fine-tune (Adam 1e-3, batch 32) of a model at a new resolution."""
    import keras

    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data.x_train, data.y_train, batch_size=32, epochs=epochs, verbose=0, shuffle=True)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def check_options(opts: SearchOptions) -> None:
    """Cheap validation before anything heavy is imported."""
    if opts.target_ms <= 0:
        raise OptionError(f"--target-ms: must be positive, got {opts.target_ms}")
    if opts.evaluations < 1:
        raise OptionError(f"--evaluations: must be >= 1, got {opts.evaluations}")
