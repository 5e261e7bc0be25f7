"""The ADB transport against a real AOSP adbd on loopback: shell, exit codes, files, authentication, reconnects."""

from __future__ import annotations

import os
import threading
import time

import pytest

from edgelat.devices.adb_transport import AdbTransport, load_signer
from edgelat.errors import CommandTimeoutError, DeviceAuthError, MissingDependencyError, TransportError

pytestmark = pytest.mark.slow  # starts adbd


def test_shell_output_and_exit_codes(adbd):
    with AdbTransport(adbd.address) as t:
        t.connect()
        assert t.shell("echo hello; echo world").output == "hello\nworld\n"
        assert t.shell("printf 'no newline'").output == "no newline"
        assert t.shell("exit 3").exit_code == 3
        res = t.shell("echo to-stderr >&2; false")
        assert (res.output, res.exit_code) == ("to-stderr\n", 1)
        assert t.shell("getprop ro.build.version.sdk").output.strip() == "34"  # the stub on adbd's PATH
        with pytest.raises(TransportError, match="exit code 7"):
            t.shell("exit 7").check("a failing step")


def test_a_silent_slow_command_is_slow_not_unreachable(adbd):
    """A runner that prints nothing while it starts (3 s, beyond the 2 s read timeout set here)
    finishes within its budget; one that overruns its budget is a timeout naming the command, and
    the device, which still answers, is never called unreachable."""
    with AdbTransport(adbd.address, connect_timeout_s=2.0) as t:
        t.connect()
        assert t.shell("sleep 3; echo started", timeout_s=30).output == "started\n"  # 3 s > the 2 s read timeout
        t0 = time.monotonic()
        with pytest.raises(CommandTimeoutError, match="did not finish within 1 s.*not unreachable") as info:
            t.shell("sleep 5; echo late", timeout_s=1)
        assert "unreachable after" not in str(info.value) and time.monotonic() - t0 < 5
        assert t.shell("echo still-here").output == "still-here\n" and t.reconnects == 0


def test_push_pull_round_trip_and_checksum(adbd, tmp_path):
    payload = os.urandom(300_000) + b"\x00end"
    src, back = tmp_path / "src.bin", tmp_path / "back.bin"
    src.write_bytes(payload)
    remote = str(tmp_path / "remote" / "f.bin")
    with AdbTransport(adbd.address) as t:
        t.shell(f"mkdir -p {tmp_path / 'remote'}").check("mkdir")
        t.push(src, remote, mode=0o755)
        t.pull(remote, back)
        assert back.read_bytes() == payload
        import hashlib

        assert t.checksum(remote) == hashlib.sha256(payload).hexdigest()
        assert t.checksum(remote + ".missing") is None
        assert t.shell(f"test -x {remote}").exit_code == 0


def test_key_accepted_unknown_and_missing(adbd, tmp_path):
    with AdbTransport(adbd.address) as t:  # the listed key ($EDGELAT_ADB_KEY)
        t.connect()
    other = tmp_path / "other" / "adbkey"  # generated on first use, as ~/.android/adbkey would be
    t = AdbTransport(adbd.address, key_path=other, auth_timeout_s=1.5)
    assert other.exists() and other.with_name("adbkey.pub").exists()
    start = time.monotonic()
    with pytest.raises(DeviceAuthError, match="accept the debugging prompt on the phone"):
        t.connect()
    assert time.monotonic() - start < 10
    with pytest.raises(DeviceAuthError, match="offered no key"):
        AdbTransport(adbd.address, use_key=False).connect()
    with pytest.raises(DeviceAuthError, match="no ADB key at"):
        load_signer(tmp_path / "absent" / "adbkey", generate=False)


def test_unreachable_and_usb_messages(adbd):
    adbd.kill()
    t = AdbTransport(adbd.address, retries=2, backoff_s=0.05)
    with pytest.raises(TransportError, match="after 2 reconnection attempts.*re-run"):
        t.shell("true")
    assert t.gone  # backends skip their clean-up on a device that is gone
    try:
        import usb1  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match=r"edgelat\[usb\]"):
            AdbTransport("0123456789ABCDEF").connect()


def test_reconnects_with_backoff_after_daemon_restart(adbd):
    t = AdbTransport(adbd.address, retries=6, backoff_s=0.2)
    t.connect()
    assert t.shell("echo before").output == "before\n"
    adbd.kill()
    threading.Timer(0.5, adbd.start).start()
    assert t.shell("echo after").output == "after\n"
    assert t.reconnects >= 1
    t.close()
