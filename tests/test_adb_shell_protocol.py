"""ADB answers that are cut, split or slow never become wrong ones: a real adbd, behind a relay that injects
the faults a busy machine or a USB hub shows (tests/adb_relay.py)."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest
from adb_relay import AdbRelay

from edgelat.devices.adb_shell_protocol import GarbledAnswer, parse_frames
from edgelat.devices.adb_transport import AdbTransport
from edgelat.devices.hygiene import _snapshot_cmd
from edgelat.errors import TransportError

COMMAND = "echo hello; echo to-stderr >&2; printf 'last words'; exit 3"
# stdout and stderr are two pipes under the shell protocol: their relative order is not kept
EXPECTED = {"hello", "to-stderr", "last words"}


def _frame(kind: int, body: bytes) -> bytes:
    return struct.pack("<BI", kind, len(body)) + body


def test_frames_decode_and_a_stream_without_its_exit_code_is_garbled():
    whole = _frame(1, b"out\n") + _frame(2, b"err\n") + _frame(3, b"\x05")
    answer = parse_frames(whole)
    assert (answer.output, answer.exit_code) == ("out\nerr\n", 5)
    for cut in (whole[:-1], whole[:-6], _frame(1, b"out\n"), b""):
        with pytest.raises(GarbledAnswer, match="without its exit code"):
            parse_frames(cut)


@pytest.mark.parametrize("shell_protocol", [None, False], ids=["shell-protocol", "legacy-shell"])
def test_a_cut_answer_is_asked_again_not_taken(adbd, shell_protocol):
    """The fault seen under load: the stream closed before its last bytes. Before the fix the legacy
    shell raised at once; now the command is asked again and the whole answer is returned."""
    relay = AdbRelay(adbd.port, cut_streams=1)
    try:
        with AdbTransport(relay.address) as t:
            t.shell_protocol = shell_protocol
            res = t.shell(COMMAND)
            assert relay.cuts_done == 1 and t.garbled_answers == 1
            assert (set(res.output.replace("words", "words\n").split("\n")) - {""}, res.exit_code) == (EXPECTED, 3)
    finally:
        relay.close()


def test_an_answer_cut_twice_is_one_clear_error(adbd):
    relay = AdbRelay(adbd.port, cut_streams=2)
    try:
        with AdbTransport(relay.address) as t, pytest.raises(TransportError) as err:
            t.shell("echo hello")
        assert "answered garbled twice" in str(err.value) and "\n" not in str(err.value)
        assert relay.address in str(err.value)
    finally:
        relay.close()


def test_answers_split_into_small_pieces_arrive_whole(adbd):
    relay = AdbRelay(adbd.port, split=True)
    try:
        with AdbTransport(relay.address) as t:
            for code in range(4):
                res = t.shell(f"seq 1 300; exit {code}")
                assert res.exit_code == code
                assert res.output.split() == [str(i) for i in range(1, 301)]
            assert t.shell_protocol is True and t.garbled_answers == 0
    finally:
        relay.close()


def test_an_old_adbd_without_the_shell_protocol_gets_the_legacy_shell(adbd):
    relay = AdbRelay(adbd.port, refuse_shell_protocol=True)
    try:
        with AdbTransport(relay.address) as t:
            res = t.shell(COMMAND)
            assert t.shell_protocol is False
            assert (set(res.output.replace("words", "words\n").split("\n")) - {""}, res.exit_code) == (EXPECTED, 3)
    finally:
        relay.close()


@pytest.mark.slow
def test_hygiene_snapshots_under_a_hog_on_every_core(adbd):
    """The command that lost its exit code under load, 400 times with both cores busy: every answer
    whole and none asked again (the legacy shell lost one in about 300-1,500 here)."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        with AdbTransport(adbd.address) as t:
            for _ in range(400):
                res = t.shell(_snapshot_cmd("/sys/class/thermal", [0]), timeout_s=60)
                assert res.exit_code == 0 and res.output.endswith("F 0   \n")
            assert t.shell_protocol is True and t.garbled_answers == 0
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
