"""Profile 200 distinct random fp32 blocks on the host and report where the time goes.

Prints blocks/minute for the whole campaign, conversion throughput, the conversion floor
(the converter's own convert() calls alone, spread over the conversion workers), and the
ratio campaign time / (conversion floor + measurement time).
Targets on a 2-core machine: >= 8 fp32 blocks/s through conversion, ratio <= 1.3.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from edgelat.profiler.sampling import BlockRanges, random_blocks  # noqa: E402

from _common import host_campaign  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--min-time-ms", type=float, default=0.0, help="`edgelat profile` uses 200; 0 times --runs only")
    args = ap.parse_args()
    specs = random_blocks(BlockRanges(), args.n, seed=2026)
    r = host_campaign(specs, runs=args.runs, warmup=args.warmup, workers=args.workers, min_time_ms=args.min_time_ms)
    assert r.measured == args.n and not r.failures, r.failures
    floor = r.convert_call_s  # the converter's own convert() calls, one after another
    ratio = r.wall_s / (floor + r.measure_s)
    print(f"blocks                    : {args.n} distinct fp32 blocks, >= {args.runs} timed runs and "
          f">= {args.min_time_ms:.0f} ms timed each, {args.workers} conversion workers")
    print(f"campaign wall time        : {r.wall_s:8.1f} s  ({args.n / r.wall_s * 60:.0f} blocks/min)")
    print(f"  waiting for conversion  : {r.conversion_wait_s:8.1f} s  -> {r.converted / r.conversion_wait_s:.1f} "
          "fp32 blocks/s through conversion (worker start-up included)")
    print(f"  measuring               : {r.measure_s:8.1f} s")
    print(f"conversion work in workers: {r.conversion_s:8.1f} s  (build + trace + freeze + convert, summed)")
    print(f"conversion floor          : {floor:8.1f} s  (the converter's convert() calls alone, summed)")
    print(f"ratio campaign / (floor + measurement) = {ratio:.2f}  (target <= 1.3)")

if __name__ == "__main__":
    main()
