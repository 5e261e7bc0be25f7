"""A real AOSP adbd on a loopback port, for the ADB tests (built by tests/adbd/build.sh).

`adbd` fixture: a running daemon with a temp authorized-keys file holding the test key, a
`getprop` stub on its PATH, and $EDGELAT_ADB_KEY pointing at the test key. Tests that need it
skip with the build script's reason where adbd cannot be built (no root/apt-get).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from loopback import free_port, wait_listening

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "tests" / "adbd" / "build.sh"
STUB_BIN = REPO / "tests" / "adbd" / "bin"
FIXTURES = REPO / "tests" / "fixtures" / "benchmark_model"
FAKE_BENCHMARK = REPO / "tests" / "fakes" / "fake_benchmark_model.sh"


class Adbd:
    """One adbd process on 127.0.0.1:port; can be killed and restarted on the same port."""

    def __init__(self, binary: Path, root: Path, keys_file: Path, key: Path) -> None:
        self.binary, self.root, self.keys_file, self.key = binary, root, keys_file, key
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = root / "adbd.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "ADBD_PORT": str(self.port), "ADBD_AUTH_KEYS": str(self.keys_file),
               "PATH": f"{STUB_BIN}:{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}",
               "EDGELAT_FAKE_FIXTURES": str(FIXTURES)}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(self.binary)], cwd=self.root, env=env, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        wait_listening(self.proc, self.port, self.log, "adbd", 10)

    def kill(self) -> None:
        """SIGKILL the daemon and its shells (its own process group)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        self.kill()


@pytest.fixture(scope="session")
def adbd_binary() -> Path:
    """Build (or reuse the cached) adbd; skip with the reason where it cannot be built."""
    res = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, timeout=1800)
    if res.returncode == 77:
        pytest.skip(f"adbd cannot be built here: {res.stderr.strip().splitlines()[-1] if res.stderr else ''}")
    if res.returncode != 0:
        pytest.fail(f"tests/adbd/build.sh failed:\n{res.stderr[-2000:]}")
    return Path(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def adb_key(tmp_path_factory) -> Path:
    """One test RSA key pair for the session (written the way edgelat writes ~/.android/adbkey)."""
    from edgelat.devices.adb_transport import load_signer

    path = tmp_path_factory.mktemp("adbkey") / "adbkey"
    load_signer(path, generate=True)
    return path


@pytest.fixture()
def adbd(adbd_binary, adb_key, tmp_path, monkeypatch) -> Adbd:
    """A running adbd that accepts the test key; $EDGELAT_ADB_KEY points at that key."""
    keys = tmp_path / "adb_keys"
    keys.write_text(Path(f"{adb_key}.pub").read_text())
    root = tmp_path / "adbd-root"
    root.mkdir()
    daemon = Adbd(adbd_binary, root, keys, adb_key)
    daemon.start()
    monkeypatch.setenv("EDGELAT_ADB_KEY", str(adb_key))
    yield daemon
    daemon.stop()


def board_device_file(path: Path, daemon: Adbd, workdir: Path, **extra: object) -> Path:
    """A device file for the loopback daemon as a Linux board (the test venv's python runs the runner)."""
    fields = {"name": "loopback-board", "kind": "edge-cpu", "transport": "adb", "runtime": "litert",
              "delegate": "xnnpack", "threads": 1, "cpu_mask": "0x1", "address": daemon.address,
              "workdir": str(workdir), "python": sys.executable, **extra}
    path.write_text("".join(f"{k} = {_toml(v)}\n" for k, v in fields.items()))
    return path


def phone_device_file(path: Path, daemon: Adbd, workdir: Path, **extra: object) -> Path:
    """A device file for the loopback daemon as an Android phone running the FAKE benchmark_model."""
    fields = {"name": "loopback-phone", "kind": "phone", "transport": "adb", "runtime": "benchmark_model",
              "delegate": "none", "threads": 1, "cpu_mask": "0x1", "address": daemon.address,
              "workdir": str(workdir), "benchmark_binary": str(FAKE_BENCHMARK), **extra}
    path.write_text("".join(f"{k} = {_toml(v)}\n" for k, v in fields.items()))
    return path


def _toml(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
