"""Unit-to-unit spread: how much several units of one device model differ on the same blocks.

For each (device, threads) with two or more units that measured a block, each unit's latest
median is compared with the block's median over units. Per unit: the median signed deviation
(its bias); per device: the median and largest per-block spread (max - min) / median.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from edgelat.profiler.store import DISTURBED


def store_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (device, threads): ok blocks, failed rows, units with their block counts, and the spread."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["device"], r["threads"])].append(r)
    out = []
    for (device, threads), grp in sorted(groups.items()):
        ok = [r for r in grp if r["status"] == "ok"]
        latest: dict[tuple[str, str], float] = {}
        for r in sorted(ok, key=lambda r: r["id"]):
            latest[(r["block_key"], r["unit"] or "?")] = r["median_ms"]
        per_unit: dict[str, int] = defaultdict(int)
        for _, unit in latest:
            per_unit[unit] += 1
        disturbed = [r for r in grp if r["status"] == "failed" and (r["error"] or "").startswith(DISTURBED)]
        out.append({"device": device, "threads": threads, "blocks": len({r["block_key"] for r in ok}),
                    "failed_rows": len(grp) - len(ok) - len(disturbed), "units": dict(sorted(per_unit.items())),
                    "spread": unit_spread(latest), "remeasured": len(disturbed),
                    "remeasured_why": _reasons(disturbed)})
    return out


def _reasons(disturbed: list[dict[str, Any]]) -> dict[str, int]:
    """How many disturbed measurements were flagged for each kind of reason (cv, drift)."""
    counts: dict[str, int] = defaultdict(int)
    for r in disturbed:
        why = r["error"][len(DISTURBED):] or "unknown"
        counts[why.split()[0]] += 1
    return dict(sorted(counts.items()))


def unit_spread(latest: dict[tuple[str, str], float]) -> dict[str, Any] | None:
    """Spread over blocks measured by >= 2 units; None when no block was."""
    by_block: dict[str, dict[str, float]] = defaultdict(dict)
    for (key, unit), ms in latest.items():
        by_block[key][unit] = ms
    shared = {k: v for k, v in by_block.items() if len(v) >= 2}
    if not shared:
        return None
    spreads, deviations = [], defaultdict(list)
    for per_unit in shared.values():
        mid = statistics.median(per_unit.values())
        spreads.append((max(per_unit.values()) - min(per_unit.values())) / mid)
        for unit, ms in per_unit.items():
            deviations[unit].append(ms / mid - 1.0)
    return {
        "shared_blocks": len(shared),
        "median_spread": statistics.median(spreads),
        "max_spread": max(spreads),
        "units": {u: {"blocks": len(d), "median_deviation": statistics.median(d),
                      "max_abs_deviation": max(abs(x) for x in d)} for u, d in sorted(deviations.items())},
    }
