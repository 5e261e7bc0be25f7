"""`edgelat demo --quick`: the whole loop of `make demo` (profile, calibrate with whole networks,
search, export, measure; then the Pixel 1 leg) in a smoke-sized run."""

import json
import re

import pytest

from edgelat.predictors import persistence
from edgelat.predictors.layerwise import LayerwisePredictor

from conftest import run_cli


def r_budget(out) -> float:
    return json.loads((out / "host" / "arch.json").read_text())["constraint"]["target_ms"]


@pytest.mark.slow
def test_quick_demo_runs_the_whole_loop(tmp_path):
    out, store = tmp_path / "demo", tmp_path / "demo.sqlite"
    res = run_cli("demo", "--quick", "--out", str(out), "--store", str(store),
                  env={"EDGELAT_CACHE_DIR": str(tmp_path / "cache")}, timeout=1500)
    assert res.returncode == 0, res.stderr[-3000:]
    line = next(ln for ln in res.stderr.splitlines() if ln.startswith("[7/7]"))
    predicted, block_sum, measured = map(float, re.findall(r"predicted ([\d.]+) ms .*block sum alone ([\d.]+) ms\), "
                                                           r"measured ([\d.]+) ms", line)[0])
    assert predicted > 0 and block_sum > 0 and measured > 0
    calibrated = persistence.load(out / "host-calibrated.json")
    assert isinstance(calibrated, LayerwisePredictor) and calibrated.n_train_ == 3 and calibrated.scale_ > 0
    for path in ("host/model_int8.tflite", "host/arch.json", "pixel1/model_fp32.tflite", "pixel1/arch.json"):
        assert (out / path).is_file(), path
    verification = json.loads((out / "host" / "arch.json").read_text())["verification"]
    assert 1 <= len(verification["rounds"]) <= 2 and verification["rounds"][0]["factor"] == 1.0
    assert verification["met_budget"] == any(r["measured_ms"] <= r_budget(out) for r in verification["rounds"])
    assert "Pixel 1:" in res.stderr and "predicted" in res.stderr
