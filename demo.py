"""`make demo`: the whole loop on this machine, then an 80 ms Pixel 1 search from a shipped table.

Leg 1 (host): profile the Single-Path space's int8 blocks at 64 px on this CPU (timed in the
context of a typical network of the space), measure the fixed parts, fit a lookup table,
calibrate it with 5 measured whole networks, run the single-path search under a budget that
binds (measuring the network found, and searching again under a rescaled model while it breaks
the budget: `search --verify`), export, measure the exported int8 model with the profiler's
runner (`deploy`, the fastest of 3 passes), and compare with the calibrated prediction.
Leg 2 (Pixel 1): the ProxylessNAS authors' Pixel 1 lookup table prices every block of the
Single-Path space at 224 px; simulated annealing finds the best network predicted <= 80 ms.
Both legs rank architectures by one supernet trained on the embedded digits (32 px).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgelat.core.progress import NullProgress, Progress
from edgelat.core.spaces import get_space
from edgelat.devices.catalog import get_device
from edgelat.devices.deploy import deploy
from edgelat.predictors import persistence
from edgelat.predictors.architecture import ArchitecturePredictor
from edgelat.predictors.datasets import load_blocks
from edgelat.predictors.layerwise import LayerwisePredictor
from edgelat.predictors.lut import LUTPredictor
from edgelat.profiler.store import Store
from edgelat.profiler.workflow import ProfileOptions, run_profile
from edgelat.search.journal import JOURNAL_NAME
from edgelat.search.workflow import SearchOptions, run_search

DATA = Path(__file__).resolve().parent / "data"
HOST_RESOLUTION = 64
PIXEL1_TARGET_MS = 80.0
CALIBRATION_NETWORKS = 5
VERIFY_ROUNDS = 3  # measure the searched network; rescale and search again while it breaks the budget


def binding_target(space, predictor, dtype: str, fraction: float = 0.4) -> tuple[float, float, float]:
    """A budget between the fastest and the slowest network of the space (so it binds)."""
    ap = ArchitecturePredictor(space, predictor, dtype)
    fast = np.nanargmin(np.where(np.isnan(ap.table), np.inf, ap.table), axis=1)
    slow = np.nanargmax(np.where(np.isnan(ap.table), -np.inf, ap.table), axis=1)
    lo, hi = (float(ap.predict(a[None])[0]) for a in (fast, slow))
    return round(lo + fraction * (hi - lo), 2), lo, hi


def run_demo(out: Path = Path("runs/demo"), store: Path = Path("runs/demo.sqlite"), progress: Progress | None = None,
             quick: bool = False) -> dict[str, Any]:
    """Both legs; returns the host leg's document (with measured ms and error) and the Pixel 1 leg's."""
    rep = progress or NullProgress()
    small = dict(supernet_epochs=3, single_path_epochs=2, evaluations=12, ri_samples=2, finetune_epochs=0) \
        if quick else dict(supernet_epochs=20, evaluations=60, ri_samples=5)
    for leg in ("host", "pixel1"):  # a demo starts its searches afresh (a --quick run's journal would be refused)
        (out / leg / JOURNAL_NAME).unlink(missing_ok=True)
    space = get_space("single-path", HOST_RESOLUTION, num_classes=10)
    lut = host_block_table(out, store, rep, quick)
    calibrated, cal_path = calibrate(space, lut, out, store, rep, CALIBRATION_NETWORKS if not quick else 3)
    target, lo, hi = binding_target(space, calibrated, "int8")
    rep.note(f"      networks of this space span {lo:.2f}-{hi:.2f} ms on this CPU (int8); budget {target:.2f} ms")
    rep.note("[4/7] single-path search (superkernel) on digits, the network found measured here (and the search "
             "rescaled and run again while it breaks the budget), [5/7] export to TFLite fp32 + int8")
    host_doc = run_search(SearchOptions(
        space="single-path", device="host", predictor=str(cal_path), dtype="int8", target_ms=target,
        strategy="superkernel", accuracy="supernet", resolution=HOST_RESOLUTION, out=str(out / "host"),
        verify=2 if quick else VERIFY_ROUNDS, **small), rep)
    rep.note("[6/7] measuring the exported int8 model on this CPU")
    measured = deploy(host_doc["files"]["int8"], get_device("host"))
    arch = space.decode(host_doc["arch"])[None]
    block_sum = float(ArchitecturePredictor(space, lut, "int8").predict(arch)[0])
    calibrated_ms = float(calibrated.predict(arch)[0])  # the error is the calibrated predictor's, not verify's
    err = (calibrated_ms - measured["measured_ms"]) / measured["measured_ms"] * 100
    factor = (host_doc.get("verification") or {}).get("factor", 1.0)
    rescaled = f"; {host_doc['predicted_ms']:.3f} ms under --verify's x{factor:.3f}" if factor != 1.0 else ""
    rep.note(f"[7/7] {host_doc['arch']}: predicted {calibrated_ms:.3f} ms (calibrated{rescaled}; block sum alone "
             f"{block_sum:.3f} ms), measured {measured['measured_ms']:.3f} ms ({err:+.1f}%), budget {target:.2f} ms; "
             f"supernet accuracy {host_doc['accuracy']:.3f}, int8 top-1 {host_doc['export_check']['int8_top1']:.3f} "
             f"(agreement with Keras {host_doc['export_check']['int8_agreement_with_keras']:.3f})")
    p1_doc = pixel1_leg(out, rep, small)
    return {"host": {**host_doc, "measured_ms": measured["measured_ms"], "error_pct": err, "target_ms": target,
                     "calibrated_ms": calibrated_ms, "block_sum_ms": block_sum}, "pixel1": p1_doc}


def host_block_table(out: Path, store: Path, rep: Progress, quick: bool) -> LUTPredictor:
    """Profile the space's int8 blocks (timed in context) and fixed parts on this CPU; a lookup table of them."""
    rep.note(f"[1/7] profiling the int8 MBConv blocks of the Single-Path space at {HOST_RESOLUTION} px on this CPU")
    profiled = run_profile(ProfileOptions(device="host", resolution=HOST_RESOLUTION, dtype="int8", store=str(store),
                                          limit=8 if quick else None, fixed_parts=True, num_classes=10), rep)
    rep.note("[2/7] fitting a lookup table (blocks + the measured stem and head)")
    blocks = load_blocks(store, device="host")
    fallback = None
    if quick:  # a smoke run does not profile every block: a linear model prices the rest
        from edgelat.predictors.linear import LinearPredictor

        fallback = LinearPredictor().fit(blocks.frame, blocks.y)
    lut = LUTPredictor(fallback=fallback).fit(blocks.frame, blocks.y, fixed=profiled.summary["fixed_parts_ms"]["int8"])
    persistence.save(lut, out / "host-lut.json", {"device": "host", "data": str(store),
                                                  "training_size": int(len(blocks.y))})
    return lut


