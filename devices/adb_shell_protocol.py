"""ADB's shell protocol (``shell,v2,raw:``): a command's output and exit code in framed packets.

Why not the legacy ``shell:`` service: adbd runs a legacy command on a pseudo-terminal, and when
the command exits, Linux may report the terminal hung up (EIO) before it has handed over the
last bytes written to it. adbd takes that EIO for the end of the stream and closes it, so the
tail of the output is lost. On a busy machine that happened about once in 300-1,500 commands
(``tests/test_adb_shell_protocol.py``). The shell protocol (adbd since Android 7) runs the
command on pipes and sends the exit code as a packet of its own, so a complete answer can be
told from a cut one. Older devices refuse the service; the transport then falls back to the
legacy service with a printed exit-code marker.

This module reads packets through adb-shell's packet layer (its ``_io_manager``), which is not
public API; pyproject pins adb-shell below 0.5 for that reason.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from edgelat.errors import TransportError

SERVICE = b"shell,v2,raw"
_ID_STDOUT, _ID_STDERR, _ID_EXIT = 1, 2, 3
_HEADER = struct.Struct("<BI")  # packet id, payload length (little-endian)


class ShellProtocolRefused(TransportError):
    """The device does not offer the shell protocol (adbd older than Android 7)."""


class GarbledAnswer(TransportError):
    """The stream ended before its exit-code packet, or its framing is broken."""


@dataclass(frozen=True)
class ShellAnswer:
    """A command's stdout and stderr, interleaved in arrival order, and its exit code."""

    output: str
    exit_code: int


def parse_frames(raw: bytes) -> ShellAnswer:
    """Decode a whole shell-protocol stream; GarbledAnswer when it lacks a complete exit packet."""
    chunks: list[bytes] = []
    pos, exit_code = 0, None
    while pos + _HEADER.size <= len(raw):
        kind, length = _HEADER.unpack_from(raw, pos)
        body = raw[pos + _HEADER.size: pos + _HEADER.size + length]
        if len(body) < length:
            break
        pos += _HEADER.size + length
        if kind in (_ID_STDOUT, _ID_STDERR):
            chunks.append(body)
        elif kind == _ID_EXIT and length == 1:
            exit_code = body[0]
        else:
            raise GarbledAnswer(f"unknown shell-protocol packet id {kind} (length {length})")
    text = b"".join(chunks).decode(errors="replace")
    if exit_code is None or pos != len(raw):
        raise GarbledAnswer(f"the answer ended without its exit code after {len(raw)} bytes "
                            f"(output so far: {text[-200:]!r})")
    return ShellAnswer(text, exit_code)


def run(device: Any, command: str, timeout_s: float) -> ShellAnswer:
    """Run `command` on an adb-shell AdbDevice through the shell protocol; ShellProtocolRefused if absent."""
    from adb_shell import constants
    from adb_shell.adb_message import AdbMessage
    from adb_shell.hidden_helpers import _AdbTransactionInfo

    info = _AdbTransactionInfo(None, None, timeout_s, timeout_s, timeout_s)
    with device._local_id_lock:
        device._local_id = device._local_id % (2**32 - 1) + 1
        info.local_id = device._local_id
    destination = SERVICE + b":" + command.encode() + b"\0"
    device._io_manager.send(AdbMessage(constants.OPEN, info.local_id, 0, destination), info)
    # An adbd without the service answers the OPEN with CLSE (adb-shell's own open waits for OKAY only).
    cmd, remote_id, _, _ = device._io_manager.read([constants.OKAY, constants.CLSE], info)
    if cmd == constants.CLSE:
        raise ShellProtocolRefused("the device refused the shell protocol (shell,v2)")
    info.remote_id = remote_id
    return parse_frames(b"".join(device._read_until_close(info)))
