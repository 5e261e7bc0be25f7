"""The soak benchmark's smoke mode: a real campaign SIGKILLed three times loses and doubles nothing."""

import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py"


@pytest.mark.slow
def test_soak_smoke_loses_and_doubles_nothing(tmp_path):
    res = subprocess.run([sys.executable, str(SOAK), "--smoke"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-2000:] + res.stdout
    assert "rows lost               : 0" in res.stdout and "rows doubled            : 0" in res.stdout
    assert "SIGKILLs                : 3" in res.stdout and "integrity check         : ok" in res.stdout
