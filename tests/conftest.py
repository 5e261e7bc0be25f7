"""Shared fixtures. Tests use real TensorFlow conversion and the real LiteRT interpreter."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from adbd_daemon import adb_key, adbd, adbd_binary  # noqa: F401 - the real-adbd fixtures (tests/adbd/)
from sshd_daemon import ssh_user_key, sshd, sshd_installed  # noqa: F401 - the real-sshd fixtures (tests/sshd/)

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
def arm64_python() -> str:
    """The emulated ARM64 board's python (tests/qemu/build_arm64_board.sh, cached); skip where it cannot be built."""
    res = subprocess.run(["bash", str(REPO / "tests" / "qemu" / "build_arm64_board.sh")], capture_output=True,
                         text=True, timeout=1800)
    if res.returncode == 77:
        pytest.skip(f"no emulated ARM64 board here: {res.stderr.strip().splitlines()[-1] if res.stderr else ''}")
    if res.returncode != 0:
        pytest.fail(f"tests/qemu/build_arm64_board.sh failed:\n{res.stderr[-2000:]}")
    return res.stdout.strip().splitlines()[-1]


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


def start_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the real `edgelat` entry point in its own process group (to SIGKILL it whole)."""
    return subprocess.Popen([sys.executable, "-m", "edgelat.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, **env} if env else None)


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the campaign and its converter workers, with no warning
    proc.communicate(timeout=60)


@pytest.fixture
def cpu_hog():
    """A busy loop on this machine for the test's duration: the co-tenant a shared board or CI
    machine has, which the code under test must survive."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    yield proc
    kill_group(proc)


def query(path, sql: str) -> list[tuple]:
    """The rows of one SQL query on a store file (a connection of its own, closed after)."""
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 240) -> None:
    """Poll `predicate` (a store query) until true; fail if the process ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except sqlite3.OperationalError:  # the store file exists but its schema is not written yet
            pass
        assert proc.poll() is None, f"campaign ended before the kill point: {proc.stderr.read()}"
        time.sleep(0.02)
    raise AssertionError("kill point not reached in time")


# keras.applications models at 96 px, converted once per test session (the kernel tests share them).
def _app(tmp_path_factory, family: str, dtype: str, **kwargs):
    keras = pytest.importorskip("keras")
    from edgelat.core.convert import convert_model

    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, family)(input_tensor=keras.Input((96, 96, 3), batch_size=1), weights=None,
                                                **kwargs)
    path = tmp_path_factory.mktemp("apps") / f"{family}-{dtype}.tflite"
    path.write_bytes(convert_model(model, dtype, calibration_samples=2).data)
    return model, path


@pytest.fixture(scope="session")
def mobilenet_v2(tmp_path_factory):
    return _app(tmp_path_factory, "MobileNetV2", "fp32", alpha=0.35)


@pytest.fixture(scope="session")
def mobilenet_v3_int8(tmp_path_factory):
    return _app(tmp_path_factory, "MobileNetV3Small", "int8", minimalistic=False)
