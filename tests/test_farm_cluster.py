"""The device farm on a real local Ray cluster: a head node with the host runner and a second node
with the loopback adbd "board", both units of one model; the second node is killed mid-campaign."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from adbd_daemon import board_device_file
from ray_cluster import RayNode, wait_for_nodes

from conftest import run_cli

pytest.importorskip("ray", reason="the farm tests need Ray: pip install 'edgelat[farm]'")

MODEL = "farmcpu"
N_BLOCKS = 14


def ok_rows(store: Path) -> list[tuple[str, str]]:
    if not store.exists():
        return []
    db = sqlite3.connect(store)
    try:
        return db.execute("SELECT block_key, unit FROM measurements WHERE status='ok' ORDER BY id").fetchall()
    finally:
        db.close()


def write_farm(path: Path, node: str, unit_file: Path) -> Path:
    path.write_text(f'node = "{node}"\nhost_cpu = false\n[[unit]]\ndevice_file = "{unit_file}"\n')
    return path


@pytest.fixture()
def farm(adbd, tmp_path):
    """Head (host runner on CPU 1) + node2 (the adbd board on CPU 0); both killed at the end, whatever happens."""
    host_file = tmp_path / "farmcpu-host.toml"
    host_file.write_text(f'name = "{MODEL}"\nkind = "host"\ntransport = "local"\nruntime = "litert"\n'
                         'delegate = "xnnpack"\nthreads = 1\ncpu_mask = "0x2"\n')
    board_file = board_device_file(tmp_path / "farmcpu-board.toml", adbd, tmp_path / "board-work", name=MODEL)
    env = {"EDGELAT_CPU_GATE_DIR": str(tmp_path / "gate")}
    nodes = []
    try:
        for name, unit_file in (("head", host_file), ("node2", board_file)):
            farm_file = write_farm(tmp_path / f"{name}.toml", name, unit_file)
            res = run_cli("farm-resources", env={"EDGELAT_FARM": str(farm_file)})
            assert res.returncode == 0, res.stderr
            resources = json.loads(res.stdout)
            assert resources[f"device:{MODEL}"] == 1 and len(resources) == 2
            node = RayNode(name, farm_file, env, head_address=nodes[0].address if nodes else None)
            node.start(res.stdout.strip())
            nodes.append(node)
            wait_for_nodes(nodes[0].address, len(nodes), nodes)
        yield nodes, host_file
    finally:
        for node in reversed(nodes):
            node.kill()


@pytest.mark.slow
def test_node_killed_mid_campaign_every_block_once(farm, tmp_path, tiny_ranges, cache_dir):
    (head, node2), host_file = farm
    store = tmp_path / "farm.sqlite"
    args = ["profile", "--device-file", str(host_file), "--cluster", head.address, "--sample", "random",
            "--ranges", str(tiny_ranges), "--n", str(N_BLOCKS), "--store", str(store), "--cache-dir", str(cache_dir),
            "--runs", "5", "--warmup", "1", "--min-time-ms", "150", "--json"]
    proc = subprocess.Popen([sys.executable, "-m", "edgelat.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    try:
        deadline = time.monotonic() + 300
        while not any(unit.startswith(f"{MODEL}@node2:") for _, unit in ok_rows(store)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the board unit measured nothing"
            time.sleep(0.1)
        before = len(ok_rows(store))
        node2.kill()  # mid-campaign: the board's in-flight blocks must be requeued on the head's unit
        out, errtext = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert before < N_BLOCKS, "the campaign was over before the node was killed"
    assert proc.returncode == 0, errtext
    summary = json.loads(out)
    rows = ok_rows(store)
    keys = [k for k, _ in rows]
    assert len(keys) == N_BLOCKS and len(set(keys)) == N_BLOCKS  # every block, exactly once
    units = {u.split(":")[0] for _, u in rows}
    assert units == {f"{MODEL}@head", f"{MODEL}@node2"}
    assert summary["measured"] == N_BLOCKS and summary["failed"] == 0
    assert [u.split(":")[0] for u in summary["lost"]] == [f"{MODEL}@node2"] and "lost" in errtext
    # re-running resumes: nothing left to measure
    again = run_cli(*args, env={"RAY_USAGE_STATS_ENABLED": "0"})
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["already_done"], json.loads(again.stdout)["measured"]) == (N_BLOCKS, 0)
    assert len(ok_rows(store)) == N_BLOCKS
