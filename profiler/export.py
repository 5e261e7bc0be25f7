"""`edgelat export`: a store's latest successful measurements as the table `fit` reads."""

from __future__ import annotations

from typing import Any

from edgelat.core.paths import ensure_parent
from edgelat.errors import StoreError
from edgelat.profiler.store import open_existing
from edgelat.profiler.table import write_block_csv, write_network_csv

BLOCK_EXTRAS = ("device", "threads", "block_key", "std_ms", "p5_ms", "p95_ms", "cv", "runs", "runtime",
                "runtime_version", "unit", "created_at", "peak_sram_bytes", "flash_bytes")


def export_store(store_path: str, output: str, device: str | None = None, networks: bool = False,
                 space: str | None = None) -> dict[str, Any]:
    """Write the block (or whole-network) CSV; returns the output, the row count and what the rows are."""
    ensure_parent(output, "the exported table")
    with open_existing(store_path) as store:
        rows = store.rows(device=device, networks=networks, estimate="min")
    rows = [r for r in rows if space is None or r["space"] == space]
    if not rows:
        what = "network measurements" if networks else "successful measurements"
        raise StoreError(f"{store_path}: no {what}{f' for device {device!r}' if device else ''}")
    if networks:
        return {"output": output, "rows": write_network_csv(rows, output), "what": "networks"}
    for r in rows:
        r["latency_ms"] = r["median_ms"]
    return {"output": output, "rows": write_block_csv(rows, output, BLOCK_EXTRAS), "what": "blocks"}
