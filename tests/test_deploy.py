"""`edgelat deploy` on the host, on the loopback adbd as a Linux board, and as a phone with the FAKE benchmark_model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from adbd_daemon import board_device_file, phone_device_file

from conftest import run_cli

pytestmark = pytest.mark.slow  # converts and times networks

BLOCK = "mbconv-i8-c8-o8-e3-k3-s1-se0-relu6"
FAST = ("--runs", "5", "--warmup", "1", "--min-time-ms", "5", "--pass-gap-s", "0")  # 3 passes (the default)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """The same small block as fp32 and int8 .tflite, in a folder of its own (real conversions)."""
    root = tmp_path_factory.mktemp("deploy")
    code = ("import sys; from edgelat.core.blockspec import BlockSpec; from edgelat.core.convert import "
            "convert_block\nfor key, out in zip(sys.argv[1::2], sys.argv[2::2]):\n"
            "    open(out, 'wb').write(convert_block(BlockSpec.from_key(key)).data)")
    paths = {dt: root / dt / f"{BLOCK}-{dt}.tflite" for dt in ("fp32", "int8")}
    for p in paths.values():
        p.parent.mkdir()
    args = [a for dt, p in paths.items() for a in (f"{BLOCK}-{dt}", str(p))]
    subprocess.run([sys.executable, "-c", code, *args], check=True, timeout=300)
    return paths


def deploy_json(*args: str) -> tuple[dict, str]:
    res = run_cli("deploy", *args, *FAST, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout), res.stderr


def test_deploy_on_host_with_sidecar_and_fp32_agreement(models):
    int8 = models["int8"]
    sidecar = int8.with_suffix(".json")
    sidecar.write_text(json.dumps({"predicted_ms": 0.05, "device": "pixel4"}))
    try:
        r, stderr = deploy_json(str(int8), "--device", "host", "--compare-fp32", str(models["fp32"]), "--samples", "8")
    finally:
        sidecar.unlink()
    assert r["device"] == "host" and r["measured_ms"] > 0 and r["predicted_ms"] == 0.05
    assert r["error_pct"] == pytest.approx((0.05 - r["measured_ms"]) / r["measured_ms"] * 100)
    assert len(r["passes_ms"]) == 3 and r["measured_ms"] == min(r["passes_ms"])  # the fastest pass counts
    assert "prediction is for device 'pixel4', not 'host'" in stderr
    a = r["fp32_agreement"]
    assert a["samples"] == 8 and 0 <= a["top1_agreement"] <= 1 and a["mean_cosine"] > 0.9


def test_deploy_sidecar_lookup_order(models, tmp_path):
    fp32 = models["fp32"]
    (fp32.parent / "arch.json").write_text(json.dumps({"predicted_ms": 1.5, "device": "host"}))
    try:
        r, stderr = deploy_json(str(fp32), "--device", "host")
        assert r["predicted_ms"] == 1.5 and r["sidecar"].endswith("arch.json") and "warning" not in stderr
        fp32.with_suffix(".json").write_text(json.dumps({"predicted_ms": "fast"}))  # the model's own comes first
        r, stderr = deploy_json(str(fp32), "--device", "host")
        assert r["predicted_ms"] is None and r["error_pct"] is None and "not a positive number" in stderr
    finally:
        (fp32.parent / "arch.json").unlink()
        fp32.with_suffix(".json").unlink(missing_ok=True)
    res = run_cli("deploy", str(fp32), "--device", "host", *FAST)  # human output, no sidecar
    assert res.returncode == 0 and "host: measured" in res.stdout and "predicted" not in res.stdout
    bad = run_cli("deploy", str(tmp_path / "nope.tflite"), "--device", "host")
    assert bad.returncode == 2 and "not a .tflite file" in bad.stderr
    one = run_cli("deploy", str(fp32), "--device", "host", *FAST, "--passes", "1")
    assert one.returncode == 0 and "passes" not in one.stdout
    three = run_cli("deploy", str(fp32), "--device", "host", *FAST)
    assert three.returncode == 0 and "the fastest of 3 passes: " in three.stdout
    for bad_args in (("--passes", "0"), ("--pass-gap-s", "-1")):
        bad = run_cli("deploy", str(fp32), "--device", "host", *FAST, *bad_args)
        assert bad.returncode == 2 and "--passes must be >= 1 and --pass-gap-s" in bad.stderr


def test_deploy_says_whether_the_measurement_fell_inside_the_predicted_interval(models):
    fp32 = models["fp32"]
    sidecar = fp32.with_suffix(".json")
    try:
        for band, inside in (([1e-6, 1e6], True), ([1e-6, 2e-6], False)):
            sidecar.write_text(json.dumps({"predicted_ms": 1e-3, "predicted_interval_ms": band, "interval_level": 0.9}))
            r, _ = deploy_json(str(fp32), "--device", "host")
            assert r["within_interval"] is inside and r["predicted_interval_ms"] == band
        res = run_cli("deploy", str(fp32), "--device", "host", *FAST)
        assert "OUTSIDE the predicted 90% interval" in res.stdout
        sidecar.write_text(json.dumps({"predicted_ms": 1.0, "predicted_interval_ms": [2, 1]}))
        bad = run_cli("deploy", str(fp32), "--device", "host", *FAST)
        assert bad.returncode == 2 and "field 'predicted_interval_ms'" in bad.stderr
    finally:
        sidecar.unlink(missing_ok=True)


def test_deploy_on_loopback_board_and_fake_phone(adbd, models, tmp_path):
    board = board_device_file(tmp_path / "board.toml", adbd, tmp_path / "bw")
    r, _ = deploy_json(str(models["int8"]), "--device-file", str(board), "--compare-fp32", str(models["fp32"]),
                       "--samples", "4")
    assert r["device"] == "loopback-board" and r["runtime"] == "ai_edge_litert" and r["measured_ms"] > 0
    assert r["fp32_agreement"]["samples"] == 4 and r["backend"]["target"] == adbd.address
    assert not (tmp_path / "bw" / "models").exists()
    phone = phone_device_file(tmp_path / "dsp.toml", adbd, tmp_path / "pw", delegate="hexagon", dsp_clock_mhz=1000)
    r, _ = deploy_json(str(models["int8"]), "--device-file", str(phone), "--op-profiling")
    assert r["runtime"] == "benchmark_model" and r["measured_ms"] == pytest.approx(1.5604)
    assert r["latency_stat"] == "avg" and r["hexagon_total_ms"] == pytest.approx(1.798923)
    res = run_cli("deploy", str(models["int8"]), "--device-file", str(phone), "--compare-fp32", str(models["fp32"]))
    assert res.returncode == 2 and "Linux boards and the host" in res.stderr


def test_sidecar_round_trip_and_errors(tmp_path):
    """The search's writer and deploy's reader share one format; a bad sidecar is a DataError."""
    from edgelat.devices.sidecar import read_sidecar, write_sidecar
    from edgelat.errors import DataError

    model = tmp_path / "model_int8.tflite"
    assert read_sidecar(model) == (None, {})
    path = write_sidecar(model, "single-path:0123", "pixel1", "int8", None, "the search predicted the fp32 model only")
    assert path == tmp_path / "model_int8.json"
    assert read_sidecar(model) == (path, {"arch": "single-path:0123", "device": "pixel1", "dtype": "int8",
                                          "predicted_ms": None, "note": "the search predicted the fp32 model only"})
    path.write_text("[1]")
    with pytest.raises(DataError, match="must be a JSON object"):
        read_sidecar(model)
