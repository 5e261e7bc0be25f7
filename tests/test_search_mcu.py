"""Memory-constrained search on MCUs: the cycle-model estimate as latency model, peak SRAM and flash
as hard limits, and TFLM's exact report on the exported int8 model. Real estimators, real TF and TFLM."""

import json

import numpy as np
import pytest

from edgelat.core.space_file import load_space_file
from edgelat.core.spaces import get_space
from edgelat.devices.catalog import get_device
from edgelat.devices.mcu.tflm import mcu_report
from edgelat.predictors.mcu import McuPredictor
from edgelat.search.workflow import SearchOptions, run_search

from conftest import run_cli

pytestmark = pytest.mark.slow  # searches with the TFLite-Micro simulator

RES, WIDTH = 96, 0.35  # an MCUNet-like setting: small input, narrow network


@pytest.fixture(scope="module")
def binding_limits():
    """Limits at the median of random architectures: each one alone rules out about half of them."""
    space = get_space("single-path", RES, WIDTH, num_classes=10)
    est = McuPredictor(space, get_device("stm32f746"))
    archs = space.random(400, seed=7)
    lat, sram, flash = est.predict(archs), est.sram(archs), est.flash(archs)
    limits = {"target_ms": float(np.median(lat)), "sram": int(np.median(sram)), "flash": int(np.median(flash))}
    for values, limit in ((lat, limits["target_ms"]), (sram, limits["sram"]), (flash, limits["flash"])):
        assert 0.3 < np.mean(values > limit) < 0.7  # the limit binds
    ok = (lat <= limits["target_ms"]) & (sram <= limits["sram"]) & (flash <= limits["flash"])
    assert 0 < ok.mean() < 0.3  # together they rule out most of the space, not all of it
    return space, est, limits


@pytest.fixture(scope="module")
def supernet_cache(tmp_path_factory):
    """One cache for the module: the 1-epoch supernet is trained once."""
    return tmp_path_factory.mktemp("supernet-cache")


@pytest.mark.parametrize("strategy", ["random", "anneal"])
def test_mcu_search_never_exceeds_any_limit(strategy, binding_limits, supernet_cache, tmp_path, monkeypatch):
    """Every limit binds on about half of the space; the chosen networks (method and random baseline) meet them all."""
    monkeypatch.setenv("EDGELAT_CACHE_DIR", str(supernet_cache))
    space, est, lim = binding_limits
    opts = SearchOptions(space="single-path", device="stm32f746", target_ms=lim["target_ms"], strategy=strategy,
                         accuracy="supernet", resolution=RES, width=WIDTH, out=str(tmp_path / "out"), evaluations=24,
                         chains=4, supernet_epochs=1, ri_samples=2, max_sram=f"{lim['sram']}B",
                         max_flash=f"{lim['flash']}B", export=False)
    doc = run_search(opts)
    assert doc["constraint"] == {"target_ms": lim["target_ms"], "mode": "hard", "peak_SRAM_max": lim["sram"],
                                 "flash_max": lim["flash"]}
    assert doc["predictor"] == "mcu-cycle-model (estimate)" and doc["memory"]["estimated"]
    chosen = [doc["arch"]] + ([doc["random_baseline"]["arch"]] if doc["random_baseline"] else [])
    for text in chosen:
        arch = space.decode(text)[None]
        assert est.predict(arch)[0] <= lim["target_ms"]
        assert est.sram(arch)[0] <= lim["sram"] and est.flash(arch)[0] <= lim["flash"]
    arch = space.decode(doc["arch"])[None]
    assert doc["predicted_ms"] == pytest.approx(est.predict(arch)[0])
    assert doc["memory"]["peak_sram_bytes"] == est.sram(arch)[0] and doc["memory"]["flash_bytes"] == est.flash(arch)[0]
    assert doc["relative_improvement"]["method"] > 0.1  # a real top-1 on the digits test split (10 classes)


@pytest.mark.parametrize("strategy", ["random", "anneal"])
def test_limits_nothing_meets_are_one_line_with_exit_code_2(strategy, tmp_path):
    res = run_cli("search", "--device", "stm32f746", "--target-ms", "10000", "--max-sram", "64KB", "--max-flash",
                  "1MB", "--resolution", str(RES), "--width", str(WIDTH), "--strategy", strategy, "--accuracy",
                  "params", "--evaluations", "4", "--no-export", "--out", str(tmp_path / "out"),
                  env={"EDGELAT_CACHE_DIR": str(tmp_path / "cache")})
    assert res.returncode == 2, res.stderr[-2000:]
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("edgelat: error:")]
    assert len(errors) == 1 and "Traceback" not in res.stderr
    line = errors[0]
    assert "no architecture found" in line and "peak SRAM <= 65536 B" in line and "flash <= 1048576 B" in line
    assert "per-layer minimum peak SRAM is" in line  # says how far off the space is


