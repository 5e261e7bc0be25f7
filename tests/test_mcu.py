"""Microcontrollers: exact TFLM arena, TFLM vs LiteRT reference outputs, the calibrated cycle model,
MCU profiling rows and the not-fits message. Real conversions, real tflite-micro and LiteRT."""

import csv
import json
import sqlite3

import pytest

from edgelat.core.blockspec import BlockSpec
from edgelat.devices.catalog import get_device, load_device_file
from edgelat.devices.mcu import cycle_model
from edgelat.devices.mcu.net_text import parse_net
from edgelat.devices.mcu.ops import read_tflite
from edgelat.devices.mcu.tflm import mcu_report, run_tflm
from edgelat.errors import DataError, DeviceFileError
from edgelat.profiler.cache import TFLiteCache

from conftest import run_cli

BLOCKS = ("mbconv-i16-c8-o8-e3-k3-s1-se0-relu6-int8", "mbconv-i16-c8-o16-e6-k5-s2-se1-hswish-int8")


@pytest.fixture(scope="module")
def int8_blocks(cache_dir):
    """Converted int8 blocks (cached for the session)."""
    from edgelat.core.convert import convert_block

    cache = TFLiteCache(cache_dir)
    paths = {}
    for key in BLOCKS:
        spec = BlockSpec.from_key(key)
        paths[key] = cache.get(spec) or cache.put(spec, convert_block(spec).data)
    return paths


@pytest.mark.parametrize("key", BLOCKS)
def test_arena_is_the_exact_minimum(int8_blocks, key):
    path = int8_blocks[key]
    arena = run_tflm(path)["arena_bytes"]
    assert arena > 0
    assert run_tflm(path, arena_size=arena)["allocated"] is True
    short = run_tflm(path, arena_size=arena - 16)
    assert short["allocated"] is False and "allocate" in (short["error"] + short["log"]).lower()


@pytest.mark.parametrize("key", BLOCKS)
def test_tflm_outputs_match_litert_reference_kernels(int8_blocks, key):
    ref = run_tflm(int8_blocks[key], reference=True)["reference"]
    assert ref["shape_equal"] and ref["elements"] > 0
    assert ref["max_abs_diff"] <= 1 and ref["mismatches"] <= 0.01 * ref["elements"]


def test_mcu_report_from_path_and_bytes(int8_blocks):
    dev = get_device("stm32f746")
    path = int8_blocks[BLOCKS[1]]
    rep = mcu_report(path, dev, reference=True)
    assert rep.outputs_match_reference and rep.fits and rep.estimated
    assert rep.peak_sram_bytes == run_tflm(path)["arena_bytes"]
    assert rep.flash_bytes == path.stat().st_size + cycle_model.RUNTIME_FLASH_BYTES
    assert rep.latency_ms == pytest.approx(rep.cycles / 216e3)
    again = mcu_report(path.read_bytes(), get_device("nrf52840"))
    assert again.peak_sram_bytes == rep.peak_sram_bytes
    assert again.latency_ms > rep.latency_ms  # a 64 MHz Cortex-M4 is slower than a 216 MHz Cortex-M7


def test_cycle_model_reproduces_its_calibration_points():
    points = cycle_model.load_calibration()
    assert {p.core for p in points} == set(cycle_model.CORES) and all(p.source for p in points)
    errors = cycle_model.calibration_errors(points)
    assert max(abs(e) for _, e in errors) <= 0.05, errors  # stated: in-sample max 2.1 %
    refit = cycle_model.fit_coefficients(points)
    for name, value in cycle_model.COEFFICIENTS.items():
        assert refit[name] == pytest.approx(value, rel=1e-3), name
    loo = cycle_model.summary(cycle_model.leave_one_out_errors(points))
    assert loo["n"] == len(points) and loo["max_abs"] <= 0.15 and loo["mean_abs"] <= 0.06, loo


def test_tflite_ops_agree_with_the_layer_builders(int8_blocks):
    ops = read_tflite(int8_blocks[BLOCKS[0]]).ops
    built = parse_net("in 16 8; mb 3 8 1 3")
    assert [o.kind for o in ops] == [o.kind for o in built]
    assert [o.macs for o in ops] == [o.macs for o in built]
    with pytest.raises(DataError, match="unknown layer"):
        parse_net("in 8 3; lstm 4")


