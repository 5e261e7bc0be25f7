"""Whole networks as measured data: the stratified sample, `profile --networks` with resume after
SIGKILL, and the exported network table that `fit --space` reads."""

import itertools
import json
from datetime import datetime

import numpy as np
import pytest

from edgelat.core.spaces import get_space
from edgelat.predictors.datasets import load_networks
from edgelat.profiler.sampling import random_networks
from edgelat.profiler.store import DISTURBED, Store

from conftest import kill_group, query, run_cli, start_cli, wait_for

pytestmark = pytest.mark.slow  # converts and times whole networks


def test_network_sample_is_reproducible_distinct_and_spans_the_cost_range():
    space = get_space("single-path", 64, num_classes=10)
    nets = random_networks(space, 12, seed=3)
    assert nets == random_networks(space, 12, seed=3)
    archs = np.stack([n.indices() for n in nets])
    assert len({n.key for n in nets}) == 12
    assert (space.canonical(archs) == archs).all()  # equivalent encodings are one network
    macs = np.nan_to_num(space.choice_matrix(lambda layer, c: layer.macs(c)))
    cost = np.sort(macs[np.arange(len(space.layers)), archs].sum(axis=1))
    pool = macs[np.arange(len(space.layers)), space.random(480, 3)].sum(axis=1)
    # spread evenly: the extremes of the pool are taken, and no gap exceeds a third of the range
    assert cost[0] <= np.quantile(pool, 0.01) and cost[-1] >= np.quantile(pool, 0.99)
    assert np.diff(cost).max() < (cost[-1] - cost[0]) / 3


def net_rows(store):
    return query(store, "SELECT net_key, id FROM networks WHERE status='ok' ORDER BY id")


def test_profile_networks_resumes_after_sigkill_and_exports_a_table(tmp_path):
    store, cache = tmp_path / "nets.sqlite", tmp_path / "cache"
    args = ["profile", "--space", "single-path", "--resolution", "32", "--width", "0.35", "--num-classes", "10",
            "--networks", "6", "--passes", "1", "--store", str(store), "--cache-dir", str(cache), "--runs", "200",
            "--warmup", "2", "--json"]
    proc = start_cli(args)
    wait_for(lambda: store.exists() and len(net_rows(store)) >= 2, proc)
    kill_group(proc)
    before = net_rows(store)
    assert 2 <= len(before) < 6
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["already_done"] == len(before) and summary["measured"] == 6 - len(before)
    after = net_rows(store)
    assert len({k for k, _ in after}) == 6 == len(after) and after[: len(before)] == before

    table = tmp_path / "nets.csv"
    res = run_cli("export", str(store), "-o", str(table), "--whole-networks")
    assert res.returncode == 0, res.stderr
    nets = load_networks(table, get_space("single-path", 32, 0.35, 10))
    assert len(nets.y) == 6 and (nets.y > 0).all()
    keys = {k.split("-")[-2] for k, _ in after}
    assert {"".join(np.base_repr(v, 36).lower() for v in a) for a in nets.archs} == keys


def test_profile_arch_measures_the_given_networks_and_names_a_bad_encoding(tmp_path):
    store = tmp_path / "a.sqlite"
    base = ["profile", "--space", "nb-macro", "--store", str(store), "--cache-dir", str(tmp_path / "c"),
            "--runs", "20", "--warmup", "2", "--min-time-ms", "0", "--json"]
    res = run_cli(*base, "--arch", "00000000", "--arch", "nb-macro:12121212", "--pass-gap-s", "4")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["measured"] == 2
    rows = net_rows(store)  # whole networks: 3 passes by default, the fastest counts
    assert sorted({k for k, _ in rows}) == ["net-nb-macro-r32-w1-c10-00000000-fp32",
                                            "net-nb-macro-r32-w1-c10-12121212-fp32"] and len(rows) == 6
    with Store(store) as s:
        best = s.rows(networks=True, estimate="min")
        # every timed row counts, a pass flagged as disturbed by other work too (a busy machine flags some)
        timed = [r for r in s.rows(networks=True, status=None, latest=False)
                 if r["status"] == "ok" or (r["error"] or "").startswith(DISTURBED)]
        assert [r["median_ms"] for r in best] == [min(r["median_ms"] for r in timed if r["net_key"] == b["net_key"])
                                                  for b in best]
    # passes start >= --pass-gap-s apart, also for the first network (converted first). A row is stamped when its
    # measurement ends, and a busy machine can stretch one measurement by a second: without the gap they would be
    # a fraction of a second apart.
    # (a pass-1 measurement flagged as disturbed is measured again at the end of pass 1: not a pass of its own)
    stamps = [datetime.fromisoformat(t) for t, info in query(
        store, "SELECT created_at, info FROM networks WHERE net_key LIKE '%00000000%' ORDER BY id")
        if str(json.loads(info or "{}").get("remeasure_of") or "pass").startswith("pass")]
    assert all((b - a).total_seconds() >= 3.0 for a, b in itertools.pairwise(stamps)), stamps
    bad = run_cli(*base, "--arch", "0000000")
    assert bad.returncode == 2 and "0000000" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
