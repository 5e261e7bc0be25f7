"""ADB transport: shell, push and pull on a phone or Linux board through the `adb-shell` library.

TCP (``host:port``) is built in; USB needs the optional extra ``pip install 'edgelat[usb]'``
(libusb1). The RSA key lives at ``~/.android/adbkey`` (or ``$EDGELAT_ADB_KEY``) and is
generated if missing. Every call has a bounded timeout; a dropped connection is re-opened
with exponential backoff, and after a bounded number of attempts a TransportError says so.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from edgelat.errors import CommandTimeoutError, DeviceAuthError, MissingDependencyError, TransportError

KEY_ENV = "EDGELAT_ADB_KEY"
_RC_MARK = "@@EDGELAT_RC="
T = TypeVar("T")


def default_key_path() -> Path:
    """$EDGELAT_ADB_KEY, else ~/.android/adbkey (the adb tool's own key)."""
    return Path(os.environ.get(KEY_ENV) or Path.home() / ".android" / "adbkey").expanduser()


def load_signer(path: Path | None = None, generate: bool = True) -> Any:
    """The RSA signer for `path`; creates the key pair first when it is missing and `generate`."""
    from adb_shell.auth.keygen import keygen
    from adb_shell.auth.sign_pythonrsa import PythonRSASigner

    path = path or default_key_path()
    pub = Path(f"{path}.pub")
    if not path.exists():
        if not generate:
            raise DeviceAuthError(f"no ADB key at {path}: create one with `adb keygen {path}` or unset {KEY_ENV}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            keygen(str(path))
        except OSError as exc:
            raise DeviceAuthError(f"no ADB key at {path} and cannot create one there: {exc.strerror}") from None
    try:
        if not pub.exists():
            from adb_shell.auth.keygen import write_public_keyfile

            write_public_keyfile(str(path), str(pub))
        return PythonRSASigner(pub.read_text(), path.read_text())
    except (OSError, ValueError) as exc:
        raise DeviceAuthError(f"cannot read the ADB key {path}: {exc}") from None


@dataclass(frozen=True)
class ShellResult:
    """What a remote command printed (stdout and stderr together, as adb's shell gives them) and its exit code."""

    output: str
    exit_code: int

    def check(self, what: str) -> str:
        if self.exit_code != 0:
            tail = self.output.strip()[-300:]
            raise TransportError(f"{what} failed on the device (exit code {self.exit_code}): {tail}")
        return self.output


def _split_target(target: str) -> tuple[str, int] | None:
    """("host", port) when `target` is a TCP address, None for a USB serial."""
    host, sep, port = target.rpartition(":")
    if sep and host and port.isdigit():
        return host.strip("[]"), int(port)
    return None


class AdbTransport:
    """One ADB connection to one device, re-opened on demand.

    `target` is ``host:port`` (TCP) or a USB serial. `use_key=False` offers no key (for tests
    of the daemon's refusal). `retries` bounds reconnection attempts per call; the wait doubles
    from `backoff_s` up to `max_backoff_s`.
    """

    def __init__(self, target: str, key_path: Path | None = None, *, use_key: bool = True,
                 connect_timeout_s: float = 10.0, auth_timeout_s: float = 10.0, command_timeout_s: float = 300.0,
                 retries: int = 4, backoff_s: float = 0.5, max_backoff_s: float = 8.0) -> None:
        self.target = target
        self.key_path = key_path or default_key_path()
        self.use_key = use_key
        self.connect_timeout_s = connect_timeout_s
        self.auth_timeout_s = auth_timeout_s
        self.command_timeout_s = command_timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.reconnects = 0
        self.gone = False  # set when reconnection gave up: callers skip further work on this device
        self._dev: Any = None
        self._signer = load_signer(self.key_path) if use_key else None

    # -- connection --------------------------------------------------------------------
    def _new_device(self) -> Any:
        addr = _split_target(self.target)
        if addr is not None:
            from adb_shell.adb_device import AdbDevice

            return AdbDevice(_eof_aware_tcp(addr[0], addr[1]), default_transport_timeout_s=self.connect_timeout_s)
        try:
            import usb1  # noqa: F401  (adb-shell's USB path needs it)
            from adb_shell.adb_device import AdbDeviceUsb
        except ImportError:
            raise MissingDependencyError(
                f"{self.target!r} is a USB serial; ADB over USB needs libusb1: pip install 'edgelat[usb]' "
                f"(or give the device's address as host:port)"
            ) from None
        return AdbDeviceUsb(serial=self.target, default_transport_timeout_s=self.connect_timeout_s)

    def connect(self) -> None:
        """Open the connection and authenticate; errors say what the user should do."""
        from adb_shell.exceptions import DeviceAuthError as LibAuthError

        self.close()
        dev = self._new_device()
        keys = [self._signer] if self._signer is not None else None
        try:
            dev.connect(rsa_keys=keys, auth_timeout_s=self.auth_timeout_s, read_timeout_s=self.connect_timeout_s)
        except LibAuthError:
            self._close_dev(dev)
            raise DeviceAuthError(
                f"{self.target}: the device requires ADB authentication and edgelat offered no key; "
                f"set {KEY_ENV} or create {self.key_path} (`adb keygen {self.key_path}`)"
            ) from None
        except Exception as exc:
            self._close_dev(dev)
            if keys and _is_timeout(exc):
                raise DeviceAuthError(
                    f"{self.target}: no answer to our key {self.key_path}.pub within {self.auth_timeout_s:g} s: "
                    f"accept the debugging prompt on the phone ('Allow USB debugging' from this computer, tick "
                    f"'Always allow'), then retry"
                ) from None
            raise TransportError(f"{self.target}: cannot connect: {_describe(exc)}") from None
        self._dev = dev

    def _ensure(self) -> Any:
        if self._dev is None:
            self.connect()
        return self._dev

    def _with_retry(self, what: str, fn: Callable[[Any], T]) -> T:
        """Run fn(device); on a dropped connection reconnect with backoff, at most `retries` times."""
        delay = self.backoff_s
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
                self.reconnects += 1
            try:
                result = fn(self._ensure())
                self.gone = False
                return result
            except (DeviceAuthError, CommandTimeoutError):
                raise
            except TransportError as exc:  # connect() failed: retry
                last = exc
            except Exception as exc:
                if not _is_connection_error(exc):
                    raise
                last = TransportError(_describe(exc))
            self.close()
        self.gone = True
        raise TransportError(
            f"{self.target}: device unreachable during {what} after {self.retries} reconnection attempts "
            f"({last}); check the cable/network, then re-run the same command to resume"
        )

    def _answers(self) -> bool:
        """Whether the device answers a trivial command on a fresh connection, within the connect timeout."""
        self.close()
        try:
            out = self._ensure().shell("echo edgelat-ok", transport_timeout_s=self.connect_timeout_s,
                                       read_timeout_s=self.connect_timeout_s, timeout_s=self.connect_timeout_s)
            return "edgelat-ok" in str(out)
        except Exception:
            self.close()
            return False

    def close(self) -> None:
        if self._dev is not None:
            self._close_dev(self._dev)
            self._dev = None

    @staticmethod
    def _close_dev(dev: Any) -> None:
        try:
            dev.close()
        except Exception:  # closing a dead socket: nothing left to release
            pass

    # -- operations ----------------------------------------------------------------------
    def shell(self, command: str, timeout_s: float | None = None) -> ShellResult:
        """Run `command` in the device's /bin/sh; its output and exit code (bounded by a timeout)."""
        timeout = timeout_s or self.command_timeout_s
        wrapped = f"( {command} ); printf '\\n{_RC_MARK}%d\\n' $?"

        def run(dev: Any) -> str:
            # The per-read socket timeout is the command's whole budget: a runner that is silent
            # while it starts on a busy board is slow, not gone (adb-shell's default is 10 s).
            try:
                return dev.shell(wrapped, transport_timeout_s=timeout, read_timeout_s=timeout, timeout_s=timeout)
            except Exception as exc:
                if _is_timeout(exc) and self._answers():
                    raise CommandTimeoutError(
                        f"{self.target}: `{command[:60]}` did not finish within {timeout:g} s; the device still "
                        f"answers, so it is busy or slow, not unreachable (raise 'startup_timeout_s' in the "
                        f"device file for slow boards)") from None
                raise

        raw = self._with_retry(f"`{command[:60]}`", run)
        body, sep, tail = raw.rpartition("\n" + _RC_MARK)
        if not sep or not tail.strip().isdigit():
            raise TransportError(f"{self.target}: `{command[:60]}` ended without an exit code (output: {raw[-300:]!r})")
        return ShellResult(body, int(tail.strip()))

    def push(self, local: str | Path, remote: str, mode: int = 0o644) -> None:
        size = os.path.getsize(local)
        timeout = max(30.0, size / 1e6)  # >= 1 MB/s

        def run(dev: Any) -> None:
            dev.push(str(local), remote, st_mode=0o100000 | mode, read_timeout_s=timeout)

        self._with_retry(f"push of {local}", run)

    def pull(self, remote: str, local: str | Path) -> None:
        def run(dev: Any) -> None:
            dev.pull(remote, str(local), read_timeout_s=self.command_timeout_s)

        self._with_retry(f"pull of {remote}", run)

    def checksum(self, remote: str) -> str | None:
        """sha256 of a remote file, or None if it does not exist (toybox and coreutils both have sha256sum)."""
        res = self.shell(f"sha256sum {shlex.quote(remote)} 2>/dev/null")
        if res.exit_code != 0:
            return None
        digest = res.output.split()[0] if res.output.split() else ""
        return digest if len(digest) == 64 else None

    def __enter__(self) -> AdbTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _eof_aware_tcp(host: str, port: int) -> Any:
    """adb-shell's TCP transport, but a closed socket raises at once (the stock one returns b'' and the
    caller then waits for its whole read timeout, which hides a dead device for minutes)."""
    from adb_shell.transport.tcp_transport import TcpTransport

    class EofAwareTcpTransport(TcpTransport):
        def bulk_read(self, numbytes: int, transport_timeout_s: float | None) -> bytes:
            data = super().bulk_read(numbytes, transport_timeout_s)
            if not data and numbytes:
                raise ConnectionResetError(f"{host}:{port}: the device closed the connection")
            return data

    return EofAwareTcpTransport(host, port)


def _is_timeout(exc: Exception) -> bool:
    from adb_shell.exceptions import AdbTimeoutError, TcpTimeoutException

    return isinstance(exc, TcpTimeoutException | AdbTimeoutError | TimeoutError)


def _is_connection_error(exc: Exception) -> bool:
    from adb_shell import exceptions as e

    lib = (e.TcpTimeoutException, e.AdbConnectionError, e.InvalidResponseError, e.InvalidCommandError,
           e.UsbReadFailedError, e.UsbWriteFailedError, e.AdbTimeoutError, e.InvalidChecksumError)
    return isinstance(exc, (OSError, *lib))


def _describe(exc: Exception) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is adbd listening on that port? on a phone: `adb tcpip PORT`)"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
