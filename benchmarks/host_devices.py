"""Kinds of hardware made from this machine: FBNet networks measured whole under several LiteRT regimes.

Each regime is a device file of its own (written under runs/host_devices/): batch 1 (launch- and
overhead-bound) or batch 16 (compute-bound), fp32 or int8, 1 or 2 threads, XNNPACK on or LiteRT's
built-in kernels. The same N networks of HW-NAS-Bench's FBNet space (32 px, 100 classes) are measured
on each, through `edgelat profile --arch` (library code: `run_profile`), and the table of all regimes is
written to runs/host_devices/fbnet_host_devices.csv (op0..op21, one `<device>_ms` column per regime).
`--ship` copies it to data/ (an explicit step; nothing here overwrites data/ otherwise).
`--smoke`: 4 networks, two regimes.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd

from edgelat.core.progress import NullProgress
from edgelat.core.spaces import get_space
from edgelat.profiler.options import ProfileOptions
from edgelat.profiler.store import Store
from edgelat.profiler.workflow import run_profile

WORK = Path("runs/host_devices")
DATA = Path(__file__).resolve().parent.parent / "data"
# (name, dtype, threads, batch, delegate)
REGIMES = [
    ("host_b1_t1_xnnpack_fp32", "fp32", 1, 1, "xnnpack"), ("host_b1_t1_xnnpack_int8", "int8", 1, 1, "xnnpack"),
    ("host_b1_t2_xnnpack_fp32", "fp32", 2, 1, "xnnpack"), ("host_b1_t2_xnnpack_int8", "int8", 2, 1, "xnnpack"),
    ("host_b1_t1_builtin_fp32", "fp32", 1, 1, "builtin"), ("host_b1_t1_builtin_int8", "int8", 1, 1, "builtin"),
    ("host_b16_t1_xnnpack_fp32", "fp32", 1, 16, "xnnpack"), ("host_b16_t1_xnnpack_int8", "int8", 1, 16, "xnnpack"),
    ("host_b16_t2_builtin_fp32", "fp32", 2, 16, "builtin"),
]


def device_file(name: str, threads: int, batch: int, delegate: str) -> Path:
    path = WORK / "devices" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = "0x1" if threads == 1 else "0x3"
    path.write_text(f'name = "{name}"\nkind = "host"\ntransport = "local"\nruntime = "litert"\n'
                    f'delegate = "{delegate}"\nthreads = {threads}\nbatch = {batch}\ncpu_mask = "{mask}"\n'
                    f'description = "this machine\'s CPU ({platform.processor() or platform.machine()}), '
                    f'batch {batch}, {threads} thread(s), {delegate}"\n')
    return path


def measure(regimes, archs: list[str], runs: int, passes: int) -> Path:
    store = WORK / "networks.sqlite"
    for name, dtype, threads, batch, delegate in regimes:
        t0 = time.perf_counter()
        opts = ProfileOptions(device_file=str(device_file(name, threads, batch, delegate)), space="fbnet",
                              archs=tuple(archs), dtype=dtype, store=str(store), runs=runs, warmup=3,
                              min_time_ms=0.0, passes=passes, pass_gap_s=5.0, cache_dir=str(WORK / "cache"))
        result = run_profile(opts, NullProgress())
        print(f"  {name}: {result.summary['measured']} measured, {result.summary['already_done']} already, "
              f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return store


def convert_only(archs: list[str]) -> None:
    """Fill the conversion cache (fp32 and int8) without timing anything: conversion may share the CPU
    with other work, timing may not."""
    from edgelat.core.netspec import NetworkSpec
    from edgelat.profiler.cache import TFLiteCache
    from edgelat.profiler.conversion_pool import ConversionPool

    space = get_space("fbnet")
    specs = [NetworkSpec.of(space, space.decode(a), d) for d in ("fp32", "int8") for a in archs]
    with ConversionPool(TFLiteCache(WORK / "cache")) as pool:
        done = [f.result() for f in [pool.submit(s) for s in specs]]
    failed = [c.error for c in done if c.path is None]
    print(f"converted {len(done) - len(failed)} of {len(done)} models" + (f"; failed: {failed[:3]}" if failed else ""))


def table(store: Path, regimes, archs: list[str]) -> pd.DataFrame:
    space = get_space("fbnet")
    frame = pd.DataFrame([space.decode(a) for a in archs], columns=[f"op{i}" for i in range(len(space.layers))])
    with Store(store) as s:
        for name, *_ in regimes:
            ms = {r["arch"]: r["median_ms"] for r in s.rows(device=name, networks=True, estimate="min")}
            frame[f"{name}_ms"] = [ms.get(a.split(":", 1)[1]) for a in archs]
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--ship", action="store_true", help="copy the table to data/ (after a full run)")
    ap.add_argument("--convert-only", action="store_true", help="only fill the conversion cache")
    args = ap.parse_args()
    regimes = REGIMES[:2] if args.smoke else REGIMES
    n = 4 if args.smoke else args.n
    space = get_space("fbnet")
    archs = [space.encode(a) for a in space.random(n, seed=args.seed)]
    if args.convert_only:
        return convert_only(archs)
    t0 = time.perf_counter()
    store = measure(regimes, archs, args.runs, 1 if args.smoke else args.passes)
    frame = table(store, regimes, archs)
    out = WORK / "fbnet_host_devices.csv"
    frame.to_csv(out, index=False)
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    print(f"{n} FBNet networks x {len(regimes)} regimes on {cpu}, {date.today()}, {time.perf_counter() - t0:.0f} s")
    print(frame.filter(like="_ms").describe().loc[["mean", "min", "max"]].round(3).to_string())
    print(f"table: {out}")
    if args.ship:
        shutil.copy(out, DATA / "fbnet_host_devices.csv")
        print(f"shipped: {DATA / 'fbnet_host_devices.csv'}")


if __name__ == "__main__":
    main()
