"""Shared fixtures. Tests use real TensorFlow conversion and the real LiteRT interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from adbd_daemon import adb_key, adbd, adbd_binary  # noqa: F401 - the real-adbd fixtures (tests/adbd/)

REPO = Path(__file__).resolve().parent.parent

# Small blocks keep the real conversions and timings fast.
TINY_RANGES = """\
input_hw = [8, 16]
cin = [8, 16]
cout = [8, 16]
expand = [1, 3, 6]
kernel = [3, 5]
stride = [1, 2]
se = [0, 1]
act = ["relu6", "hswish"]
"""


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One conversion cache for the whole session (conversions are the slow part)."""
    return tmp_path_factory.mktemp("tflite-cache")


@pytest.fixture()
def tiny_ranges(tmp_path) -> Path:
    path = tmp_path / "ranges.toml"
    path.write_text(TINY_RANGES)
    return path


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real `edgelat` entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "edgelat.cli", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )
