"""Interference detection: disturbed measurements are kept, flagged, and measured again later."""

from __future__ import annotations

import json

import pytest

from edgelat.devices.backends import open_backend
from edgelat.devices.catalog import get_device
from edgelat.devices.measurement import Measurement
from edgelat.devices.policy import MeasurementPolicy
from edgelat.profiler.cache import TFLiteCache
from edgelat.profiler.campaign import run_campaign
from edgelat.profiler.conversion_pool import ConversionPool
from edgelat.profiler.interference import InterferenceDetector
from edgelat.profiler.sampling import BlockRanges, random_blocks
from edgelat.profiler.store import DISTURBED, Store

from conftest import TINY_RANGES, run_cli

pytestmark = pytest.mark.slow  # times under a hog


def _m(cv: float, drift: float = 0.0) -> Measurement:
    return Measurement(ok=True, stats={"median_ms": 1.0, "cv": cv, "drift": drift}, runs=50)


def test_the_usual_spread_is_learned_and_outliers_and_drift_are_flagged():
    d = InterferenceDetector()
    assert d.check(_m(0.6)) is not None and d.check(_m(0.3)) is None  # before any history: 0.5
    assert d.check(Measurement(ok=True, stats={"median_ms": 1.0, "cv": 3.0, "drift": 0.5}, runs=5)) is None
    for cv in (0.01, 0.015, 0.02, 0.012, 0.018, 0.011, 0.02):
        assert d.check(_m(cv)) is None
    assert 0.05 <= d.cv_limit() < 0.1  # learned: quiet blocks here vary by 1-2%
    assert "cv 0.120" in d.check(_m(0.12))
    assert "drift +30.0%" in d.check(_m(0.02, drift=0.30))
    assert d.check(_m(0.03)) is None and not d.check(Measurement.failed("x"))


def test_a_campaign_remeasures_what_looked_disturbed_and_keeps_both(tmp_path, cache_dir):
    """A detector that finds every first measurement disturbed (limit 0): each block is measured
    twice, the first kept as a failed 'disturbed' row, the second is the done one; `report` says so."""
    (tmp_path / "r.toml").write_text(TINY_RANGES)
    specs = random_blocks(BlockRanges.from_file(tmp_path / "r.toml"), 3, seed=5, dtypes=("fp32",))
    store_path = tmp_path / "s.sqlite"
    device = get_device("host")
    with Store(store_path) as store, open_backend(device) as backend, \
            ConversionPool(TFLiteCache(cache_dir), 1) as pool:
        r = run_campaign(device, specs, store, backend, pool, policy=MeasurementPolicy(2, 10, 0.0, passes=1),
                         detector=InterferenceDetector(default_cv=0.0, min_history=10**6))
        assert r.measured == 3 and not r.failures and len(r.remeasured) == 3
        assert store.done_keys("host", 1) == {s.key for s in specs}
        rows = store.rows(status=None, latest=False)
    first, again = rows[:3], rows[3:]
    assert all(x["status"] == "failed" and x["error"].startswith(DISTURBED + "cv ") and x["median_ms"] > 0
               for x in first)
    assert all(x["status"] == "ok" and json.loads(x["info"])["remeasure_of"].startswith("cv ") for x in again)
    with Store(store_path) as store:  # the estimate: the faster of the two, on the ok row
        best = store.rows(estimate="min")
    assert [b["id"] for b in best] == [x["id"] for x in again]
    pairs = zip(first, again, strict=True)
    assert [b["median_ms"] for b in best] == [min(f["median_ms"], a["median_ms"]) for f, a in pairs]
    rep = run_cli("report", str(store_path), "--json")
    g = json.loads(rep.stdout)[0]
    assert (g["blocks"], g["failed_rows"], g["remeasured"], g["remeasured_why"]) == (3, 0, 3, {"cv": 3})
