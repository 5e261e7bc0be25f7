"""The newcomer's check of whole-network predictions, with the defaults and no extra flags (issue 34).

At a resolution no other benchmark uses (96 px fp32, single-path space), each run does what
the whole-networks guide says, through the `edgelat` command in subprocesses:

1. `profile --resolution 96 --fixed-parts` (the block table), `fit --kind lut`;
2. `profile --networks 20` (seed 101), `export --whole-networks`, `fit --space --prior` (the calibrated
   block table);
3. 16 other networks (seed 202, none a calibration network), each measured by `edgelat deploy` and
   predicted by the calibrated table.

It prints, per run: the share within ±10%, the median and worst error, Spearman, and the wall time
of each step; then how many runs reached >= 90% within ±10%. The conversion cache is shared by the
runs (conversion is not measurement); the stores are not. Usage:
    python benchmarks/defaults_check.py [--runs 3] [--gap-min 0] [--work DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edgelat.core.spaces import get_space
from edgelat.predictors import metrics
from edgelat.predictors.persistence import load
from edgelat.profiler.cache import TFLiteCache
from edgelat.profiler.conversion_pool import ConversionPool
from edgelat.profiler.sampling import random_networks
from edgelat.profiler.store import host_info

RES, DTYPE, CAL_SEED, TEST_SEED, N_CAL, N_TEST = 96, "fp32", 101, 202, 20, 16
SPACE = ["--space", "single-path", "--resolution", str(RES)]


def edgelat(*args: str, cache: Path) -> str:
    """Run one `edgelat` command as a user would; its stdout (a failure stops the benchmark, with stderr)."""
    res = subprocess.run([sys.executable, "-m", "edgelat.cli", *args], capture_output=True, text=True,
                         env={**os.environ, "EDGELAT_CACHE_DIR": str(cache)})
    if res.returncode != 0:
        raise SystemExit(f"edgelat {' '.join(args)} failed:\n{res.stderr}")
    return res.stdout


def held_out(cache: Path) -> dict[str, Path]:
    """The 16 test networks' .tflite files (converted once into the cache), by encoding."""
    space = get_space("single-path", RES)
    cal = {s.key for s in random_networks(space, N_CAL, CAL_SEED, (DTYPE,))}
    specs = [s for s in random_networks(space, N_TEST + 4, TEST_SEED, (DTYPE,)) if s.key not in cal][:N_TEST]
    with ConversionPool(TFLiteCache(cache), 2) as pool:
        convs = [f.result() for f in [pool.submit(s) for s in specs]]
    bad = [c.spec.key for c in convs if c.path is None]
    if bad:
        raise SystemExit(f"converting {bad} failed")
    return {f"single-path:{c.spec.arch}": c.path for c in convs}


def one_run(work: Path, cache: Path, tests: dict[str, Path]) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    store, steps = str(work / "host.sqlite"), {}
    t0 = time.perf_counter()
    edgelat("profile", *SPACE, "--fixed-parts", "--store", store, cache=cache)
    edgelat("fit", "--table", store, "--kind", "lut", "-o", str(work / "blocks.json"), cache=cache)
    steps["block_table_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    edgelat("profile", *SPACE, "--networks", str(N_CAL), "--seed", str(CAL_SEED), "--store", store, cache=cache)
    edgelat("export", store, "-o", str(work / "nets.csv"), "--whole-networks", cache=cache)
    edgelat("fit", "--table", str(work / "nets.csv"), *SPACE, "--prior", str(work / "blocks.json"),
            "--kind", "lut", "-o", str(work / "calibrated.json"), cache=cache)
    steps["calibration_s"] = time.perf_counter() - t0
    model = load(work / "calibrated.json")
    space = get_space("single-path", RES)
    t0, measured, predicted = time.perf_counter(), [], []
    for enc, path in tests.items():
        out = json.loads(edgelat("deploy", str(path), "--json", cache=cache))
        measured.append(out["measured_ms"])
        predicted.append(float(model.predict(space.decode(enc)[None])[0]))
    steps["deploy_s"] = time.perf_counter() - t0
    y, p = np.array(measured), np.array(predicted)
    err = (p - y) / y
    return {"within10": float(np.mean(np.abs(err) <= 0.10)), "median_err_pct": float(100 * np.median(err)),
            "worst_pct": float(100 * err[np.argmax(np.abs(err))]), "spearman": metrics.report(y, p)["spearman"],
            "measured_ms": measured, "predicted_ms": predicted, **{k: round(v, 1) for k, v in steps.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gap-min", type=float, default=0.0, help="minutes between runs")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="edgelat-defaults-"))
    cache = work / "cache"
    tests = held_out(cache)
    runs = []
    for n in range(1, args.runs + 1):
        if n > 1:
            time.sleep(60 * args.gap_min)
        r = one_run(work / f"run{n}", cache, tests)
        runs.append(r)
        print(f"run {n}: {r['within10']:.0%} within ±10%, median {r['median_err_pct']:+.1f}%, worst "
              f"{r['worst_pct']:+.1f}%, Spearman {r['spearman']:.3f}; block table {r['block_table_s']:.0f} s, "
              f"calibration {r['calibration_s']:.0f} s, deploy x{N_TEST} {r['deploy_s']:.0f} s", flush=True)
    passed = sum(r["within10"] >= 0.90 for r in runs)
    print(f"{passed} of {len(runs)} runs had >= 90% within ±10% ({host_info().get('cpu', '?')}, "
          f"{time.strftime('%Y-%m-%d')})")
    if args.json:
        print(json.dumps({"runs": runs, "passed": passed, "host": host_info()}))


if __name__ == "__main__":
    main()
