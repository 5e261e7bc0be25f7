"""Interference detection and passes in a farm campaign, on a real local Ray cluster: a CPU hog
pinned to the unit's CPU disturbs its measurements; the driver keeps each disturbed one as a flagged
row and has the block measured again later, as a local campaign does. Passes measure every block
again, a gap apart, and the fastest pass is the estimate."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime

import pytest
from ray_cluster import RayNode, wait_for_nodes

from edgelat.profiler.store import Store

from conftest import run_cli

pytest.importorskip("ray", reason="the farm tests need Ray: pip install 'edgelat[farm]'")
pytestmark = pytest.mark.slow  # a Ray cluster, and timing under a hog

MODEL = "hogcpu"
N_BLOCKS = 6
HOG = "import os\nos.sched_setaffinity(0, {1})\nwhile True:\n    pass\n"


@pytest.fixture()
def head(tmp_path):
    """A head node whose one unit is this machine's CPU 1 (the runner pinned there)."""
    host_file = tmp_path / "hogcpu.toml"
    host_file.write_text(f'name = "{MODEL}"\nkind = "host"\ntransport = "local"\nruntime = "litert"\n'
                         'delegate = "xnnpack"\nthreads = 1\ncpu_mask = "0x2"\n')
    farm_file = tmp_path / "head.toml"
    farm_file.write_text(f'node = "head"\nhost_cpu = false\n[[unit]]\ndevice_file = "{host_file}"\n')
    env = {"EDGELAT_CPU_GATE_DIR": str(tmp_path / "gate")}
    res = run_cli("farm-resources", env={"EDGELAT_FARM": str(farm_file)})
    assert res.returncode == 0, res.stderr
    node = RayNode("head", farm_file, env)
    try:
        node.start(res.stdout.strip())
        wait_for_nodes(node.address, 1, [node])
        yield node, host_file
    finally:
        node.kill()


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the hog needs the unit's CPU 1")
def test_a_hog_on_the_units_cpu_is_detected_and_its_blocks_measured_again(head, tmp_path, tiny_ranges, cache_dir):
    node, host_file = head
    store = tmp_path / "farm.sqlite"
    args = ["profile", "--device-file", str(host_file), "--cluster", node.address, "--sample", "random",
            "--ranges", str(tiny_ranges), "--n", str(N_BLOCKS), "--store", str(store), "--cache-dir", str(cache_dir),
            "--runs", "20", "--warmup", "2", "--min-time-ms", "200", "--dtype", "fp32", "--json"]
    hog = subprocess.Popen([sys.executable, "-c", HOG])
    try:
        res = run_cli(*args, env={"RAY_USAGE_STATS_ENABLED": "0"}, timeout=600)
    finally:
        hog.kill()
        hog.wait()
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["measured"] == N_BLOCKS
    db = sqlite3.connect(store)
    rows = db.execute("SELECT block_key, status, error, info FROM measurements ORDER BY id").fetchall()
    db.close()
    flagged = [k for k, status, error, _ in rows if status == "failed" and error.startswith("disturbed by other work")]
    again = {k: json.loads(info).get("remeasure_of", "") for k, status, _, info in rows if status == "ok"}
    # The runner shares its CPU with the hog: its runs wait out the hog's time slices, and their spread
    # is far above what a quiet CPU shows (a first measurement's limit is a CV of 0.5).
    assert len(flagged) >= N_BLOCKS // 2, rows
    assert len(set(flagged)) == len(flagged) and len(again) == N_BLOCKS  # flagged once; every block ok once
    assert all(again[k].startswith(("cv ", "drift ")) for k in flagged)
    report = run_cli("report", str(store), "--json")
    (group,) = json.loads(report.stdout)
    assert group["blocks"] == N_BLOCKS and group["remeasured"] == len(flagged)


def test_farm_passes_measure_every_block_again_a_gap_apart(head, tmp_path, tiny_ranges, cache_dir):
    node, host_file = head
    store = tmp_path / "passes.sqlite"
    args = ["profile", "--device-file", str(host_file), "--cluster", node.address, "--sample", "random",
            "--ranges", str(tiny_ranges), "--n", "3", "--store", str(store), "--cache-dir", str(cache_dir),
            "--runs", "5", "--warmup", "1", "--dtype", "fp32", "--passes", "3", "--pass-gap-s", "2", "--json"]
    res = run_cli(*args, env={"RAY_USAGE_STATS_ENABLED": "0"})
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["measured"] == 3 and "pass 3/3" in res.stderr
    db = sqlite3.connect(store)
    rows = db.execute("SELECT block_key, median_ms, info, created_at FROM measurements WHERE status='ok' "
                      "ORDER BY id").fetchall()
    db.close()
    by_block: dict[str, list[tuple[str, float]]] = {}
    first_row_s: dict[str, float] = {}
    for key, ms, info, created in rows:
        why = json.loads(info).get("remeasure_of", "")
        which = why if why.startswith("pass ") else "pass 1"  # pass 1 may be a re-measurement (interference)
        by_block.setdefault(key, []).append((which, ms))
        first_row_s.setdefault(which, datetime.fromisoformat(created).timestamp())
    assert len(by_block) == 3 and all(sorted(p for p, _ in v) == ["pass 1", "pass 2", "pass 3"]
                                      for v in by_block.values())
    db = sqlite3.connect(store)  # a disturbed first measurement (kept, flagged) counts towards the fastest too
    flagged = db.execute("SELECT block_key, median_ms FROM measurements WHERE error LIKE 'disturbed%'").fetchall()
    db.close()
    with Store(store) as s:  # the estimate is the fastest pass
        best = {r["block_key"]: r["median_ms"] for r in s.rows(estimate="min")}
    assert best == {k: min([ms for _, ms in v] + [ms for f, ms in flagged if f == k]) for k, v in by_block.items()}
    assert first_row_s["pass 3"] - first_row_s["pass 2"] > 1.5  # pass 3 began >= 2 s after pass 2 did
    # A campaign cut short between passes resumes part of the way: asked for 4 passes now, each block gets
    # the one pass it misses, and a third run measures nothing.
    more = [a if a != "3" or args[i - 1] != "--passes" else "4" for i, a in enumerate(args)]
    said = []
    for _ in range(2):
        res = run_cli(*more, env={"RAY_USAGE_STATS_ENABLED": "0"})
        assert res.returncode == 0, res.stderr
        said.append("resuming: 3 measured in fewer than 4 passes" in res.stderr)
    assert said == [True, False]
    with Store(store) as s:
        assert s.done_counts("hogcpu", 1) == {k: 4 for k in by_block}
