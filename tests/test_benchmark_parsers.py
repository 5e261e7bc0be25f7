"""benchmark_model parsers against real public outputs (tests/fixtures/benchmark_model/README.md has the origins)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgelat.devices.backends.android import benchmark_flags
from edgelat.devices.benchmark_parsers import parse_benchmark_output, parse_op_tables
from edgelat.devices.catalog import parse_device

FIX = Path(__file__).parent / "fixtures" / "benchmark_model"


def parse(name, **kw):
    return parse_benchmark_output((FIX / name).read_text(), **kw)


def test_newer_build_with_percentiles_and_info_prefixes():
    m = parse("android_aarch64_p5_median_p95.txt", threads=4, warmup=5)
    assert m.ok and m.runs == 1000 and m.info["latency_stat"] == "median"
    assert m.stats == pytest.approx({"median_ms": 51.891, "mean_ms": 63.7432, "std_ms": 60.716, "p5_ms": 49.62,
                                     "p95_ms": 68.628, "min_ms": 49.088, "max_ms": 686.105, "cv": 60716 / 63743.2})
    assert m.info["init_ms"] == pytest.approx(119.515) and m.info["first_inference_ms"] == pytest.approx(87.112)
    assert m.info["peak_memory_mb"] == {"init": 55.4961, "overall": 55.4961}


def test_count_line_without_percentiles_uses_the_mean_and_says_so():
    m = parse("riscv64_op_profiling.txt")
    assert m.ok and m.runs == 50 and m.info["latency_stat"] == "avg"
    assert m.latency_ms == pytest.approx(2950.34) and m.stats["max_ms"] == pytest.approx(3189.954)
    assert "p5_ms" not in m.stats and "p95_ms" not in m.stats  # absent stays absent, never guessed
    assert m.info["warmup_avg_ms"] == pytest.approx(3512.39)


def test_peak_memory_line():
    m = parse("yolov5s_peak_memory.txt")
    assert m.ok and m.latency_ms == pytest.approx(249.684) and m.stats["std_ms"] == pytest.approx(1.442)
    assert m.info["peak_memory_mb"] == {"init": 4.92969, "overall": 138.809}


def test_legacy_summary_forms():
    m = parse("legacy_no_stats.txt")
    assert m.ok and m.runs == 50 and m.latency_ms == pytest.approx(747.733)
    assert m.info["init_ms"] == pytest.approx(21.039) and m.info["warmup_avg_ms"] == pytest.approx(751.932)
    m = parse("tf_readme_legacy_profile.txt")  # no top-level count line: the legacy line is the only figure
    assert m.ok and m.latency_ms == pytest.approx(79.7609) and m.runs == 0 and "std_ms" not in m.stats
    assert m.info["op_profile"]["by_node_type"][0] == {"type": "CONV_2D", "count": 15.0, "avg_ms": 1.406,
                                                       "pct": 89.27}


def test_op_profiling_tables():
    tables = parse_op_tables((FIX / "riscv64_op_profiling.txt").read_text())
    titles = [(t.section, t.title, len(t.rows)) for t in tables]
    assert titles == [("init", "Run Order", 1), ("init", "Top by Computation Time", 1),
                      ("init", "Summary by node type", 1), ("runs", "Run Order", 31),
                      ("runs", "Top by Computation Time", 10), ("runs", "Summary by node type", 5)]
    run_order = tables[3]
    assert run_order.rows[0]["node type"] == "CONV_2D" and run_order.rows[0]["avg ms"] == pytest.approx(60.957)
    assert run_order.rows[-1]["name"] == "[MobilenetV1/Predictions/Reshape_1]:30"
    total = sum(r["avg ms"] for r in tables[5].rows)
    assert total == pytest.approx(2949.889)


def test_hexagon_profile_cycles_to_ms():
    m = parse("hexagon_profile_CONSTRUCTED.txt", hexagon=True, dsp_clock_mhz=1190.0)
    ops = m.info["hexagon_ops"]
    assert [o["op"] for o in ops] == ["Supernode_8x8p32to8_d32", "DepthwiseSupernode_8x8p32to8_d32",
                                      "Supernode_8x8p32to8_d32", "QuantizedAdd_8p8to8_d32"]
    assert ops[0]["cycles"] == 842113 and ops[0]["ms"] == pytest.approx(842113 / 1.19e6)
    assert m.info["hexagon_total_ms"] == pytest.approx(1798923 / 1.19e6)
    no_clock = parse("hexagon_profile_CONSTRUCTED.txt", hexagon=True)
    assert no_clock.info["hexagon_ops"][0]["ms"] is None and "dsp_clock_mhz" in no_clock.info["hexagon_note"]
    cpu = parse("riscv64_op_profiling.txt", hexagon=True)  # CPU ops (CONV_2D...) are not DSP cycles
    assert "hexagon_ops" not in cpu.info


@pytest.mark.parametrize("text", [
    (FIX / "android_aarch64_failed.txt").read_text(),
    "Segmentation fault\n",
    "",
    "count=1 curr=3512391\n",  # a warm-up line alone is not a timed run
    "count=50 first=0 curr=0 min=0 max=0 avg=0 std=0\n",
])
def test_unparsable_output_fails_with_raw_text_never_zero(text):
    m = parse_benchmark_output(text)
    assert not m.ok and m.raw_output == text and not m.stats
    with pytest.raises(ValueError):
        _ = m.latency_ms


def test_flags_per_delegate():
    def dev(**kw):
        return parse_device({"name": "p", "kind": "phone", "transport": "adb", "runtime": "benchmark_model", **kw}, "t")

    base = ["--graph=/w/m.tflite", "--num_threads=2", "--num_runs=50", "--warmup_runs=10", "--min_secs=0.2"]
    assert benchmark_flags(dev(), "/w/m.tflite", 2, 10, 50, 200) == base
    assert benchmark_flags(dev(delegate="gpu"), "/w/m.tflite", 2, 10, 50, 200) == [*base, "--use_gpu=true"]
    assert benchmark_flags(dev(delegate="nnapi"), "/w/m.tflite", 2, 10, 50, 200) == [*base, "--use_nnapi=true"]
    hexagon = dev(delegate="hexagon", hexagon_lib_path="/data/local/tmp/hex")
    assert benchmark_flags(hexagon, "/w/m.tflite", 2, 10, 50, 200, op_profiling=True) == [
        *base, "--use_hexagon=true", "--hexagon_lib_path=/data/local/tmp/hex", "--enable_op_profiling=true",
        "--hexagon_profiling=true"]