def test_catalog_mcus_and_core_validation(tmp_path):
    h7, nrf = get_device("stm32h743"), get_device("nrf52840")
    assert (h7.core, h7.clock_mhz, h7.memory["sram"], h7.memory["flash"]) == ("cortex-m7", 480, 512 * 1024, 2 << 20)
    assert (nrf.core, nrf.clock_mhz, nrf.memory["sram"], nrf.memory["flash"]) == ("cortex-m4", 64, 256 * 1024, 1 << 20)
    bad = tmp_path / "m0.toml"
    bad.write_text('name="m0"\nkind="mcu"\ntransport="sim"\nruntime="tflite-micro"\ncore="cortex-m0"\nclock_mhz=48\n'
                   '[memory]\nsram="32KB"\nflash="256KB"\n')
    with pytest.raises(DeviceFileError, match="'core'.*cortex-m0"):
        load_device_file(bad)


def _ranges(tmp_path, keys):
    specs = [BlockSpec.from_key(k) for k in keys]
    lines = [f"{f} = {sorted({getattr(s, f) for s in specs})!r}".replace("'", '"')
             for f in ("input_hw", "cin", "cout", "expand", "kernel", "stride", "se", "act")]
    path = tmp_path / "ranges.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_profile_on_an_mcu_stores_memory_and_estimated_latency(tmp_path, cache_dir, int8_blocks):
    store, out = tmp_path / "mcu.sqlite", tmp_path / "mcu.csv"
    ranges = _ranges(tmp_path, BLOCKS[:1])
    res = run_cli("profile", "--device", "stm32f746", "--sample", "grid", "--ranges", str(ranges),
                  "--store", str(store), "--cache-dir", str(cache_dir), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["measured"] == 1  # int8 by default on an MCU
    db = sqlite3.connect(store)
    dtype, median, sram, flash, info = db.execute(
        "SELECT dtype, median_ms, peak_sram_bytes, flash_bytes, info FROM measurements").fetchone()
    db.close()
    info = json.loads(info)
    assert dtype == "int8" and median > 0 and info["estimated"] is True and info["cycles"] > 0
    assert sram == run_tflm(int8_blocks[BLOCKS[0]])["arena_bytes"] and flash > cycle_model.RUNTIME_FLASH_BYTES
    assert run_cli("export", str(store), "-o", str(out)).returncode == 0
    row = next(csv.DictReader(out.open()))
    assert int(row["peak_sram_bytes"]) == sram and int(row["flash_bytes"]) == flash
    res = run_cli("profile", "--device", "stm32f746", "--dtype", "fp32", "--store", str(store))
    assert res.returncode == 2 and "int8" in res.stderr.strip().splitlines()[-1]


def test_a_block_that_does_not_fit_is_one_line_with_bytes(tmp_path, cache_dir, int8_blocks):
    dev = tmp_path / "tiny-mcu.toml"
    dev.write_text('name="tiny-mcu"\nkind="mcu"\ntransport="sim"\nruntime="tflite-micro"\ncore="cortex-m4"\n'
                   'clock_mhz=64\n[memory]\nsram="8KB"\nflash="1MB"\n')
    store = tmp_path / "s.sqlite"
    res = run_cli("profile", "--device-file", str(dev), "--sample", "grid", "--ranges",
                  str(_ranges(tmp_path, BLOCKS[:1])), "--store", str(store), "--cache-dir", str(cache_dir))
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    arena = run_tflm(int8_blocks[BLOCKS[0]])["arena_bytes"]
    assert last.startswith("edgelat: error: ") and "do not fit tiny-mcu" in last
    assert f"peak SRAM {arena} bytes > 8192 available" in last
    db = sqlite3.connect(store)
    status, sram = db.execute("SELECT status, peak_sram_bytes FROM measurements").fetchone()
    db.close()
    assert status == "failed" and sram == arena  # stored with its memory figures, re-tried on resume
