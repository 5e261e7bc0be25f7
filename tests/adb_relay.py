"""An ADB relay on loopback that cuts or splits what a real adbd sends, for the transport's fault tests.

It forwards whole ADB messages (24-byte header plus payload) between one client and the daemon.
Two faults, the ones a phone on a busy USB hub shows:
- `cut_streams`: for that many shell streams, the last data message before the stream's CLSE is
  dropped (what adbd's pseudo-terminal race does to a legacy shell's last bytes);
- `split`: every message from the daemon reaches the client in 1-7 byte pieces a millisecond apart;
- `refuse_shell_protocol`: the relay answers an OPEN of ``shell,v2`` with CLSE, as adbd before
  Android 7 does.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time

_HEADER = struct.Struct("<4sIIIII")  # command, arg0, arg1, data length, checksum, magic
_HOLD_S = 0.2  # how long a data message is held to see whether CLSE follows it


class AdbRelay:
    """Listens on a loopback port and relays to `daemon_port`; `address` is what the client dials."""

    def __init__(self, daemon_port: int, *, cut_streams: int = 0, split: bool = False,
                 refuse_shell_protocol: bool = False) -> None:
        self.daemon_port, self.cut_streams, self.split = daemon_port, cut_streams, split
        self.refuse_shell_protocol = refuse_shell_protocol
        self._client_lock = threading.Lock()
        self.cuts_done = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            daemon = socket.create_connection(("127.0.0.1", self.daemon_port))
            threading.Thread(target=self._pipe_up, args=(client, daemon), daemon=True).start()
            threading.Thread(target=self._pipe_down, args=(daemon, client), daemon=True).start()

    def _pipe_up(self, src: socket.socket, dst: socket.socket) -> None:
        """Client to daemon, message by message; an OPEN of the shell protocol refused when asked."""
        try:
            while True:
                header = _recv_exactly(src, _HEADER.size)
                msg = header + _recv_exactly(src, _HEADER.unpack(header)[3])
                if self.refuse_shell_protocol and msg[:4] == b"OPEN" and msg[_HEADER.size:].startswith(b"shell,v2"):
                    refusal = _HEADER.pack(b"CLSE", 0, _HEADER.unpack(header)[1], 0, 0, 0xFFFFFFFF ^ 0x45534C43)
                    with self._client_lock:
                        src.sendall(refusal)
                    continue
                dst.sendall(msg)
        except OSError:
            pass
        finally:
            dst.close()

    def _pipe_down(self, src: socket.socket, dst: socket.socket) -> None:
        """Daemon to client, message by message, with the faults applied."""
        held: dict[int, tuple[bytes, float]] = {}  # client stream id -> (last data message, when)
        src.settimeout(0.02)
        try:
            while True:
                msg = _read_message(src)
                now = time.monotonic()
                for stream, (_msg, since) in list(held.items()):
                    if now - since > _HOLD_S:
                        self._send(dst, held.pop(stream)[0])
                if msg is None:
                    continue
                command, stream = msg[:4], _HEADER.unpack_from(msg)[2]
                if command == b"WRTE":
                    if stream in held:
                        self._send(dst, held.pop(stream)[0])
                    held[stream] = (msg, now)
                    continue
                if command == b"CLSE" and stream in held:
                    data, _ = held.pop(stream)
                    if self.cuts_done < self.cut_streams:
                        self.cuts_done += 1
                    else:
                        self._send(dst, data)
                self._send(dst, msg)
        except OSError:
            pass
        finally:
            dst.close()

    def _send(self, dst: socket.socket, msg: bytes) -> None:
        with self._client_lock:
            if not self.split:
                dst.sendall(msg)
                return
            pos = 0
            while pos < len(msg):
                step = random.randint(1, 7)
                dst.sendall(msg[pos:pos + step])
                pos += step
                time.sleep(0.001)


def _read_message(sock: socket.socket) -> bytes | None:
    """One whole ADB message, or None when nothing arrived within the socket's timeout."""
    try:
        head = sock.recv(_HEADER.size, socket.MSG_PEEK)
    except TimeoutError:
        return None
    if not head:
        raise ConnectionResetError("the daemon closed the connection")
    sock.settimeout(None)
    try:
        header = _recv_exactly(sock, _HEADER.size)
        return header + _recv_exactly(sock, _HEADER.unpack(header)[3])
    finally:
        sock.settimeout(0.02)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionResetError("the daemon closed the connection")
        buf += chunk
    return buf
