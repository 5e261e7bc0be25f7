"""The any-device benchmark's smoke mode runs on the shipped FBNet table and reports every device."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "any_device.py"


@pytest.mark.slow
def test_any_device_smoke_reports_the_held_out_device(tmp_path):
    res = subprocess.run([sys.executable, str(SCRIPT), "--smoke"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    for device in ("essential_ph_1_ms",):
        line = next(ln for ln in res.stdout.splitlines() if ln.startswith(device))
        ceiling, default = float(line.split()[1]), float(line.split()[2])
        assert 0 < default <= ceiling + 0.01  # never above what an additive model fitted on every row reaches
    assert "mean Spearman: default" in res.stdout
