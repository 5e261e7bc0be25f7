"""Farm throughput: the same blocks profiled by a farm of 1 unit and of 2 units, on a real local Ray cluster.

Both units are this machine's CPU (one pinned to CPU 0, one to CPU 1) as units of one model, on a
loopback head node (tests/ray_cluster.py). Conversions are cached first, so the figures are the
campaign's measuring path: dispatch over the shared queue, timing, results into the one store.
The local campaign (no --cluster) on one unit is the reference.

On a 2-core machine the two units are NOT independent devices: they share the memory system, and
the driver, Ray's processes and anything else running compete for the same two cores that time.
The target ratio (>= 1.8x) is for independent devices (phones on their own cables).

Usage: python benchmarks/farm.py [--blocks 40] [--min-time-ms 100]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from ray_cluster import RayNode, wait_for_nodes  # noqa: E402

from edgelat.profiler.cache import TFLiteCache  # noqa: E402
from edgelat.profiler.conversion_pool import ConversionPool  # noqa: E402
from edgelat.profiler.sampling import BlockRanges, random_blocks  # noqa: E402

from conftest import TINY_RANGES  # noqa: E402

# Blocks a bit larger than the tests' tiny ones, so timing (not dispatch) dominates each block.
RANGES = TINY_RANGES.replace("input_hw = [8, 16]", "input_hw = [16, 28]").replace("cin = [8, 16]", "cin = [16, 24]")


def unit_file(path: Path, cpu: int) -> Path:
    path.write_text(f'name = "benchcpu"\nkind = "host"\ntransport = "local"\nruntime = "litert"\n'
                    f'delegate = "xnnpack"\nthreads = 1\ncpu_mask = "{hex(1 << cpu)}"\n')
    return path


def steady_rate(store: Path) -> float:
    """Blocks per second between the first and the last stored row (unit start-up excluded)."""
    db = sqlite3.connect(store)
    stamps = [datetime.fromisoformat(r[0]) for r in db.execute("SELECT created_at FROM measurements ORDER BY id")]
    db.close()
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]).total_seconds()


def latencies(store: Path) -> dict[str, float]:
    db = sqlite3.connect(store)
    rows = dict(db.execute("SELECT block_key, median_ms FROM measurements WHERE status='ok'").fetchall())
    db.close()
    return rows


def profile(args: list[str], store: Path) -> dict:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "edgelat.cli", "profile", *args, "--store", str(store), "--json"],
                         capture_output=True, text=True, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    summary = json.loads(res.stdout)
    summary["command_s"] = time.perf_counter() - t0
    summary["steady"] = steady_rate(store)
    summary["latencies"] = latencies(store)
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=40)
    ap.add_argument("--min-time-ms", type=float, default=100.0)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="edgelat-farm-bench-"))
    ranges = tmp / "ranges.toml"
    ranges.write_text(RANGES)
    cache = TFLiteCache(tmp / "cache")
    specs = random_blocks(BlockRanges.from_file(ranges), a.blocks, 0, ("fp32",))
    with ConversionPool(cache, workers=2) as pool:
        failed = [r.spec.key for r in (f.result() for f in [pool.submit(s) for s in specs]) if r.path is None]
    if failed:
        raise SystemExit(f"conversion failed: {failed}")
    units = [unit_file(tmp / f"unit{cpu}.toml", cpu) for cpu in (0, 1)]
    common = ["--device-file", str(units[0]), "--sample", "random", "--ranges", str(ranges), "--n", str(a.blocks),
              "--cache-dir", str(cache.root), "--runs", str(a.runs), "--warmup", "2",
              "--min-time-ms", str(a.min_time_ms)]
    results = {"local, 1 unit (no --cluster)": profile(common, tmp / "local.sqlite")}
    for n in (1, 2):
        farm = tmp / f"farm{n}.toml"
        farm.write_text('node = "bench"\nhost_cpu = false\n' + "".join(
            f'[[unit]]\ndevice_file = "{u}"\n' for u in units[:n]))
        env = {"EDGELAT_FARM": str(farm), "EDGELAT_CPU_GATE_DIR": str(tmp / "gate")}
        res = subprocess.run([sys.executable, "-m", "edgelat.cli", "farm-resources"], capture_output=True, text=True,
                             env={**os.environ, **env}, check=True)
        head = RayNode("head", farm, env, num_cpus=2)
        try:
            head.start(res.stdout.strip())
            wait_for_nodes(head.address, 1, [head])
            results[f"farm, {n} unit(s)"] = profile([*common, "--cluster", head.address], tmp / f"farm{n}.sqlite")
        finally:
            head.kill()
    print(f"{a.blocks} blocks (cached), {a.runs} runs + min {a.min_time_ms:g} ms each; {os.cpu_count()} CPUs")
    print(f"{'campaign':32} {'wall s':>8} {'blocks/s':>9} {'steady blocks/s':>16}  units")
    for name, s in results.items():
        units_text = ", ".join(f"{u.split('@')[1]} {k}" for u, k in s.get("units", {}).items())
        print(f"{name:32} {s['wall_s']:8.2f} {s['measured'] / s['wall_s']:9.2f} {s['steady']:16.2f}  {units_text}")
    one, two = results["farm, 1 unit(s)"], results["farm, 2 unit(s)"]
    print(f"ratio 2 units / 1 unit: {one['wall_s'] / two['wall_s']:.2f}x wall, "
          f"{two['steady'] / one['steady']:.2f}x steady (target >= 1.8x for independent devices)")
    ratios = sorted(two["latencies"][k] / one["latencies"][k] for k in one["latencies"])
    print(f"per-block latency, 2-unit run / 1-unit run: median {statistics.median(ratios):.3f}, "
          f"p5 {ratios[len(ratios) // 20]:.3f}, p95 {ratios[-1 - len(ratios) // 20]:.3f} "
          f"(how much timing both cores at once disturbs each figure here)")


if __name__ == "__main__":
    main()
