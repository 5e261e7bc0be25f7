"""ADB path overhead: the loopback adbd "board" against the host runner, and a 100-block campaign over ADB.

1. Bias: a few blocks measured by the host runner directly and by the same timing core pushed over
   the real adbd (tests/adbd) as a Linux board, alternating, several rounds; per-block median ratio.
2. Wall time of a 100-block campaign over ADB (conversion cached first, so the figure is the ADB path:
   pushes, one runner process per block, hygiene snapshots, store writes).

Needs the test adbd (`bash tests/adbd/build.sh`). Usage: python benchmarks/adb_overhead.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from adbd_daemon import BUILD, Adbd, board_device_file  # noqa: E402

from edgelat.core.blockspec import BlockSpec  # noqa: E402
from edgelat.devices.adb_transport import load_signer  # noqa: E402
from edgelat.devices.backends.host import HostBackend  # noqa: E402
from edgelat.devices.backends.linux_board import LinuxBoardBackend  # noqa: E402
from edgelat.devices.catalog import get_device, load_device_file  # noqa: E402
from edgelat.profiler.cache import TFLiteCache  # noqa: E402
from edgelat.profiler.campaign import run_campaign  # noqa: E402
from edgelat.profiler.conversion_pool import ConversionPool  # noqa: E402
from edgelat.profiler.sampling import BlockRanges, random_blocks  # noqa: E402
from edgelat.profiler.store import Store  # noqa: E402

BIAS_BLOCKS = [
    "mbconv-i28-c24-o24-e3-k3-s1-se0-relu6-fp32",
    "mbconv-i28-c24-o40-e6-k5-s2-se0-relu6-fp32",
    "mbconv-i14-c40-o80-e6-k3-s1-se0-hswish-fp32",
    "mbconv-i14-c80-o80-e3-k5-s1-se1-hswish-fp32",
    "mbconv-i7-c112-o160-e6-k3-s1-se0-relu6-fp32",
    "mbconv-i56-c16-o24-e3-k3-s2-se0-relu6-fp32",
]
CAMPAIGN_RANGES = {"input_hw": [8, 16], "cin": [8, 16, 24], "cout": [8, 16, 24], "expand": [1, 3, 6],
                   "kernel": [3, 5], "stride": [1, 2], "se": [0, 1], "act": ["relu6", "hswish"]}


def convert_all(specs: list[BlockSpec], cache: TFLiteCache) -> dict[str, Path]:
    with ConversionPool(cache, 2) as pool:
        results = [f.result() for f in [pool.submit(s) for s in specs]]
    bad = [r for r in results if r.path is None]
    if bad:
        raise SystemExit(f"conversion failed: {bad[0].spec.key}: {bad[0].error}")
    return {r.spec.key: r.path for r in results}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="bias rounds (0: skip part 1)")
    ap.add_argument("--campaign-blocks", type=int, default=100)
    args = ap.parse_args()
    res = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"cannot build the test adbd: {res.stderr.strip()[-300:]}")
    binary = Path(res.stdout.strip().splitlines()[-1])
    cache = TFLiteCache()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        key = tmp / "adbkey"
        load_signer(key)
        (tmp / "adb_keys").write_text(Path(f"{key}.pub").read_text())
        os.environ["EDGELAT_ADB_KEY"] = str(key)
        (tmp / "root").mkdir()
        daemon = Adbd(binary, tmp / "root", tmp / "adb_keys", key)
        daemon.start()
        try:
            board = load_device_file(board_device_file(tmp / "board.toml", daemon, tmp / "work"))
            host = get_device("host")
            paths = convert_all([BlockSpec.from_key(k) for k in BIAS_BLOCKS], cache) if args.rounds else {}
            print(f"1) bias: {len(BIAS_BLOCKS)} blocks, {args.rounds} rounds, host runner vs loopback adbd board "
                  f"(same litert_timer core, CPU 0, 1 thread, 50 runs, min 200 ms)")
            host_ms: dict[str, list[float]] = {k: [] for k in BIAS_BLOCKS}
            board_ms: dict[str, list[float]] = {k: [] for k in BIAS_BLOCKS}
            with HostBackend(host) as hb, LinuxBoardBackend(board) as bb:
                for _ in range(args.rounds):
                    for k in BIAS_BLOCKS:
                        for backend, sink in ((hb, host_ms), (bb, board_ms)):
                            m = backend.measure(paths[k], 10, 50, 200.0)
                            if not m.ok:
                                raise SystemExit(f"{k}: {m.error}")
                            sink[k].append(m.latency_ms)
            ratios: list[float] = []
            print(f"{'block':<46} {'host ms':>9} {'adb ms':>9} {'adb/host':>9}")
            for k in BIAS_BLOCKS if args.rounds else []:
                h, b = statistics.median(host_ms[k]), statistics.median(board_ms[k])
                ratios.append(b / h)
                print(f"{k:<46} {h:>9.4f} {b:>9.4f} {b / h - 1:>+9.2%}")
            if ratios:
                print(f"mean bias {statistics.mean(ratios) - 1:+.2%}, largest |bias| "
                      f"{max(abs(r - 1) for r in ratios):.2%}")

            specs = random_blocks(BlockRanges(CAMPAIGN_RANGES), args.campaign_blocks, seed=0)
            t0 = time.perf_counter()
            convert_all(specs, cache)
            conv_s = time.perf_counter() - t0
            with LinuxBoardBackend(board) as bb, Store(tmp / "c.sqlite") as store, ConversionPool(cache, 2) as pool:
                r = run_campaign(board, specs, store, bb, pool, warmup=10, runs=50, min_time_ms=200.0)
                timed = sum(row["mean_ms"] * row["runs"] for row in store.rows(device=board.name)) / 1e3
            print(f"2) {r.requested}-block campaign over ADB (defaults: 10 warm-up, >= 50 runs and >= 200 ms per "
                  f"block; conversions cached beforehand in {conv_s:.1f} s): wall {r.wall_s:.1f} s, "
                  f"{r.measured} measured, {len(r.failures)} failed; timed work {timed:.1f} s, so ADB path + runner "
                  f"start-up + hygiene {(r.wall_s - timed) / r.requested:.2f} s per block")
        finally:
            daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
