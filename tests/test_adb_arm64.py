"""Optional slow tier: an emulated ARM64 board (aarch64 Python + LiteRT under qemu-user 10) behind the real adbd.

Proves the pushed runner works on ARM. tests/qemu/build_arm64_board.sh builds the board (cached);
where it cannot (no apt-get/dpkg-deb), the test skips with the reason.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from adbd_daemon import board_device_file

from edgelat.devices.backends.linux_board import LinuxBoardBackend
from edgelat.devices.catalog import load_device_file

from conftest import run_cli


@pytest.mark.slow
def test_campaign_on_emulated_arm64_board(adbd, arm64_python, tmp_path, tiny_ranges, cache_dir, cpu_hog):
    """Under a CPU hog the emulated board starts its runner slowly (often > 10 s): slow, not unreachable."""
    dev_file = board_device_file(tmp_path / "arm64.toml", adbd, tmp_path / "work", python=arm64_python)
    with LinuxBoardBackend(load_device_file(dev_file)) as b:
        assert b.hello["machine"] == "aarch64" and b.runtime == "ai_edge_litert"
    store = tmp_path / "arm.sqlite"
    res = run_cli("profile", "--device-file", str(dev_file), "--sample", "random", "--ranges", str(tiny_ranges),
                  "--n", "2", "--store", str(store), "--cache-dir", str(cache_dir), "--runs", "3", "--warmup", "1",
                  "--min-time-ms", "0", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["measured"] == 2
    db = sqlite3.connect(store)
    rows = db.execute("SELECT status, runtime, median_ms FROM measurements WHERE error IS NULL "
                      "OR error NOT LIKE 'disturbed by other work:%'").fetchall()  # the hog may disturb some
    db.close()
    assert len(rows) == 2 and all(r[0] == "ok" and r[1] == "ai_edge_litert" and r[2] > 0 for r in rows)
