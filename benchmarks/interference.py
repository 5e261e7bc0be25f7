"""Interference detection under load: a host campaign of N blocks measured five times. Twice
without the hog, 3 passes each, the fastest pass counting (a reference, and a second run: the
machine's own repeatability), then three times with a CPU hog pinned to the measured core (CPU 0)
for the first half of the campaign's first pass: one pass without detection, one pass with it
(disturbed blocks re-measured at the end), and 3 passes with it. Reports how far each run's stored
estimates land from the reference: the median |difference| and the share of blocks within 5%, and
how many blocks detection re-measured. Target: with detection, within 1 point of the second
hog-free run's share.
Usage: python benchmarks/interference.py [--blocks 60] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from edgelat.devices.backends import open_backend
from edgelat.devices.catalog import get_device
from edgelat.devices.policy import MeasurementPolicy
from edgelat.profiler.cache import TFLiteCache
from edgelat.profiler.campaign import run_campaign
from edgelat.profiler.conversion_pool import ConversionPool
from edgelat.profiler.interference import InterferenceDetector
from edgelat.profiler.sampling import BlockRanges, random_blocks
from edgelat.profiler.store import Store, host_info

OFF = InterferenceDetector(default_cv=float("inf"), cv_floor=float("inf"), drift_limit=float("inf"))


def campaign(work: Path, name: str, specs, cache: TFLiteCache, detector: InterferenceDetector,
             hog_s: float = 0.0, passes: int = 1) -> tuple[dict[str, float], float, int]:
    """One campaign into its own store; a hog on CPU 0 for its first `hog_s` seconds. Returns the
    stored medians by key, the wall time and the number of re-measured blocks."""
    device = get_device("host")
    hog = None
    if hog_s:
        hog = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", "while True: pass"])
        threading.Timer(hog_s, hog.kill).start()
    t0 = time.perf_counter()
    try:
        with Store(work / f"{name}.sqlite") as store, open_backend(device) as backend, \
                ConversionPool(cache, 1) as pool:
            r = run_campaign(device, specs, store, backend, pool, detector=detector,
                             policy=MeasurementPolicy(warmup=5, runs=50, min_time_ms=200, passes=passes))
            medians = {row["block_key"]: row["median_ms"] for row in store.rows(device="host", estimate="min")}
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    return medians, time.perf_counter() - t0, len(r.remeasured)


def compare(ref: dict[str, float], other: dict[str, float]) -> dict[str, float]:
    diff = np.array([other[k] / ref[k] - 1 for k in ref])
    return {"median_abs_diff_pct": float(100 * np.median(np.abs(diff))),
            "within_5pct": float(np.mean(np.abs(diff) <= 0.05))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=60)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edgelat-interference-"))
    specs = random_blocks(BlockRanges(), args.blocks, seed=17, dtypes=("fp32",))
    cache = TFLiteCache(work / "cache")
    with ConversionPool(cache, 2) as pool:  # convert first: the campaigns then only measure
        [f.result() for f in [pool.submit(s) for s in specs]]
    quiet, quiet_s, _ = campaign(work, "quiet", specs, cache, OFF, passes=3)
    quiet2, _, _ = campaign(work, "quiet2", specs, cache, InterferenceDetector(), passes=3)
    hog_s = quiet_s / 6  # half of one pass
    loaded, loaded_s, _ = campaign(work, "loaded", specs, cache, OFF, hog_s)
    detected, detected_s, remeasured = campaign(work, "detected", specs, cache, InterferenceDetector(), hog_s)
    passes3, passes3_s, _ = campaign(work, "passes3", specs, cache, InterferenceDetector(), hog_s, passes=3)
    doc = {"cpu": host_info()["cpu"], "blocks": len(quiet), "hog_s": hog_s,
           "wall_s": {"quiet": quiet_s, "loaded": loaded_s, "detected": detected_s, "detected_3_passes": passes3_s},
           "quiet2_vs_quiet": compare(quiet, quiet2), "loaded_vs_quiet": compare(quiet, loaded),
           "detected_vs_quiet": compare(quiet, detected), "detected_3_passes_vs_quiet": compare(quiet, passes3),
           "remeasured": remeasured}
    if args.json:
        print(json.dumps(doc))
        return
    print(f"CPU {doc['cpu']}; {doc['blocks']} blocks; hog on CPU 0 for the first {hog_s:.1f} s of each loaded run; "
          f"reference and second hog-free run: 3 passes, fastest counts")
    for name in ("quiet2_vs_quiet", "loaded_vs_quiet", "detected_vs_quiet", "detected_3_passes_vs_quiet"):
        c = doc[name]
        print(f"{name:<27} median |diff| {c['median_abs_diff_pct']:.2f}%, within 5%: {c['within_5pct']:.0%}")
    print(f"detection re-measured {remeasured} blocks (one pass); wall s: reference {quiet_s:.1f}, loaded "
          f"{loaded_s:.1f}, with detection {detected_s:.1f}, with detection and 3 passes {passes3_s:.1f}")


if __name__ == "__main__":
    main()
