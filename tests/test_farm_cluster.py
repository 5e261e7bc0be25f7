"""The device farm on a real local Ray cluster: a head node with the host runner and a second node
with a board reached over the loopback sshd, all units of one model; the second node is killed
mid-campaign. The head's third unit, a broken board behind the loopback adbd, always fails."""

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
from sshd_daemon import Sshd

from conftest import run_cli

pytest.importorskip("ray", reason="the farm tests need Ray: pip install 'edgelat[farm]'")

MODEL = "farmcpu"
N_BLOCKS = 14


def ok_rows(store: Path) -> list[tuple[str, str]]:
    if not store.exists():
        return []
    db = sqlite3.connect(store)
    try:  # the campaign creates the file a moment before its tables: polled in between, that is no rows yet
        if not db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='measurements'").fetchone():
            return []
        return db.execute("SELECT block_key, unit FROM measurements WHERE status='ok' ORDER BY id").fetchall()
    finally:
        db.close()


def write_farm(path: Path, node: str, *unit_files: Path, ssh: str | None = None) -> Path:
    """A farm file; `ssh` reaches its units' boards over SSH (the farm file's per-unit `ssh`)."""
    over_ssh = f'ssh = "{ssh}"\n' if ssh else ""
    units = "".join(f'[[unit]]\ndevice_file = "{f}"\n{over_ssh}' for f in unit_files)
    path.write_text(f'node = "{node}"\nhost_cpu = false\n{units}')
    return path


@pytest.fixture()
def farm(adbd, sshd, tmp_path):
    """Head (host runner on CPU 1, and an adbd board unit that always fails) + node2 (a board on CPU 0,
    reached over the loopback sshd).

    Both nodes are killed at the end, whatever happens. The broken unit pins its runner to a CPU
    this machine lacks, so each of its measurements fails (a real runner error).
    """
    host_file = tmp_path / "farmcpu-host.toml"
    host_file.write_text(f'name = "{MODEL}"\nkind = "host"\ntransport = "local"\nruntime = "litert"\n'
                         'delegate = "xnnpack"\nthreads = 1\ncpu_mask = "0x2"\n')
    board_file = board_device_file(tmp_path / "farmcpu-board.toml", adbd, tmp_path / "board-work", name=MODEL)
    broken = board_device_file(tmp_path / "broken.toml", adbd, tmp_path / "broken-work", name=MODEL,
                               cpu_mask=hex(1 << os.cpu_count()))
    env = {"EDGELAT_CPU_GATE_DIR": str(tmp_path / "gate")}
    nodes = []
    try:
        for name, unit_files in (("head", (host_file, broken)), ("node2", (board_file,))):
            farm_file = write_farm(tmp_path / f"{name}.toml", name, *unit_files,
                                   ssh=Sshd.alias if name == "node2" else None)
            res = run_cli("farm-resources", env={"EDGELAT_FARM": str(farm_file)})
            assert res.returncode == 0, res.stderr
            resources = json.loads(res.stdout)
            assert resources[f"device:{MODEL}"] == len(unit_files) and len(resources) == 1 + len(unit_files)
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
    broken_unit = f"{MODEL}@head:127.0.0.1:"  # the head's board unit (its address is the same adbd)
    store = tmp_path / "farm.sqlite"
    args = ["profile", "--device-file", str(host_file), "--cluster", head.address, "--sample", "random",
            "--ranges", str(tiny_ranges), "--n", str(N_BLOCKS), "--store", str(store), "--cache-dir", str(cache_dir),
            "--runs", "5", "--warmup", "1", "--min-time-ms", "300", "--json"]
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
    assert units == {f"{MODEL}@head", f"{MODEL}@node2"} and not any(u.startswith(broken_unit) for _, u in rows)
    assert summary["measured"] == N_BLOCKS and summary["failed"] == 0
    assert [u.split(":")[0] for u in summary["lost"]] == [f"{MODEL}@node2"] and "lost" in errtext
    assert len(summary["quarantined"]) == 1 and summary["quarantined"][0].startswith(broken_unit)
    assert "3 failures in a row" in errtext and "cannot pin to CPUs" in errtext
    db = sqlite3.connect(store)
    failed = db.execute("SELECT unit, raw_output FROM measurements WHERE status='failed' "
                        "AND error NOT LIKE 'disturbed by other work%'").fetchall()  # not the re-measured ones
    db.close()
    assert len(failed) == 3 and all(u.startswith(broken_unit) and "cannot pin" in raw for u, raw in failed)
    # re-running resumes: nothing left to measure
    again = run_cli(*args, env={"RAY_USAGE_STATS_ENABLED": "0"})
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["already_done"], json.loads(again.stdout)["measured"]) == (N_BLOCKS, 0)
    assert len(ok_rows(store)) == N_BLOCKS
    # --replicate: every block on every unit left; the head's host unit now measures node2's blocks too
    on_node2 = {k for k, u in rows if u.startswith(f"{MODEL}@node2:")}
    rep = run_cli(*args, "--replicate", str(N_BLOCKS), env={"RAY_USAGE_STATS_ENABLED": "0"})
    assert rep.returncode == 0, rep.stderr
    assert json.loads(rep.stdout)["measured"] == len(on_node2) and "quarantined" in rep.stderr
    pairs = [(k, u) for k, u in ok_rows(store)]
    assert len(pairs) == len(set(pairs)) == N_BLOCKS + len(on_node2)  # each (block, unit) once
    report = run_cli("report", str(store), "--json")
    assert report.returncode == 0, report.stderr
    (group,) = json.loads(report.stdout)
    assert group["device"] == MODEL and group["blocks"] == N_BLOCKS and group["spread"]["shared_blocks"] == len(
        on_node2)
    assert set(group["spread"]["units"]) == {u for k, u in pairs if k in on_node2}
