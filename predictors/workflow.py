"""What `edgelat fit`, `evaluate` and `predict` do, as functions the CLI (and users) call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgelat.core.blockspec import BlockSpec
from edgelat.core.spaces import get_space
from edgelat.errors import DataError, OptionError
from edgelat.predictors import intervals, metrics, persistence, selection
from edgelat.predictors.architecture import ArchitecturePredictor
from edgelat.predictors.base import LatencyPredictor
from edgelat.predictors.blocks_in_tflite import predict_tflite
from edgelat.predictors.datasets import load_blocks, load_kernels, load_networks
from edgelat.predictors.evaluation import out_of_fold, plot_predictions
from edgelat.predictors.kernel_pricing import calibrate_from_table, predict_kernels, total_interval
from edgelat.predictors.kernels import KernelPredictor, kernel_out_of_fold
from edgelat.predictors.layerwise import LayerwisePredictor
from edgelat.predictors.linear import LinearPredictor
from edgelat.predictors.lut import LUTPredictor
from edgelat.predictors.priors import load_prior, prior_candidates
from edgelat.predictors.registry import PREDICTORS
from edgelat.predictors.transfer import TransferPredictor


def make_predictor(kind: str, space: str | None, source: str | None = None,
                   prior: str | LatencyPredictor | None = None, resolution: int | None = None,
                   dtype: str = "fp32", corrections: bool = True,
                   basis_models: tuple[LatencyPredictor, ...] = ()) -> LatencyPredictor:
    if space is not None:
        if kind not in ("lut", "linear"):
            raise OptionError(f"--predictor {kind}: whole-network tables (--space) take 'lut' (a learned "
                               "per-layer table; 'linear' is the same model)")
        return LayerwisePredictor(space=space, prior=load_prior(prior), resolution=resolution, dtype=dtype,
                                  corrections=corrections, basis_models=list(basis_models) or None)
    if prior is not None:
        raise OptionError("--prior applies to whole-network tables (give --space)")
    if kind == "transfer":
        if source is None:
            raise OptionError("--kind transfer needs --source MODEL.json (a predictor fitted on another device)")
        return TransferPredictor(source=persistence.load(source))
    if kind not in PREDICTORS.names():
        raise OptionError(f"--predictor: unknown {kind!r} (known: {', '.join(PREDICTORS.names())})")
    return PREDICTORS.create(kind)


def load_data(data: str, space: str | None, target: str, device: str | None = None, kernels: bool = False):
    """(X, y, fixed parts, notes, provenance) from a block table, a kernel table, or a network table
    with --space."""
    if kernels:
        if space is not None:
            raise OptionError("--kind kernels fits a kernel table, not a whole-network one (no --space)")
        specs, y, provenance = load_kernels(data, device)
        return np.array(specs, dtype=object), y, {}, [], provenance
    if space is not None:
        nets = load_networks(data, get_space(space), target)
        return nets.archs, nets.y, {}, [], {"device": device, "runtime": None}
    if target != "latency_ms":
        raise OptionError("--target names a column of a whole-network table; give --space too")
    blocks = load_blocks(data, device=device)
    return blocks.frame, blocks.y, blocks.fixed, blocks.notes, {"device": blocks.device or device,
                                                                "runtime": blocks.runtime}


def fit(data: str, kind: str, output: str, space: str | None = None, target: str = "latency_ms",
        source: str | None = None, prior: str | list[str] | None = None, cv: int = 5, device: str | None = None,
        resolution: int | None = None, dtype: str = "fp32", calibrate: str | None = None) -> dict[str, Any]:
    """Fit and save a predictor. A whole-network table's prior is chosen by CV unless one is forced;
    a kernel predictor is calibrated on the whole models of `calibrate` when given."""
    priors = [prior] if isinstance(prior, str) else list(prior or [])
    if priors and space is None:
        raise OptionError("--prior applies to whole-network tables (give --space)")
    if calibrate is not None and kind != "kernels":
        raise OptionError("--calibrate applies to kernel predictors (--kind kernels)")
    X, y, fixed, notes, provenance = load_data(data, space, target, device, kind == "kernels")
    cands = prior_candidates(priors, space) if space is not None and kind in ("lut", "linear") else None
    choice = None
    if cands is not None:
        choice = selection.choose_layerwise(space, X, y, cands, resolution, dtype)
        notes.append(choice.note)
        chosen = choice.chosen
        make = lambda: make_predictor(kind, space, None, chosen.prior, resolution, dtype,  # noqa: E731
                                      chosen.corrections, chosen.basis_models)
    else:
        make = lambda: make_predictor(kind, space, source, priors[0] if priors else None,  # noqa: E731
                                      resolution, dtype)
    cv_metrics, interval = _cross_validation(make, X, y, cv, kind == "lut" and space is None, notes,
                                             kind == "kernels")
    model = make()
    model.fit(X, y, fixed=fixed) if isinstance(model, LUTPredictor) else model.fit(X, y)
    if fixed and not isinstance(model, LUTPredictor):
        notes.append(f"the table's fixed parts ({', '.join(sorted(map(str, fixed)))}) are kept by --kind lut only: "
                     f"this {kind} model prices a .tflite's MBConv blocks without its stem and head")
    if calibrate is not None:
        notes.extend(calibrate_from_table(model, calibrate))
    if getattr(model, "scaled_only_", False):
        notes.append("the prior's fitted scale came out negative on these networks (it would invert the "
                     "ranking): the prior is kept as it ranks, only scaled")
    meta = {"data": str(data), "target": target, "space": space, **provenance, "training_size": int(len(y)),
            "cv": cv_metrics, "notes": notes, "train": metrics.report(y, model.predict(X))}
    block_dtypes = sorted(set(X["dtype"])) if hasattr(X, "columns") and "dtype" in X.columns else []
    if block_dtypes:
        meta["dtypes"] = block_dtypes  # what a .tflite's blocks are checked against at predict time
    if choice is not None:
        meta["prior_choice"] = choice.as_dict()
    if interval is not None:
        meta["interval"] = interval.as_dict()
    persistence.save(model, output, meta)
    result = {"output": str(output), "kind": model.kind, **meta}
    if isinstance(model, LinearPredictor):
        result["coefficients"] = model.coefficients()
    if isinstance(model, LayerwisePredictor):
        result.update(scale=model.scale_, intercept=model.intercept_, alpha=model.alpha_)
    return result


def _cross_validation(make, X, y, cv: int, block_lut: bool, notes: list[str], kernels: bool = False
                      ) -> tuple[dict[str, float] | None, intervals.RelativeInterval | None]:
    """CV metrics and the conformal interval, from one set of out-of-fold predictions."""
    if cv == 1:
        raise OptionError("--cv must be 0 (no cross-validation) or at least 2 folds, got 1")
    if block_lut:  # a block LUT cannot answer unseen keys
        notes.append("a block lookup table answers only the keys it holds: no cross-validation, no interval")
        return None, None
    if not cv:
        notes.append("--cv 0: no cross-validation, so predictions carry no interval")
        return None, None
    if len(y) < cv * 2:
        notes.append(f"too few rows ({len(y)}) for {cv}-fold cross-validation: no interval")
        return None, None
    if kernels:
        pred = kernel_out_of_fold(make, X, y, folds=cv)
        if np.isnan(pred).any():
            notes.append(f"{int(np.isnan(pred).sum())} kernel(s) of types measured once are left out of the CV")
        y, pred = y[~np.isnan(pred)], pred[~np.isnan(pred)]
    else:
        pred = out_of_fold(make, X, y, folds=cv)
    interval = intervals.conformal(y, pred)
    if interval.capped:
        notes.append(f"{len(y)} rows are too few for a {interval.level:.0%} interval: it spans the extreme "
                     f"out-of-fold errors ({interval.low:.3f}x to {interval.high:.3f}x)")
    return metrics.report(y, pred), interval


def evaluate(model_path: str, data: str, space: str | None = None, target: str = "latency_ms",
             device: str | None = None, plot: str | None = None) -> dict[str, float]:
    model, meta = persistence.load_with_metadata(model_path)
    X, y, *_ = load_data(data, space, target, device, isinstance(model, KernelPredictor))
    pred = model.predict(X)
    report: dict[str, Any] = metrics.report(y, pred)
    interval = intervals.RelativeInterval.from_dict(meta.get("interval"))
    if interval is not None:  # how often the stored interval held on this table
        report.update(interval_level=interval.level, interval_coverage=float(np.mean(interval.covers(y, pred))),
                      interval_width=interval.width,
                      interval_width_ms_median=float(np.median(pred * interval.width)))
    if plot:
        plot_predictions(y, pred, plot, title=f"{Path(model_path).name} on {Path(data).name}")
    return report


def predict(model_path: str, block: str | None = None, arch: str | None = None, space: str | None = None,
            tflite: str | None = None, strict: bool = False, blocks: str | None = None) -> dict[str, Any]:
    """The prediction, with the interval `fit` stored (``interval_ms``; a block or kernel model's interval
    is applied to sums as it is, a conservative band since their errors partly cancel)."""
    model, meta = persistence.load_with_metadata(model_path)
    if isinstance(model, KernelPredictor):
        if tflite is None:
            raise OptionError(f"{model_path}: a kernel predictor prices .tflite models: give --tflite FILE")
        block_model = persistence.load(blocks) if blocks else None
        if block_model is not None and not isinstance(block_model, LUTPredictor):
            raise OptionError(f"--blocks {blocks}: needs a block lookup table (fit --kind lut), not a "
                              f"{block_model.kind} model")
        result = predict_kernels(model, tflite, strict, block_model)
        kernel_interval = intervals.RelativeInterval.from_dict(meta.get("interval"))
        band = total_interval(model, result, kernel_interval)
        if band is not None:
            result.update(interval_ms=list(band), interval_level=kernel_interval.level)
        else:
            result["notes"].append("no interval: the model was fitted without cross-validation")
        return result
    if blocks or strict:
        raise OptionError("--blocks and --strict go with a kernel predictor (fit --kind kernels)")
    result = _point_prediction(model, block, arch, space, tflite)
    _check_dtypes(result, meta.get("dtypes"))
    interval = intervals.RelativeInterval.from_dict(meta.get("interval"))
    if interval is not None:
        result.update(interval_ms=list(interval.around(result["latency_ms"])), interval_level=interval.level)
    else:
        result.setdefault("notes", []).append("no interval: the model was fitted without cross-validation")
    return result


def _check_dtypes(result: dict[str, Any], trained: list[str] | None) -> None:
    """A note when a .tflite's blocks are of a dtype the block predictor never saw (int8 priced as fp32)."""
    found = sorted({b["key"].rsplit("-", 1)[-1] for b in result.get("blocks", [])})
    unseen = [d for d in found if trained and d not in trained]
    if unseen:
        result.setdefault("notes", []).insert(0, (
            f"this model's blocks are {'/'.join(unseen)}, but the predictor was fitted on {'/'.join(trained)} blocks "
            f"only: expect a large error (profile --dtype {unseen[0]} and fit on those)"))


