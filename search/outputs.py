"""What a finished search leaves behind: arch.json, the exported model files with their sidecars,
and search.png. The formats are read by `edgelat deploy` and by users: keep them stable."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgelat.core.paths import write_output
from edgelat.core.progress import Progress
from edgelat.core.spaces import SearchSpace
from edgelat.devices.catalog import Device
from edgelat.devices.sidecar import write_sidecar
from edgelat.errors import DoesNotFitError
from edgelat.predictors.intervals import load_interval
from edgelat.search.final_eval import finetune
from edgelat.search.options import SearchOptions
from edgelat.search.plots import plot_search
from edgelat.search.problem import Problem, SearchResult


@dataclass
class SearchRun:
    """A finished search: what was asked, on what, and what the strategy and the baseline found.
    `lat_space` is at the deployment resolution, `acc_space` at the training resolution."""

    opts: SearchOptions
    device: Device
    data: Any
    lat_space: SearchSpace
    acc_space: SearchSpace
    predictor: str
    problem: Problem
    result: SearchResult
    baseline: SearchResult | None

    @property
    def mcu(self) -> bool:
        return self.device.kind == "mcu"


def search_document(run: SearchRun, ri: dict[str, Any]) -> dict[str, Any]:
    """arch.json before export: the chosen network, its prediction, the constraints, the RI figures."""
    opts, space, result, baseline = run.opts, run.lat_space, run.result, run.baseline
    doc: dict[str, Any] = {
        "arch": space.encode(result.arch),
        "space": opts.space, "resolution": space.resolution, "train_resolution": run.acc_space.resolution,
        "width": opts.width, "num_classes": run.data.num_classes,
        "layers": [space.layers[i].choices[j].name for i, j in enumerate(result.arch)],
        "device": run.device.name, "predictor": run.predictor, "dtype": opts.dtype,
        "predicted_ms": result.latency_ms, **_interval(run.predictor, result.latency_ms),
        "constraint": {"target_ms": opts.target_ms, "mode": opts.budget,
                       **{c.name.replace(" ", "_") + "_max": c.user_limit for c in run.problem.constraints}},
        "accuracy_signal": run.problem.signal.name, "accuracy": result.score, "strategy": result.strategy,
        "evaluations": result.evaluations, "candidates": result.candidates, "search_s": result.wall_s,
        "random_baseline": None if baseline is None else {
            "arch": space.encode(baseline.arch), "predicted_ms": baseline.latency_ms, "accuracy": baseline.score,
            "evaluations": baseline.evaluations},
        "relative_improvement": ri, "data": run.data.summary(), "seed": opts.seed,
        "log": result.log + (baseline.log if baseline else []),
        "options": asdict(opts),
    }
    if run.mcu:
        est = run.problem.latency.estimate(result.arch)
        doc["memory"] = {"peak_sram_bytes": est.peak_sram_bytes, "flash_bytes": est.flash_bytes,
                         "estimated": True}
    return doc


def _interval(predictor: str, predicted_ms: float) -> dict[str, Any]:
    """The predictor file's interval around the prediction (nothing for models without one, or MCUs)."""

    interval = load_interval(predictor) if predictor and Path(predictor).is_file() else None
    if interval is None:
        return {}
    return {"predicted_interval_ms": list(interval.around(predicted_ms)), "interval_level": interval.level}


def export_model(run: SearchRun, doc: dict[str, Any], model, progress: Progress) -> dict[str, str]:
    """Export Keras, TFLite fp32 and int8 (checked in LiteRT), recording the check in `doc`; on MCUs
    TFLM's exact memory of the int8 file too. Returns the file paths."""
    from edgelat.search.model_export import export_network

    progress.phase("export (Keras, TFLite fp32 and int8, LiteRT check)", 1)
    model, data = _at_deployment_resolution(run, doc, model, progress)
    exported = export_network(Path(run.opts.out), run.lat_space, run.result.arch, model, data, seed=run.opts.seed)
    files, doc["export_check"] = exported["files"], exported["check"]
    if run.mcu:
        _exact_memory(run, doc, Path(files["int8"]))
    return files


