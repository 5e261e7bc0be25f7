"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from edgelat.devices.backends import open_backend
from edgelat.devices.catalog import get_device
from edgelat.devices.policy import MeasurementPolicy
from edgelat.profiler.cache import TFLiteCache
from edgelat.profiler.campaign import CampaignResult, run_campaign
from edgelat.profiler.conversion_pool import ConversionPool
from edgelat.profiler.store import Store


def host_campaign(specs, workdir: Path | None = None, cache_dir: Path | None = None, store_name: str = "bench.sqlite",
                  runs: int = 50, warmup: int = 10, workers: int = 2, min_time_ms: float = 0.0) -> CampaignResult:
    """One real host campaign with a fresh store (and a fresh cache unless one is given)."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="edgelat-bench-"))
    cache = TFLiteCache(cache_dir or workdir / "cache")
    device = get_device("host")
    with open_backend(device) as backend, Store(workdir / store_name) as store, ConversionPool(cache, workers) as pool:
        policy = MeasurementPolicy(warmup=warmup, runs=runs, min_time_ms=min_time_ms, passes=1)
        return run_campaign(device, specs, store, backend, pool, policy=policy)