def _point_prediction(model: LatencyPredictor, block: str | None, arch: str | None, space: str | None,
                      tflite: str | None) -> dict[str, Any]:
    if sum(x is not None for x in (block, arch, tflite)) != 1:
        raise OptionError("give exactly one of --block KEY, --arch ENCODING (with --space) or --tflite FILE")
    if block is not None:
        spec = BlockSpec.from_key(block)
        return {"block": spec.key, "latency_ms": float(model.predict([spec])[0])}
    if arch is not None:
        if space is None:
            space = arch.partition(":")[0]
        sp = get_space(space) if not isinstance(model, LayerwisePredictor) else model.space_()
        archs = sp.decode(arch)[None, :]
        result = {"arch": arch, "latency_ms": float(ArchitecturePredictor(sp, model).predict(archs)[0])}
        if not isinstance(model, LayerwisePredictor) and not getattr(model, "fixed_", None):
            result["notes"] = ["blocks only: this predictor has no stem/head/classifier costs (fit a LUT from a "
                               "table that has them, e.g. the ProxylessNAS YAML)"]
        return result

    return predict_tflite(model, tflite)


def suggest(model_path: str, n: int = 20, pool: int = 2000, space: str | None = None, seed: int = 0
            ) -> dict[str, Any]:
    """The whole networks whose measurement would help the model most (see predictors/suggest.py),
    judged against the model's own training table, which its file names."""
    from edgelat.predictors.suggest import candidate_pool
    from edgelat.predictors.suggest import suggest as pick

    model, meta = persistence.load_with_metadata(model_path)
    if not isinstance(model, LayerwisePredictor):
        raise OptionError(f"{model_path}: suggest works on whole-network models (fit with --space), not {model.kind}")
    if space is not None and space != model.space:
        raise OptionError(f"--space {space!r}: {model_path} is a model of space {model.space!r}")
    table = next((p for p in (Path(meta.get("data") or "\0"), Path(model_path).parent / Path(meta.get("data") or
                  "\0").name) if p.is_file()), None)  # as fit was given it, or beside the model
    if table is None:
        raise DataError(f"{model_path}: its training table {meta.get('data')!r} is gone; suggest needs it to "
                        f"know what was measured")
    nets = load_networks(table, model.space_(), meta.get("target", "latency_ms"))
    candidates = candidate_pool(model, pool, nets.archs, seed)
    picked, spread = pick(model, nets.archs, candidates, n)
    sp = model.space_()
    pred = model.predict(candidates[picked])
    rows = [{"arch": sp.encode(candidates[i]), "predicted_ms": float(p), "uncertainty": float(s)}
            for i, p, s in zip(picked, pred, spread, strict=True)]
    return {"model": str(model_path), "space": model.space, "trained_on": int(len(nets.y)),
            "pool": int(len(candidates)), "suggestions": rows}


def suggest_new_device(space: str | None, n: int = 10, pool: int = 2000, seed: int = 0) -> dict[str, Any]:
    """The first networks to measure on a device never seen (predictors/suggest.for_new_device)."""
    from edgelat.predictors.basis import network_sums, physical_tables
    from edgelat.predictors.suggest import for_new_device

    if space is None:
        raise OptionError("suggest --new-device: give --space (the space whose networks to measure)")
    sp = get_space(space)
    archs = for_new_device(sp, n, pool, seed)
    terms = physical_tables(sp)
    sums = network_sums(list(terms.values()), archs)
    rows = [{"arch": sp.encode(a), **{t: float(v) for t, v in zip(terms, row, strict=True)}}
            for a, row in zip(archs, sums, strict=True)]
    return {"space": sp.name, "pool": pool, "suggestions": rows}
