"""What every transport to a remote shell shares (ADB and SSH): bounded reconnects with backoff,
telling a slow command from a gone device, checksums, push and pull.

A subclass opens a connection (`_open`), runs one command on it (`_exec`) and moves files
(`_push_file`, `_pull_file`); everything else, and so every behaviour a campaign relies on, is here.
"""

from __future__ import annotations

import shlex
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from edgelat.errors import CommandTimeoutError, DeviceAuthError, EdgelatError, TransportError

T = TypeVar("T")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ShellResult:
    """What a remote command printed (stdout and stderr together) and its exit code."""

    output: str
    exit_code: int

    def check(self, what: str) -> str:
        if self.exit_code != 0:
            tail = self.output.strip()[-300:]
            raise TransportError(f"{what} failed on the device (exit code {self.exit_code}): {tail}")
        return self.output


class RemoteTransport(ABC):
    """One connection to one device, re-opened on demand.

    `retries` bounds reconnection attempts per call; the wait doubles from `backoff_s` up to
    `max_backoff_s`. After that the device is `gone` and a TransportError says how to resume.
    """

    unreachable_hint = "check the cable/network"

    def __init__(self, target: str, *, connect_timeout_s: float = 10.0, command_timeout_s: float = 300.0,
                 retries: int = 4, backoff_s: float = 0.5, max_backoff_s: float = 8.0) -> None:
        self.target = target
        self.connect_timeout_s = connect_timeout_s
        self.command_timeout_s = command_timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.reconnects = 0
        self.gone = False  # set when reconnection gave up: callers skip further work on this device
        self._conn: Any = None

    # -- what a transport implements -------------------------------------------------------
    @property
    @abstractmethod
    def host(self) -> str:
        """The network host the device is reached at ("" for USB)."""

    @abstractmethod
    def _open(self) -> Any:
        """A new authenticated connection; DeviceAuthError / TransportError say what to do."""

    @abstractmethod
    def _close_conn(self, conn: Any) -> None:
        """Release a connection, quietly (it may be dead)."""

    @abstractmethod
    def _exec(self, conn: Any, command: str, timeout_s: float) -> ShellResult:
        """Run `command` in the device's /bin/sh on `conn`; library errors propagate."""

    @abstractmethod
    def _push_file(self, conn: Any, local: Path, remote: str, mode: int, timeout_s: float) -> None: ...

    @abstractmethod
    def _pull_file(self, conn: Any, remote: str, local: Path, timeout_s: float) -> None: ...

    @abstractmethod
    def _is_timeout(self, exc: Exception) -> bool: ...

    @abstractmethod
    def _is_connection_error(self, exc: Exception) -> bool: ...

    def _describe(self, exc: Exception) -> str:
        return f"{type(exc).__name__}: {str(exc) or type(exc).__name__}"

    # -- connection --------------------------------------------------------------------------
    @property
    def is_local(self) -> bool:
        """Whether the "device" is this machine (tests, benchmarks): it then shares the CPU."""
        return self.host.strip("[]") in LOCAL_HOSTS

    def connect(self) -> None:
        self.close()
        self._conn = self._open()

    def _ensure(self) -> Any:
        if self._conn is None:
            self.connect()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._close_conn(self._conn)
            self._conn = None

    def _with_retry(self, what: str, fn: Callable[[Any], T]) -> T:
        """Run fn(connection); on a dropped connection reconnect with backoff, at most `retries` times."""
        delay = self.backoff_s
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
                self.reconnects += 1
            try:
                conn = self._ensure()
            except DeviceAuthError:
                raise
            except TransportError as exc:  # cannot connect (yet): retry
                last = exc
                self.close()
                continue
            try:
                result = fn(conn)
                self.gone = False
                return result
            except EdgelatError:  # the command's own verdict (timeout, no exit code): not a lost connection
                raise
            except Exception as exc:
                if not self._is_connection_error(exc):
                    raise
                last = TransportError(self._describe(exc))
            self.close()
        self.gone = True
        raise TransportError(
            f"{self.target}: device unreachable during {what} after {self.retries} reconnection attempts "
            f"({last}); {self.unreachable_hint}, then re-run the same command to resume"
        )

    def _answers(self) -> bool:
        """Whether the device answers a trivial command on a fresh connection, within the connect timeout."""
        self.close()
        try:
            res = self._exec(self._ensure(), "echo edgelat-ok", self.connect_timeout_s)
            return "edgelat-ok" in res.output
        except Exception:
            self.close()
            return False

    # -- operations --------------------------------------------------------------------------
    def shell(self, command: str, timeout_s: float | None = None) -> ShellResult:
        """Run `command` in the device's /bin/sh; its output and exit code (bounded by a timeout)."""
        timeout = timeout_s or self.command_timeout_s

        def run(conn: Any) -> ShellResult:
            # The whole budget is the command's: a runner that is silent while it starts on a
            # busy board is slow, not gone.
            try:
                return self._exec(conn, command, timeout)
            except Exception as exc:
                if self._is_timeout(exc) and self._answers():
                    raise CommandTimeoutError(
                        f"{self.target}: `{command[:60]}` did not finish within {timeout:g} s; the device still "
                        f"answers, so it is busy or slow, not unreachable (raise 'startup_timeout_s' in the "
                        f"device file for slow boards)") from None
                raise

        return self._with_retry(f"`{command[:60]}`", run)

    def push(self, local: str | Path, remote: str, mode: int = 0o644) -> None:
        local = Path(local)
        timeout = max(30.0, local.stat().st_size / 1e6)  # >= 1 MB/s
        self._with_retry(f"push of {local}", lambda conn: self._push_file(conn, local, remote, mode, timeout))

    def pull(self, remote: str, local: str | Path) -> None:
        self._with_retry(f"pull of {remote}",
                         lambda conn: self._pull_file(conn, remote, Path(local), self.command_timeout_s))

    def checksums(self, remotes: list[str]) -> dict[str, str]:
        """sha256 of each remote file that exists (toybox and coreutils both have sha256sum)."""
        if not remotes:
            return {}
        res = self.shell("sha256sum " + " ".join(map(shlex.quote, remotes)) + " 2>/dev/null")
        sums: dict[str, str] = {}
        for line in res.output.splitlines():
            digest, _, name = line.strip().partition(" ")
            if len(digest) == 64:
                sums[name.strip().lstrip("*")] = digest
        return sums

    def checksum(self, remote: str) -> str | None:
        """sha256 of a remote file, or None if it does not exist."""
        return self.checksums([remote]).get(remote)

    def __enter__(self) -> RemoteTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
