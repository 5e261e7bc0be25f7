"""Measure the same blocks in two separate host campaigns and compare their medians.

Target: medians within 5% of each other. The second campaign reuses the converted files
(same bytes) but has its own store, timing worker and process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from edgelat.core.spaces import get_space  # noqa: E402
from edgelat.profiler.sampling import space_blocks  # noqa: E402
from edgelat.profiler.store import Store  # noqa: E402

from _common import host_campaign  # noqa: E402


def medians(path: Path) -> dict[str, float]:
    with Store(path) as store:
        return {r["block_key"]: r["median_ms"] for r in store.rows()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--min-time-ms", type=float, default=200.0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edgelat-rep-"))
    specs = space_blocks(get_space("single-path").layers, ("fp32", "int8"))
    for name in ("a.sqlite", "b.sqlite"):
        r = host_campaign(specs, workdir=work, cache_dir=work / "cache", store_name=name, runs=args.runs,
                         min_time_ms=args.min_time_ms)
        assert r.measured == len(specs), r.failures
    a, b = medians(work / "a.sqlite"), medians(work / "b.sqlite")
    diffs = sorted((abs(a[k] - b[k]) / a[k], k) for k in a)
    rel = [d for d, _ in diffs]
    within = sum(d <= 0.05 for d in rel) / len(rel)
    print(f"blocks: {len(rel)} (Single-Path space at 224 px, fp32 and int8), at least {args.runs} timed runs "
          f"and {args.min_time_ms:.0f} ms of timed work each")
    print(f"|median_a - median_b| / median_a: median {statistics.median(rel):.2%}, "
          f"p95 {rel[int(0.95 * (len(rel) - 1))]:.2%}, max {rel[-1]:.2%} ({diffs[-1][1]})")
    print(f"within 5%: {within:.1%} of blocks")


if __name__ == "__main__":
    main()
