"""`edgelat fit / evaluate / predict` through the real command, on the shipped tables."""

import json
from pathlib import Path

import numpy as np
import pytest

from edgelat.core.spaces import get_space
from edgelat.predictors import persistence
from edgelat.predictors.datasets import load_networks
from edgelat.predictors.layerwise import LayerwisePredictor

from conftest import run_cli

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.slow
def test_fit_linear_prints_named_coefficients_and_evaluate_json(tmp_path):
    model = tmp_path / "lin.json"
    res = run_cli("fit", "--table", str(DATA / "pixel1_mbconv.csv"), "--kind", "linear", "--cv", "3",
                  "-o", str(model))
    assert res.returncode == 0, res.stderr
    assert "macs_dw" in res.stdout and "intercept" in res.stdout and "3-fold CV" in res.stdout
    doc = json.loads(model.read_text())
    assert doc["metadata"]["training_size"] == 1788 and 0.8 < doc["metadata"]["cv"]["acc10"] <= 1
    assert doc["schema"]["version"] == 1 and doc["kind"] == "linear"
    plot = tmp_path / "pvm.png"
    ev = run_cli("evaluate", "--predictor", str(model), "--table", str(DATA / "pixel4_mbconv.csv"), "--json",
                 "--plot", str(plot))
    assert ev.returncode == 0, ev.stderr
    report = json.loads(ev.stdout)
    assert set(report) == {"n", "rmse_ms", "mape", "acc5", "acc10", "kendall", "spearman", "interval_level",
                           "interval_coverage", "interval_width", "interval_width_ms_median"}
    assert report["interval_coverage"] < 0.05  # the Pixel 1 interval does not hold on another phone
    assert report["n"] == 1788 and report["acc10"] < 0.05  # a Pixel 1 model is ~2x slow for a Pixel 4
    assert report["spearman"] > 0.98 and plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_transfer_and_predict_block(tmp_path):
    src, k10, adapted = tmp_path / "src.json", tmp_path / "k10.csv", tmp_path / "adapted.json"
    assert run_cli("fit", "--table", str(DATA / "pixel1_mbconv.csv"), "--kind", "gbdt", "--cv", "0",
                   "-o", str(src)).returncode == 0
    lines = (DATA / "pixel4_mbconv.csv").read_text().splitlines()
    k10.write_text("\n".join([lines[0], *lines[1:1700:170]]) + "\n")
    res = run_cli("fit", "--table", str(k10), "--kind", "transfer", "--source", str(src), "--cv", "0",
                  "-o", str(adapted))
    assert res.returncode == 0, res.stderr
    ev = json.loads(run_cli("evaluate", "--predictor", str(adapted), "--table", str(DATA / "pixel4_mbconv.csv"),
                            "--json").stdout)
    assert ev["acc10"] > 0.9
    key = "mbconv-i28-c24-o24-e6-k5-s1-se1-hswish-fp32"
    out = json.loads(run_cli("predict", "--predictor", str(adapted), "--block", key, "--json").stdout)
    assert out["block"] == key and 0.05 < out["latency_ms"] < 20


@pytest.mark.slow
def test_network_lut_with_prior_and_arch_prediction(tmp_path):
    model = tmp_path / "ph1.json"
    res = run_cli("fit", "--table", str(DATA / "fbnet_5000_networks.csv"), "--space", "fbnet", "--target",
                  "essential_ph_1_ms", "--kind", "lut", "--prior", "flops", "--cv", "3", "-o", str(model),
                  "--json")
    assert res.returncode == 0, res.stderr
    fitted = json.loads(res.stdout)
    assert fitted["kind"] == "layerwise" and fitted["cv"]["spearman"] > 0.6 and fitted["scale"] > 0
    arch = "fbnet:" + "3" * 22
    out = json.loads(run_cli("predict", "--predictor", str(model), "--arch", arch, "--json").stdout)
    assert 5 < out["latency_ms"] < 200


@pytest.mark.slow
def test_arch_prediction_says_whether_fixed_parts_are_included(tmp_path):
    lut, lin = tmp_path / "lut.json", tmp_path / "lin.json"
    assert run_cli("fit", "--table", str(DATA / "pixel1_proxylessnas_lut.yaml"), "--kind", "lut",
                   "-o", str(lut)).returncode == 0
    assert run_cli("fit", "--table", str(DATA / "pixel1_mbconv.csv"), "--kind", "linear", "--cv", "0",
                   "-o", str(lin)).returncode == 0
    arch = "single-path:" + "0" * 22
    full = json.loads(run_cli("predict", "--predictor", str(lut), "--arch", arch, "--json").stdout)
    assert full["latency_ms"] == pytest.approx(78.3, abs=0.1)
    assert full["notes"] == ["no interval: the model was fitted without cross-validation"]  # a LUT cannot be CVed
    blocks_only = json.loads(run_cli("predict", "--predictor", str(lin), "--arch", arch, "--json").stdout)
    assert blocks_only["latency_ms"] > 0 and "blocks only" in blocks_only["notes"][0]


def test_layerwise_lut_recovers_an_exact_lut_sum():
    space = get_space("fbnet")
    nets = load_networks(DATA / "fbnet_5000_networks.csv", space, "pixel3_ms")  # a per-block LUT sum
    model = LayerwisePredictor(space="fbnet").fit(nets.archs[:1500], nets.y[:1500])
    pred = model.predict(nets.archs[1500:])
    assert np.max(np.abs(pred / nets.y[1500:] - 1)) < 0.01
    again = persistence.from_document(persistence.to_document(model))
    np.testing.assert_allclose(again.predict(nets.archs[:20]), model.predict(nets.archs[:20]))


@pytest.mark.parametrize(
    "args, needle",
    [
        (["fit", "--table", "nope.csv", "--kind", "linear", "-o", "m.json"], "nope.csv: no such file"),
        (["fit", "--table", str(DATA / "pixel1_mbconv.csv"), "--kind", "transfer", "-o", "m.json"], "--source"),
        (["fit", "--table", str(DATA / "fbnet_5000_networks.csv"), "--kind", "linear", "-o", "m.json"],
         "whole-network table"),
        (["fit", "--table", str(DATA / "fbnet_5000_networks.csv"), "--space", "fbnet", "--target", "pixel9_ms",
          "--kind", "lut", "-o", "m.json"], "no column 'pixel9_ms'"),
        (["predict", "--predictor", "missing.json", "--block", "x"], "missing.json"),
        (["fit", "--table", str(DATA / "pixel1_mbconv.csv"), "--kind", "linear", "--cv", "1", "-o", "m.json"],
         "--cv must be 0"),
    ],
)
def test_predictor_cli_errors_are_one_line(tmp_path, args, needle):
    res = run_cli(*args)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in res.stderr