def calibrate(space, lut: LUTPredictor, out: Path, store: Path, rep: Progress, k: int):
    """Measure `k` whole networks (spread over the space's range) and calibrate the block table with them."""
    rep.note(f"[3/7] measuring {k} whole networks to calibrate the block table (a block sum misses what a "
             f"network pays for its weights leaving the cache)")
    run_profile(ProfileOptions(device="host", resolution=HOST_RESOLUTION, dtype="int8", store=str(store),
                               networks=k, seed=7, num_classes=10), rep)
    with Store(store) as s:
        rows = [r for r in s.rows(device="host", networks=True, estimate="min")
                if (r["space"], r["resolution"], r["dtype"]) == ("single-path", HOST_RESOLUTION, "int8")]
    archs = np.array([[int(ch, 36) for ch in r["arch"]] for r in rows])
    y = np.array([r["median_ms"] for r in rows])
    model = LayerwisePredictor("single-path", prior=lut, resolution=HOST_RESOLUTION, dtype="int8").fit(archs, y)
    plain = ArchitecturePredictor(space, lut, "int8").predict(archs)
    rep.note(f"      on those networks the block sum is {100 * np.median((plain - y) / y):+.1f}% off (median); "
             f"calibrated: scale {model.scale_:.3f}, intercept {model.intercept_:+.3f} ms")
    path = persistence.save(model, out / "host-calibrated.json", {"device": "host", "data": str(store),
                                                                  "training_size": int(len(y))})
    return model, path


def pixel1_leg(out: Path, rep: Progress, small: dict) -> dict[str, Any]:
    """An 80 ms Pixel 1 network from the ProxylessNAS authors' lookup table, by annealing."""
    rep.note(f"Pixel 1: annealing for the best network predicted <= {PIXEL1_TARGET_MS:g} ms (ProxylessNAS Pixel 1 "
             f"table)")
    table = load_blocks(DATA / "pixel1_proxylessnas_lut.yaml")
    p1 = LUTPredictor().fit(table.frame, table.y, fixed=table.fixed)
    p1_path = persistence.save(p1, out / "pixel1-lut.json", {"device": "pixel1", "data": "pixel1_proxylessnas_lut.yaml",
                                                            "training_size": int(len(table.y))})
    doc = run_search(SearchOptions(
        space="single-path", device="pixel1", predictor=str(p1_path), dtype="fp32", target_ms=PIXEL1_TARGET_MS,
        strategy="anneal", accuracy="supernet", resolution=224, out=str(out / "pixel1"), **small), rep)
    rep.note(f"Pixel 1: {doc['arch']} predicted {doc['predicted_ms']:.2f} ms (<= {PIXEL1_TARGET_MS:g}), "
             f"supernet accuracy {doc['accuracy']:.3f}; files in {out / 'pixel1'} "
             f"(on a Pixel 1 over ADB, with TFLite's benchmark_model: edgelat deploy "
             f"{out / 'pixel1' / 'model_fp32.tflite'} --device pixel1 --benchmark-binary PATH; docs/devices/adb.md)")
    return doc
