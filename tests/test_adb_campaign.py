"""Whole campaigns over a real adbd on loopback: a Linux "board", faults mid-campaign, the Android path
(with the FAKE benchmark_model, as no phone exists here), hygiene and cleanup."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from adbd_daemon import FAKE_BENCHMARK, board_device_file, phone_device_file

from edgelat.devices.adb_transport import AdbTransport
from edgelat.devices.backends.android import AndroidBenchmarkBackend
from edgelat.devices.backends.linux_board import LinuxBoardBackend
from edgelat.devices.catalog import load_device_file
from edgelat.devices.hygiene import parse_snapshot

from conftest import run_cli

pytestmark = pytest.mark.slow  # starts adbd

BLOCK = "mbconv-i8-c8-o8-e3-k3-s1-se0-relu6"


def profile_args(device_file, store, ranges, cache, n):
    return ["profile", "--device-file", str(device_file), "--sample", "random", "--ranges", str(ranges),
            "--n", str(n), "--store", str(store), "--cache-dir", str(cache), "--runs", "5", "--warmup", "1",
            "--min-time-ms", "5", "--json"]


def rows(store):
    """Every row but the disturbed first measurements interference detection re-measured (a busy
    machine may have some; test_interference covers them)."""
    db = sqlite3.connect(store)
    try:
        sql = ("SELECT block_key, status, runtime, info, raw_output FROM measurements "
               "WHERE error IS NULL OR error NOT LIKE 'disturbed by other work:%' ORDER BY id")
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """One small fp32 block as .tflite (converted by the real converter in a subprocess)."""
    out = tmp_path_factory.mktemp("model") / f"{BLOCK}-fp32.tflite"
    code = ("import sys; from edgelat.core.blockspec import BlockSpec; from edgelat.core.convert import "
            "convert_block; open(sys.argv[2], 'wb').write(convert_block(BlockSpec.from_key(sys.argv[1])).data)")
    subprocess.run([sys.executable, "-c", code, f"{BLOCK}-fp32", str(out)], check=True, timeout=300)
    return out


def test_board_campaign_through_cli(adbd, tmp_path, tiny_ranges, cache_dir):
    work = tmp_path / "board-work"
    dev = board_device_file(tmp_path / "board.toml", adbd, work)
    store = tmp_path / "board.sqlite"
    res = run_cli(*profile_args(dev, store, tiny_ranges, cache_dir, 4))
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert (summary["measured"], summary["failed"]) == (4, 0)
    got = rows(store)
    assert len(got) == 4 and {r[1] for r in got} == {"ok"} and {r[2] for r in got} == {"ai_edge_litert"}
    info = json.loads(got[0][3])
    assert info["device_identity"]["uname"].startswith("Linux") and info["affinity"] == [0]
    assert info["throttled"] is None  # this VM has no thermal zones: unknown, not "clean"
    assert not (work / "models").exists() and not (work / "litert_timer.py").exists()  # cleaned up at the end
    again = json.loads(run_cli(*profile_args(dev, store, tiny_ranges, cache_dir, 4)).stdout)
    assert (again["already_done"], again["measured"]) == (4, 0)


def _wait_for_ok_rows(store: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if store.exists() and sum(r[1] == "ok" for r in rows(store)) >= n:
                return
        except sqlite3.OperationalError:  # the file exists but its schema is not written yet
            pass
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError("campaign made no progress")


def test_daemon_killed_mid_campaign_then_resumed(adbd, tmp_path, tiny_ranges, cache_dir):
    dev = board_device_file(tmp_path / "board.toml", adbd, tmp_path / "work")
    cmd = [sys.executable, "-m", "edgelat.cli", *profile_args(dev, tmp_path / "a.sqlite", tiny_ranges, cache_dir, 6)]
    env = {**os.environ}
    # 1) killed, restarted within the reconnect backoff: the same run goes on
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for_ok_rows(tmp_path / "a.sqlite", 2, proc)
    adbd.kill()
    time.sleep(1.0)
    adbd.start()
    out, errtext = proc.communicate(timeout=300)
    assert proc.returncode == 0, errtext
    got = rows(tmp_path / "a.sqlite")
    keys = [r[0] for r in got if r[1] == "ok"]
    assert len(keys) == 6 and len(set(keys)) == 6 and all(r[1] == "ok" for r in got)
    # 2) killed and not back: a clear stop after bounded reconnects; re-running resumes
    cmd_b = [sys.executable, "-m", "edgelat.cli", *profile_args(dev, tmp_path / "b.sqlite", tiny_ranges, cache_dir, 6)]
    proc = subprocess.Popen(cmd_b, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for_ok_rows(tmp_path / "b.sqlite", 2, proc)
    adbd.kill()
    _, errtext = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "unreachable" in errtext and "re-run the same command to resume" in errtext
    done_before = {r[0] for r in rows(tmp_path / "b.sqlite") if r[1] == "ok"}
    adbd.start()
    res = subprocess.run(cmd_b, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["already_done"] == len(done_before) and summary["measured"] == 6 - len(done_before)
    keys = [r[0] for r in rows(tmp_path / "b.sqlite") if r[1] == "ok"]
    assert len(keys) == 6 and len(set(keys)) == 6


def test_android_path_with_fake_benchmark_model(adbd, tmp_path, tiny_model):
    """The real push/checksum/taskset/flags/parse code through the real adbd; only benchmark_model is FAKE."""
    binary = tmp_path / "benchmark_model"
    shutil.copy(FAKE_BENCHMARK, binary)
    work = tmp_path / "phone-work"
    dev = load_device_file(phone_device_file(tmp_path / "dsp.toml", adbd, work, delegate="hexagon",
                                             benchmark_binary=str(binary), hexagon_lib_path="/vendor/lib/rfsa",
                                             dsp_clock_mhz=1190.0))
    with AndroidBenchmarkBackend(dev, op_profiling=True) as b:
        assert b.binary_pushed and os.access(work / "benchmark_model", os.X_OK)
        assert b.runtime_version.startswith("sha256:")
        m = b.measure(tiny_model, warmup=2, runs=7, min_time_ms=250)
        assert m.ok and m.runs == 640 and m.info["latency_stat"] == "avg"
        assert m.info["hexagon_total_cycles"] == 1798923
        assert m.info["hexagon_total_ms"] == pytest.approx(1798923 / 1190e3)
        assert m.info["device_identity"]["model"] == "edgelat loopback phone"  # the getprop stub
        echo = b.t.shell(b.command(b.remote_path(tiny_model), 2, 7, 250)).output
        for line in ("Num threads: [1]", "Min num runs: [7]", "Min warmup runs: [2]", "Min runs duration (seconds): "
                     "[0.25]", "Use Hexagon: [1]", "Hexagon lib path: [/vendor/lib/rfsa]", "Enable op profiling: [1]",
                     "Hexagon profiling: [1]", "FAKE affinity: 1"):
            assert line in echo
    with AndroidBenchmarkBackend(dev) as b:  # same binary: not pushed again
        assert not b.binary_pushed
    binary.write_text(binary.read_text() + "\n# changed\n")
    gpu = load_device_file(phone_device_file(tmp_path / "gpu.toml", adbd, work, delegate="gpu",
                                             benchmark_binary=str(binary)))
    with AndroidBenchmarkBackend(gpu) as b:
        assert b.binary_pushed  # checksum differs: pushed
        m = b.measure(tiny_model, warmup=1, runs=5)
        assert m.ok and m.latency_ms == pytest.approx(51.891) and m.info["latency_stat"] == "median"
        assert "Use gpu: [1]" in b.t.shell(b.command(b.remote_path(tiny_model), 1, 5, 0)).output
        for name, error in (("garbage", "no timed-run statistics"), ("fails", "exited with code 1")):
            bad = tmp_path / f"{name}.tflite"
            shutil.copy(tiny_model, bad)
            m = b.measure(bad, warmup=1, runs=5)
            assert not m.ok and error in m.error and m.raw_output.strip() and not m.stats
    assert not (work / "models").exists()


def test_hygiene_cooldown_and_throttle_flag(adbd, tmp_path, tiny_model):
    zones = tmp_path / "thermal"
    (zones / "thermal_zone0").mkdir(parents=True)
    (zones / "thermal_zone0" / "type").write_text("cpu-thermal\n")
    temp = zones / "thermal_zone0" / "temp"
    temp.write_text("91000\n")
    dev = load_device_file(board_device_file(tmp_path / "hot.toml", adbd, tmp_path / "w", thermal_path=str(zones),
                                             thermal_limit_c=80.0, cooldown_s=1.0))
    with LinuxBoardBackend(dev) as b:
        m = b.measure(tiny_model, warmup=1, runs=3)  # stays hot: waits, measures, repeats once, then flags
        assert m.ok and m.info["throttled"] is True and m.info["attempts"] == 2
        assert m.info["cooldown_wait_s"] == pytest.approx(2.0) and "91.0 C > thermal_limit_c 80" in m.info[
            "throttled_reason"]
        assert m.info["before"]["temps_c"] == {"cpu-thermal": 91.0}
        threading.Timer(1.0, lambda: temp.write_text("45000\n")).start()
        b.device = dev = dev.__class__(**{**dev.to_dict(), "cooldown_s": 6.0})
        b.hygiene.device = dev
        m = b.measure(tiny_model, warmup=1, runs=3)  # cools during the wait: clean
        assert m.ok and m.info["throttled"] is False and m.info["attempts"] == 1
        assert 0 < m.info["cooldown_wait_s"] <= 6 and m.info["after"]["temps_c"] == {"cpu-thermal": 45.0}


def test_snapshot_parsing_and_frequency_capping():
    snap = parse_snapshot("T cpu-thermal 48500\nT gpu 39\nT cpu-thermal 50000\nT bad x\n"
                          "F 4 1804800 1804800 2419200\nF 5 2419200 2419200 2419200\nF 6   \n")
    assert snap.temps_c == {"cpu-thermal": 48.5, "gpu": 39.0, "cpu-thermal#2": 50.0}
    assert snap.capped_cpus() == [4] and snap.hottest_c == 50.0 and 6 not in snap.cur_khz


def test_adb_device_without_address_or_binary(tmp_path):
    from edgelat.devices.backends import open_backend
    from edgelat.errors import DeviceFileError

    f = tmp_path / "p.toml"
    f.write_text('name = "p"\nkind = "phone"\ntransport = "adb"\nruntime = "benchmark_model"\n')
    with pytest.raises(DeviceFileError, match="benchmark_binary.*--benchmark-binary"):
        open_backend(load_device_file(f))
    f.write_text('name = "b"\nkind = "edge-cpu"\ntransport = "adb"\nruntime = "litert"\n')
    with pytest.raises(DeviceFileError, match="'address'"):
        open_backend(load_device_file(f))
    f.write_text('name = "b"\nkind = "dsp"\ntransport = "adb"\nruntime = "litert"\ndelegate = "hexagon"\n')
    with pytest.raises(DeviceFileError, match="'delegate'"):
        load_device_file(f)
    f.write_text('name = "b"\nkind = "dsp"\ntransport = "adb"\nruntime = "benchmark_model"\ndsp_clock_mhz = 0\n')
    with pytest.raises(DeviceFileError, match="'dsp_clock_mhz': must be > 0"):
        load_device_file(f)


def test_transport_reuses_connection_for_many_calls(adbd):
    with AdbTransport(adbd.address) as t:
        for i in range(5):
            assert t.shell(f"echo {i}").output == f"{i}\n"
        assert t.reconnects == 0