def _at_deployment_resolution(run: SearchRun, doc: dict[str, Any], model, progress: Progress) -> tuple[Any, Any]:
    """The model and data at the deployment resolution: when it differs from the training one, a copy
    of the weights fine-tuned there (default 1 epoch) with BatchNorm recalibrated, its top-1 in `doc`."""
    opts, lat_space, acc_space = run.opts, run.lat_space, run.acc_space
    if lat_space.resolution == acc_space.resolution:
        return model, run.data
    from edgelat.core.builders import build_network
    from edgelat.search.weights import copy_weights, recalibrate_bn, top1

    deploy = build_network(lat_space, run.result.arch, seed=opts.seed)
    copy_weights(deploy, model)
    hi = run.data.resized(lat_space.resolution)
    untrained = str(doc.get("weights", "")).startswith("untrained")  # nothing to adapt: no fine-tuning by default
    epochs = (0 if untrained else 1) if opts.finetune_epochs is None else opts.finetune_epochs
    if epochs > 0:
        steps = -(-len(hi.y_train) // 32) * epochs
        progress.phase(f"fine-tuning {epochs} epoch(s) at the deployment resolution {lat_space.resolution} px "
                       f"(the inherited weights were trained at {acc_space.resolution} px)", steps)
        finetune(deploy, hi, epochs, opts.seed, progress.advance)
    recalibrate_bn(deploy, hi.x_train[:256], batch=32)
    doc["deploy_resolution_top1"] = top1(deploy, hi.x_test, hi.y_test, batch=32)
    doc["finetune_epochs"] = epochs
    return deploy, hi


def _exact_memory(run: SearchRun, doc: dict[str, Any], int8: Path) -> None:
    """TFLM's exact arena and flash of the exported int8 model, against the search's limits (else the device's)."""
    from edgelat.devices.mcu.tflm import mcu_report  # lazy: the TFLM interpreter loads only for MCU targets

    exact = mcu_report(int8, run.device)
    limits = {c.name: int(c.user_limit) for c in run.problem.constraints}
    exact = replace(exact, sram_available=limits.get("peak SRAM", exact.sram_available),
                    flash_available=limits.get("flash", exact.flash_available))
    doc["memory"].update(exact_peak_sram_bytes=exact.peak_sram_bytes, exact_flash_bytes=exact.flash_bytes,
                         exact_latency_ms=exact.latency_ms, fits=exact.fits,
                         not_fit=exact.not_fit_message(f"the exported {int8.name}") or None)


def write_outputs(run: SearchRun, doc: dict[str, Any], files: dict[str, str], start: float) -> dict[str, Any]:
    """search.png, a sidecar per exported TFLite file, and arch.json; returns the document. A model
    that the estimate fitted but TFLM's exact arena does not is an error, with the files kept."""

    opts, result, out = run.opts, run.result, Path(run.opts.out)
    factor = doc.get("verification", {}).get("factor", 1.0)
    rescaled = f" by the model rescaled x{factor:.3f} after measuring" if factor != 1.0 else ""
    files["plot"] = str(plot_search(out / "search.png", result, run.baseline, opts.target_ms, run.problem.signal.name,
                                    f"{doc['arch']} on {run.device.name}: {result.latency_ms:.3g} ms predicted"
                                    f"{rescaled}"))
    for kind in ("fp32", "int8"):  # per-file sidecars, read by `edgelat deploy`
        if kind in files:
            priced = kind == opts.dtype
            side = write_sidecar(Path(files[kind]), doc["arch"], run.device.name, kind,
                                 result.latency_ms if priced else None,
                                 None if priced else f"the search predicted the {opts.dtype} model only",
                                 doc.get("predicted_interval_ms") if priced else None, doc.get("interval_level"))
            files[f"{kind}_sidecar"] = str(side)
    doc["files"] = {**files, "arch": str(out / "arch.json")}
    doc["wall_s"] = time.perf_counter() - start
    write_output(out / "arch.json", json.dumps(doc, indent=2, default=_json_default) + "\n", "the search's result")
    if doc.get("memory", {}).get("not_fit"):
        raise DoesNotFitError(f"{doc['memory']['not_fit']} (TFLM's exact figures; the search's estimate was "
                              f"{doc['memory']['peak_sram_bytes']} B SRAM, {doc['memory']['flash_bytes']} B flash)")
    return doc


def _json_default(o: Any) -> Any:
    """numpy scalars and arrays as plain JSON values."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
