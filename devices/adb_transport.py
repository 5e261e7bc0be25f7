"""ADB transport: shell, push and pull on a phone or Linux board through the `adb-shell` library.

TCP (``host:port``) is built in; USB needs the optional extra ``pip install 'edgelat[usb]'``
(libusb1). The RSA key lives at ``~/.android/adbkey`` (or ``$EDGELAT_ADB_KEY``) and is
generated if missing. Every call has a bounded timeout; a dropped connection is re-opened
with exponential backoff, and after a bounded number of attempts a TransportError says so.
Commands run through adbd's shell protocol, whose exit-code packet tells a complete answer from
a cut one (see `adb_shell_protocol`); an answer without it is asked again once, then is an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgelat.devices import adb_shell_protocol
from edgelat.devices.adb_shell_protocol import GarbledAnswer, ShellProtocolRefused
from edgelat.devices.remote_transport import RemoteTransport, ShellResult
from edgelat.errors import DeviceAuthError, MissingDependencyError, TransportError

KEY_ENV = "EDGELAT_ADB_KEY"
_RC_MARK = "@@EDGELAT_RC="


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


def _split_target(target: str) -> tuple[str, int] | None:
    """("host", port) when `target` is a TCP address, None for a USB serial."""
    host, sep, port = target.rpartition(":")
    if sep and host and port.isdigit():
        return host.strip("[]"), int(port)
    return None


class AdbTransport(RemoteTransport):
    """One ADB connection to one device, re-opened on demand (retries and timeouts: RemoteTransport).

    `target` is ``host:port`` (TCP) or a USB serial. `use_key=False` offers no key (for tests
    of the daemon's refusal).
    """

    def __init__(self, target: str, key_path: Path | None = None, *, use_key: bool = True,
                 connect_timeout_s: float = 10.0, auth_timeout_s: float = 10.0, command_timeout_s: float = 300.0,
                 retries: int = 4, backoff_s: float = 0.5, max_backoff_s: float = 8.0) -> None:
        super().__init__(target, connect_timeout_s=connect_timeout_s, command_timeout_s=command_timeout_s,
                         retries=retries, backoff_s=backoff_s, max_backoff_s=max_backoff_s)
        self.key_path = key_path or default_key_path()
        self.use_key = use_key
        self.auth_timeout_s = auth_timeout_s
        self._signer = load_signer(self.key_path) if use_key else None
        self.shell_protocol: bool | None = None  # adbd's shell protocol (v2): None until the first command
        self.garbled_answers = 0  # answers asked again because they came back without an exit code

    @property
    def host(self) -> str:
        addr = _split_target(self.target)
        return addr[0] if addr else ""

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

    def _open(self) -> Any:
        """Open the connection and authenticate; errors say what the user should do."""
        from adb_shell.exceptions import DeviceAuthError as LibAuthError

        dev = self._new_device()
        keys = [self._signer] if self._signer is not None else None
        try:
            dev.connect(rsa_keys=keys, auth_timeout_s=self.auth_timeout_s, read_timeout_s=self.connect_timeout_s)
        except LibAuthError:
            self._close_conn(dev)
            raise DeviceAuthError(
                f"{self.target}: the device requires ADB authentication and edgelat offered no key; "
                f"set {KEY_ENV} or create {self.key_path} (`adb keygen {self.key_path}`)"
            ) from None
        except Exception as exc:
            self._close_conn(dev)
            if keys and self._is_timeout(exc):
                raise DeviceAuthError(
                    f"{self.target}: no answer to our key {self.key_path}.pub within {self.auth_timeout_s:g} s: "
                    f"accept the debugging prompt on the phone ('Allow USB debugging' from this computer, tick "
                    f"'Always allow'), then retry"
                ) from None
            raise TransportError(f"{self.target}: cannot connect: {self._describe(exc)}") from None
        return dev

    def _close_conn(self, conn: Any) -> None:
        try:
            conn.close()
        except Exception:  # closing a dead socket: nothing left to release
            pass

    def _exec(self, conn: Any, command: str, timeout_s: float) -> ShellResult:
        """Run `command`; a garbled answer (no exit code) is asked again once, then is an error.

        Every command edgelat sends a device is idempotent, so asking again is safe.
        """
        try:
            return self._exec_once(conn, command, timeout_s)
        except GarbledAnswer as first:
            self.garbled_answers += 1
            try:
                return self._exec_once(conn, command, timeout_s)
            except GarbledAnswer as second:
                raise TransportError(f"{self.target}: `{command[:60]}` was answered garbled twice ({first}; then "
                                     f"{second}); the device or its link drops data: check the cable/network "
                                     f"and re-run the same command to resume") from None

    def _exec_once(self, conn: Any, command: str, timeout_s: float) -> ShellResult:
        if self.shell_protocol is not False:
            try:
                answer = adb_shell_protocol.run(conn, command, timeout_s)
                self.shell_protocol = True
                return ShellResult(answer.output, answer.exit_code)
            except ShellProtocolRefused:
                if self.shell_protocol:  # it worked on this device before: a refusal now is a fault
                    raise GarbledAnswer(f"{self.target}: the shell protocol was refused mid-session") from None
                self.shell_protocol = False
        return self._exec_legacy(conn, command, timeout_s)

    def _exec_legacy(self, conn: Any, command: str, timeout_s: float) -> ShellResult:
        """adbd before Android 7: the legacy service gives no exit code, so the command prints it after a marker."""
        wrapped = f"( {command} ); printf '\\n{_RC_MARK}%d\\n' $?"
        # The per-read socket timeout is the command's whole budget (adb-shell's default is 10 s).
        raw = str(conn.shell(wrapped, transport_timeout_s=timeout_s, read_timeout_s=timeout_s, timeout_s=timeout_s))
        body, sep, tail = raw.rpartition("\n" + _RC_MARK)
        if not sep or not tail.strip().isdigit():
            raise GarbledAnswer(f"the answer ended without its exit-code marker (output: {raw[-200:]!r})")
        return ShellResult(body, int(tail.strip()))

    def _push_file(self, conn: Any, local: Path, remote: str, mode: int, timeout_s: float) -> None:
        conn.push(str(local), remote, st_mode=0o100000 | mode, read_timeout_s=timeout_s)

    def _pull_file(self, conn: Any, remote: str, local: Path, timeout_s: float) -> None:
        conn.pull(remote, str(local), read_timeout_s=timeout_s)

    def _is_timeout(self, exc: Exception) -> bool:
        from adb_shell.exceptions import AdbTimeoutError, TcpTimeoutException

        return isinstance(exc, TcpTimeoutException | AdbTimeoutError | TimeoutError)

    def _is_connection_error(self, exc: Exception) -> bool:
        from adb_shell import exceptions as e

        lib = (e.TcpTimeoutException, e.AdbConnectionError, e.InvalidResponseError, e.InvalidCommandError,
               e.UsbReadFailedError, e.UsbWriteFailedError, e.AdbTimeoutError, e.InvalidChecksumError)
        return isinstance(exc, (OSError, *lib))

    def _describe(self, exc: Exception) -> str:
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused (is adbd listening on that port? on a phone: `adb tcpip PORT`)"
        return super()._describe(exc)


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