ONE_ARCH = """\
name: one
resolution: 64
stem: {channels: 16, stride: 2}
stages:
  - {channels: 16, layers: 1, stride: 1, choices: [k3_e1]}
  - {channels: 24, layers: 2, stride: 2, choices: [k3_e6]}
  - {channels: 40, layers: 2, stride: 2, choices: [k5_e6]}
head: 128
"""


def test_exported_model_over_the_exact_arena_is_one_line_with_bytes(tmp_path):
    """A space with a single architecture and --max-sram at its estimate: the search accepts it, the exact
    TFLM arena of the exported int8 model is larger (the estimate runs 0.2-5.4 % low), so the command stops
    with one DoesNotFitError line giving the required and available bytes, and keeps its files."""
    path = tmp_path / "one.yaml"
    path.write_text(ONE_ARCH)
    space = load_space_file(path, num_classes=10)
    dev = get_device("stm32f746")
    est = McuPredictor(space, dev).estimate(np.zeros(len(space.layers), np.int64))
    out = tmp_path / "out"
    res = run_cli("search", "--space", str(path), "--device", "stm32f746", "--target-ms", "1000", "--max-sram",
                  f"{est.peak_sram_bytes}B", "--strategy", "random", "--accuracy", "params", "--evaluations", "1",
                  "--ri-samples", "0", "--out", str(out), env={"EDGELAT_CACHE_DIR": str(tmp_path / "cache")})
    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("edgelat: error:")]
    assert len(errors) == 1
    exact = mcu_report(out / "model_int8.tflite", dev)
    assert exact.peak_sram_bytes > est.peak_sram_bytes
    assert (f"does not fit on stm32f746: the exported model_int8.tflite needs peak SRAM {exact.peak_sram_bytes} "
            f"bytes > {est.peak_sram_bytes} available") in errors[0]
    assert "flash" not in errors[0].split("(")[0]  # flash fits the device's 1 MB: not named as a failure
    doc = json.loads((out / "arch.json").read_text())
    assert doc["memory"]["fits"] is False and doc["memory"]["exact_peak_sram_bytes"] == exact.peak_sram_bytes
    # The same model within the device's own 320 KB fits: no message.
    assert exact.fits and exact.not_fit_message() == ""


def test_a_search_pressed_against_flash_searches_again_until_the_exact_figures_fit(tmp_path):
    """Maximising parameters under 1 MB of flash drives the search to its estimate's edge, where the
    exact int8 file is a few % larger: the chosen network is converted and checked by TFLM before
    export, the flash limit tightened by estimate/exact, and the search run again until it fits."""
    out = tmp_path / "out"
    res = run_cli("search", "--device", "stm32f746", "--resolution", str(RES), "--width", str(WIDTH), "--target-ms",
                  "300", "--max-flash", "1MB", "--accuracy", "params", "--ri-samples", "2", "--out", str(out),
                  "--seed", "0", env={"EDGELAT_CACHE_DIR": str(tmp_path / "cache")})
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads((out / "arch.json").read_text())
    rounds = doc["memory_rounds"]
    assert rounds[0]["broken"] == ["flash"] and rounds[0]["exact_bytes"]["flash"] > 1 << 20
    assert rounds[-1]["broken"] == [] and rounds[-1]["arch"] == doc["arch"] and 2 <= len(rounds) <= 3
    # the check before export draws every weight at random, as training leaves them; the exported file
    # here is untrained (--final-eval none), whose equal zero biases the converter stores once
    checked, exported = rounds[-1]["exact_bytes"], doc["memory"]
    assert exported["exact_flash_bytes"] <= checked["flash"] <= 1 << 20
    assert checked["flash"] < 1.02 * exported["exact_flash_bytes"]
    assert checked["peak SRAM"] == pytest.approx(exported["exact_peak_sram_bytes"], rel=0.01)
    assert doc["constraint"]["flash_max"] == 1 << 20 and doc["memory"]["fits"]
    assert "the limit is tightened by estimate/exact" in res.stderr
