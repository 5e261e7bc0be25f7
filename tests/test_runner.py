"""The host timing runner: real LiteRT in a worker that never imports TensorFlow."""

import json
import subprocess
import sys

import pytest

from edgelat.core.blockspec import BlockSpec
from edgelat.devices.backends.host import HostBackend
from edgelat.devices.catalog import get_device
from edgelat.devices.parsers import parse_litert_result
from edgelat.devices.runners import LITERT_TIMER_SCRIPT
from edgelat.profiler.cache import TFLiteCache
from edgelat.profiler.conversion_pool import ConversionPool

pytestmark = pytest.mark.slow  # starts runner processes and times


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    cache = TFLiteCache(tmp_path_factory.mktemp("cache"))
    specs = [BlockSpec(28, 16, 16, 6, 5, 1, 0, "relu6", "fp32"), BlockSpec(28, 16, 16, 6, 5, 1, 0, "relu6", "int8")]
    with ConversionPool(cache, workers=2) as pool:
        results = [f.result() for f in [pool.submit(s) for s in specs]]
    assert all(r.error is None for r in results)
    return [r.path for r in results]


def test_host_backend_times_fp32_and_int8(models):
    with HostBackend(get_device("host")) as backend:
        info = backend.info()
        assert info["runtime"] == "ai_edge_litert" and info["affinity"] == [0]
        for path in models:
            m = backend.measure(path, warmup=3, runs=30)
            assert m.ok, m.error
            s = m.stats
            assert m.runs == 30 and m.warmup == 3 and m.threads == 1
            assert 0 < s["min_ms"] <= s["p5_ms"] <= s["median_ms"] <= s["p95_ms"] <= s["max_ms"]
            assert s["cv"] == pytest.approx(s["std_ms"] / s["mean_ms"])


def test_worker_never_imports_tensorflow(models):
    res = subprocess.run([sys.executable, str(LITERT_TIMER_SCRIPT), str(models[0]), "--runs", "5"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["tensorflow_imported"] is False and out["ok"] is True
    assert parse_litert_result(res.stdout).latency_ms == out["stats"]["median_ms"]


def test_a_bad_model_fails_one_measurement_not_the_worker(tmp_path, models):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer at all" * 10)
    with HostBackend(get_device("host")) as backend:
        bad = backend.measure(junk, warmup=0, runs=1)
        assert not bad.ok and bad.error and bad.raw_output  # raw output kept, no latency
        with pytest.raises(ValueError):
            _ = bad.latency_ms
        assert backend.measure(models[0], warmup=1, runs=5).ok


@pytest.mark.parametrize(
    "line, needle",
    [
        ("garbage", "not JSON"),
        ('{"ok": false, "error": "boom"}', "boom"),
        ('{"ok": true}', "no 'stats'"),
        ('{"ok": true, "stats": {"median_ms": 0, "mean_ms": 0, "std_ms": 0, "p5_ms": 0, "p95_ms": 0, '
         '"min_ms": 0, "max_ms": 0, "cv": 0, "runs": 1, "warmup": 0, "threads": 1}}', "non-positive"),
        ('{"ok": true, "stats": {"median_ms": "fast"}}', "median_ms"),
    ],
)
def test_parser_never_invents_a_latency(line, needle):
    m = parse_litert_result(line)
    assert not m.ok and needle in m.error and m.raw_output == line


def test_cold_timing_reads_the_l2_sized_buffer_and_says_so(models):
    """--evict-bytes l2: every timed run starts after a sweep of the core's L2 (read from sysfs)."""
    out = subprocess.run([sys.executable, str(LITERT_TIMER_SCRIPT), str(models[0]), "--runs", "20", "--warmup", "2",
                          "--evict-bytes", "l2"], capture_output=True, text=True, timeout=120)
    doc = json.loads(out.stdout.splitlines()[-1])
    assert doc["ok"], doc
    l2 = doc["l2_bytes"]
    assert l2 and l2 >= 256 * 1024  # every x86/ARM core here has at least 256 KiB of L2
    assert doc["stats"]["evict_bytes"] == l2 and doc["stats"]["timing"] == f"cold-{l2}"
    plain = subprocess.run([sys.executable, str(LITERT_TIMER_SCRIPT), str(models[0]), "--runs", "20", "--warmup", "2"],
                           capture_output=True, text=True, timeout=120)
    assert json.loads(plain.stdout.splitlines()[-1])["stats"]["timing"] == "plain"


def test_context_timing_sweeps_the_given_bytes_and_counts_them_toward_min_time(models):
    """The command a Linux board runs for context timing (linux_board._evict_args): the sweep is the
    given size, the label says context, and with --min-time-ms the sweeps count, so a 16 MB sweep
    before each run of a tiny block does not take thousands of sweeps."""
    from edgelat.devices.backends.linux_board import _evict_args

    args = _evict_args(True, 16 * 2**20).split()
    assert args == ["--evict-bytes", str(16 * 2**20), "--timing-label", "context"]
    out = subprocess.run([sys.executable, str(LITERT_TIMER_SCRIPT), str(models[0]), "--runs", "5", "--warmup", "1",
                          "--min-time-ms", "300", *args], capture_output=True, text=True, timeout=120)
    stats = json.loads(out.stdout.splitlines()[-1])["stats"]
    assert stats["timing"] == f"context-{16 * 2**20}" and stats["evict_bytes"] == 16 * 2**20
    timed_ms = stats["runs"] * stats["mean_ms"]  # the sum of the timed runs
    assert stats["runs"] >= 5 and timed_ms < 300  # the sweeps filled the 300 ms, not the runs alone
    assert _evict_args(True, None).split() == ["--evict-bytes", "l2"] and _evict_args(False, 5) == ""
