"""Transports: how edgelat reaches a device to start a process and talk to it.

A backend is a transport plus an output parser, kept separate (as in nn-Meter). The local
transport starts a process on this machine and exchanges lines with it, with timeouts.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections import deque

from edgelat.errors import TransportError


class LineProcess:
    """A child process spoken to in lines over stdin/stdout, with a read timeout.

    stderr is kept in a bounded buffer (drained on every read) so a crash can be reported.
    """

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.argv = argv
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, bufsize=0,
            )
        except OSError as exc:
            raise TransportError(f"cannot start {argv[0]}: {exc.strerror}") from None
        self._stdout_buf = b""
        self._stderr_tail: deque[bytes] = deque(maxlen=64)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ, "out")
        self._sel.register(self.proc.stderr, selectors.EVENT_READ, "err")

    @property
    def name(self) -> str:
        """The script or program name, for messages."""
        script = next((a for a in self.argv[1:] if a.endswith(".py")), self.argv[0])
        return os.path.basename(script)

    @property
    def stderr_tail(self) -> str:
        return b"".join(self._stderr_tail).decode(errors="replace")[-4000:]

    def send(self, line: str) -> None:
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            tail = self.stderr_tail.strip()[-300:]
            raise TransportError(f"{self.name} exited (code {self.proc.poll()}): {tail}") from None

    def readline(self, timeout_s: float) -> str:
        """Next stdout line; TransportError on timeout or if the process dies first."""
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._stdout_buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportError(f"no answer from {self.name} within {timeout_s:.0f} s")
            events = self._sel.select(remaining)
            for key, _ in events:
                chunk = os.read(key.fileobj.fileno(), 65536)
                if key.data == "err":
                    if chunk:
                        self._stderr_tail.append(chunk)
                    else:  # EOF stays readable: stop watching it or select() would spin
                        self._sel.unregister(key.fileobj)
                    continue
                if not chunk:
                    self.proc.wait(timeout=5)
                    tail = self.stderr_tail.strip()[-300:] or "no stderr"
                    raise TransportError(f"{self.name} exited with code {self.proc.returncode}: {tail}")
                self._stdout_buf += chunk
        line, self._stdout_buf = self._stdout_buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._sel.close()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()
