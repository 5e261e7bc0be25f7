"""The farm's parts that need no cluster: discovery, the CPU gate, the spread report, the CLI's errors."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from edgelat.core.blockspec import BlockSpec
from edgelat.devices.discovery import discover_units, node_resources
from edgelat.devices.measurement import Measurement
from edgelat.errors import DeviceFileError
from edgelat.profiler.farm import cpu_gate
from edgelat.profiler.store import Store

from conftest import run_cli

KEYS = ["mbconv-i8-c8-o8-e3-k3-s1-se0-relu6-fp32", "mbconv-i16-c8-o16-e6-k5-s2-se1-hswish-fp32"]


def test_discovery_units_resources_and_absent_devices(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    up = f"127.0.0.1:{listener.getsockname()[1]}"
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        down = f"127.0.0.1:{probe.getsockname()[1]}"
    farm = tmp_path / "farm.toml"
    farm.write_text(f'node = "rack1"\n[[unit]]\ndevice = "raspi4"\naddress = "{up}"\n'
                    f'[[unit]]\ndevice = "raspi4"\naddress = "{down}"\n')
    warnings = []
    try:
        units = discover_units(farm, warn=warnings.append)
    finally:
        listener.close()
    assert [u.uid for u in units] == ["host@rack1:cpu0x1", f"raspi4@rack1:{up}"]
    assert units[1].device.address == up and units[1].host_cpus == [] and units[0].host_cpus == [0]
    assert len(warnings) == 1 and down in warnings[0] and "does not answer" in warnings[0]
    assert node_resources(units) == {"device:host": 1, "unit:host@rack1:cpu0x1": 1, "device:raspi4": 1,
                                     f"unit:raspi4@rack1:{up}": 1}


@pytest.mark.parametrize(("text", "message"), [
    ('[[unit]]\ndevice = "host"\ndevice_file = "x.toml"\n', "field 'unit[0]': give exactly one of"),
    ('[[unit]]\ndevice = "host"\nspeed = "fast"\n', "field 'unit[0].speed': unknown field"),
    ("host_cpu = 1\n", "field 'host_cpu': expected bool"),
    ('[[unit]]\ndevice = "nosuch"\n', "unknown device 'nosuch'"),
    ('host_cpu = false\n[[unit]]\ndevice = "host"\n[[unit]]\ndevice = "host"\n', "two units with the same id"),
])
def test_bad_farm_file_is_one_line_error_naming_file_and_field(tmp_path, text, message):
    farm = tmp_path / "farm.toml"
    farm.write_text(text)
    with pytest.raises(DeviceFileError, match=re.escape(message)) as info:
        discover_units(farm)
    assert str(info.value).startswith(f"{farm}: ") and "\n" not in str(info.value)


_CONVERTER = """
import sys, time
from edgelat.profiler.farm import cpu_gate
t0 = time.monotonic()
with cpu_gate.converting() as cpu:
    import os
    print(cpu, sorted(os.sched_getaffinity(0)), round(time.monotonic() - t0, 3), flush=True)
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_cpu_gate_keeps_converters_off_timed_cpus(tmp_path, monkeypatch):
    monkeypatch.setenv(cpu_gate.GATE_ENV, str(tmp_path))
    cpus = sorted(os.sched_getaffinity(0))

    def converter() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", _CONVERTER], stdout=subprocess.PIPE, text=True)

    with cpu_gate.timing([cpus[0]]):  # one CPU timed: a converter runs, pinned to another one
        cpu, affinity, _ = converter().communicate(timeout=60)[0].split(" ", 2)
        assert int(cpu) != cpus[0] and json.loads(affinity) == [int(cpu)]
    with cpu_gate.timing(cpus):  # every CPU timed: the converter waits until the timing ends
        proc = converter()
        time.sleep(1.0)
        assert proc.poll() is None
    cpu, _, waited = proc.communicate(timeout=60)[0].split(" ", 2)
    assert float(waited) >= 0.5


def test_report_shows_unit_to_unit_spread(tmp_path):
    store_path = tmp_path / "s.sqlite"
    latencies = {"pixel4@a:X1": [1.0, 2.0], "pixel4@b:X2": [1.1, 2.0], "pixel4@b:X3": [0.9, None]}
    with Store(store_path) as store:
        for unit, values in latencies.items():
            for key, ms in zip(KEYS, values, strict=True):
                m = (Measurement(ok=True, stats={"median_ms": ms}, runs=5, threads=1) if ms is not None
                     else Measurement.failed("runner died", "raw", threads=1))
                store.add("pixel4", BlockSpec.from_key(key), m, "litert", "2.3", unit)
    res = run_cli("report", str(store_path), "--json")
    assert res.returncode == 0, res.stderr
    (g,) = json.loads(res.stdout)
    assert (g["blocks"], g["failed_rows"], g["units"]) == (2, 1, {"pixel4@a:X1": 2, "pixel4@b:X2": 2,
                                                                   "pixel4@b:X3": 1})
    sp = g["spread"]
    assert sp["shared_blocks"] == 2
    assert sp["max_spread"] == pytest.approx(0.2) and sp["median_spread"] == pytest.approx(0.1)
    assert sp["units"]["pixel4@b:X2"]["median_deviation"] == pytest.approx(0.05)  # +10% and 0%
    assert sp["units"]["pixel4@b:X3"]["median_deviation"] == pytest.approx(-0.1)
    text = run_cli("report", str(store_path)).stdout
    assert "median 10.0%, max 20.0%" in text and "-10.0%" in text


def test_cluster_errors_are_one_line(tmp_path, tiny_ranges):
    base = ["profile", "--sample", "random", "--ranges", str(tiny_ranges), "--n", "1", "--store",
            str(tmp_path / "s.sqlite")]
    code = ("import sys; sys.modules['ray'] = None; from edgelat.cli import main; "
            f"sys.exit(main({[*base, '--cluster', 'auto']!r}))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "pip install 'edgelat[farm]'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = run_cli(*base, "--replicate", "2")
    assert res.returncode == 2 and "--replicate needs --cluster" in res.stderr
    res = run_cli(*base, "--cluster", "auto", "--ssh", "pi@board")
    assert res.returncode == 2 and "through each node's farm file" in res.stderr
    res = run_cli(*base, "--cluster", "nowhere")
    assert res.returncode == 2 and "expected 'auto', 'ray://HOST:PORT'" in res.stderr
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    res = run_cli(*base, "--cluster", f"ray://{address}")
    assert res.returncode == 2 and f"nothing answers at {address}" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
