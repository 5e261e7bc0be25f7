"""SSH transport: shell, push and pull on a Linux board over its SSH server, through paramiko.

paramiko rather than asyncssh: its API is blocking, like every other transport here (no event
loop to run inside campaign threads or Ray actors), and it reads OpenSSH's own ``~/.ssh/config``,
``known_hosts`` (hashed entries too) and ssh-agent. It is the optional extra ``edgelat[ssh]``.

Authentication is the user's usual setup: ssh-agent, the config's ``IdentityFile`` and
``IdentitiesOnly``, then the default keys. Nothing ever prompts: a refused key is a one-line
error. Host keys are checked against ``known_hosts`` (the config's ``UserKnownHostsFile`` when it
sets one, and ``/etc/ssh/ssh_known_hosts``); an unknown or changed host key is refused. Files move
through ``cat`` on the board, so boards without an SFTP server work too.
"""

from __future__ import annotations

import getpass
import logging
import os
import shlex
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgelat.devices.remote_transport import RemoteTransport, ShellResult
from edgelat.errors import DeviceAuthError, DeviceFileError, MissingDependencyError, TransportError

CONFIG_ENV = "EDGELAT_SSH_CONFIG"
GLOBAL_KNOWN_HOSTS = Path("/etc/ssh/ssh_known_hosts")
_CHUNK_BYTES = 32768


def _paramiko() -> Any:
    try:
        import paramiko
    except ImportError:
        raise MissingDependencyError("boards reached over SSH need paramiko: pip install 'edgelat[ssh]'") from None
    logging.getLogger("paramiko").addHandler(logging.NullHandler())  # its errors reach the user as ours
    return paramiko


def config_path() -> Path:
    """$EDGELAT_SSH_CONFIG, else ~/.ssh/config (OpenSSH's own)."""
    return Path(os.environ.get(CONFIG_ENV) or Path.home() / ".ssh" / "config").expanduser()


@dataclass(frozen=True)
class SshEndpoint:
    """Where and as whom to log in, after ~/.ssh/config is applied to ``user@host[:port]`` or an alias."""

    user: str
    hostname: str
    port: int
    identity_files: tuple[str, ...]
    identities_only: bool
    known_hosts: tuple[Path, ...]
    proxy_command: str | None

    @property
    def label(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"

    @property
    def host_key_name(self) -> str:
        """The name known_hosts files this host under ("[host]:port" off port 22)."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"


def split_address(address: str) -> tuple[str | None, str, int | None]:
    """(user, host, port) of ``[user@]host[:port]`` (IPv6 as ``[::1]:22``); a bad port is an error."""
    user, _, rest = address.rpartition("@")
    host, port = rest, None
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port_text = tail.removeprefix(":") if tail.startswith(":") else None
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
    else:
        port_text = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise DeviceFileError(f"ssh address {address!r}: port {port_text!r} is not a port number")
        port = int(port_text)
    if not host:
        raise DeviceFileError(f"ssh address {address!r}: no host (expected user@host[:port] or a Host alias)")
    return user or None, host, port


def resolve(address: str, config: Path | None = None) -> SshEndpoint:
    """Apply the SSH config's Host block for `address`'s host; the address's own user and port win."""
    paramiko = _paramiko()
    config = config or config_path()
    user, host, port = split_address(address)
    try:
        cfg = paramiko.SSHConfig.from_path(str(config)).lookup(host) if config.is_file() else {"hostname": host}
    except (OSError, paramiko.ssh_exception.ConfigParseError) as exc:
        raise DeviceFileError(f"{config}: cannot read the SSH config: {exc}") from None
    if "proxyjump" in cfg:
        raise DeviceFileError(f"{config}: field 'ProxyJump' of Host {host}: not supported; use "
                              f"'ProxyCommand ssh -W %h:%p JUMPHOST' instead")
    known = cfg.get("userknownhostsfile", "~/.ssh/known_hosts").split()
    return SshEndpoint(
        user=user or cfg.get("user") or getpass.getuser(),
        hostname=cfg.get("hostname", host),
        port=port or int(cfg.get("port", 22)),
        identity_files=tuple(os.path.expanduser(f) for f in cfg.get("identityfile", [])),
        identities_only=cfg.get("identitiesonly", "no").lower() == "yes",
        known_hosts=tuple(Path(os.path.expanduser(k)) for k in known),
        proxy_command=cfg.get("proxycommand"),
    )


class SshTransport(RemoteTransport):
    """One SSH connection to one board, re-opened on demand (retries and timeouts: RemoteTransport)."""

    unreachable_hint = "check the network and that sshd runs on the board"

    def __init__(self, address: str, *, config: Path | None = None, connect_timeout_s: float = 10.0,
                 command_timeout_s: float = 300.0, retries: int = 4, backoff_s: float = 0.5,
                 max_backoff_s: float = 8.0) -> None:
        super().__init__(address, connect_timeout_s=connect_timeout_s, command_timeout_s=command_timeout_s,
                         retries=retries, backoff_s=backoff_s, max_backoff_s=max_backoff_s)
        self.endpoint = resolve(address, config)

    @property
    def host(self) -> str:
        return self.endpoint.hostname

    # -- connection --------------------------------------------------------------------------
    def _open(self) -> Any:
        paramiko = _paramiko()
        ep = self.endpoint
        client = paramiko.SSHClient()
        for path in (*ep.known_hosts, GLOBAL_KNOWN_HOSTS):
            if path.is_file():
                client.load_system_host_keys(str(path))  # "system": read, never written back
        client.set_missing_host_key_policy(_RefuseUnknownHost())
        keys = [f for f in ep.identity_files if Path(f).is_file()]
        try:
            sock = paramiko.ProxyCommand(ep.proxy_command) if ep.proxy_command else self._socket()
            client.connect(ep.hostname, ep.port, username=ep.user, key_filename=keys or None, sock=sock,
                           allow_agent=not ep.identities_only, look_for_keys=not (ep.identities_only and keys),
                           timeout=self.connect_timeout_s, banner_timeout=self.connect_timeout_s,
                           auth_timeout=self.connect_timeout_s, password=None, passphrase=None)
        except Exception as exc:
            client.close()
            raise self._connect_error(exc, paramiko) from None
        client.get_transport().set_keepalive(15)
        return client

    def _socket(self) -> socket.socket:
        """The TCP connection, without Nagle's delay (it adds ~40 ms to every command's channel)."""
        sock = socket.create_connection((self.endpoint.hostname, self.endpoint.port), timeout=self.connect_timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _connect_error(self, exc: Exception, paramiko: Any) -> Exception:
        """The one-line error for a failed login: what happened, and what the user should do."""
        ep = self.endpoint
        known = ep.known_hosts[0] if ep.known_hosts else "~/.ssh/known_hosts"
        if isinstance(exc, _UnknownHostKey):
            return DeviceAuthError(
                f"{self.target}: host key of {ep.host_key_name} ({exc.key_type} {exc.fingerprint}) is not in "
                f"{known}, and edgelat never accepts one silently: check that fingerprint on the board, then "
                f"accept it with `ssh -p {ep.port} {ep.user}@{ep.hostname}` once (or `ssh-keyscan -p {ep.port} "
                f"{ep.hostname} >> {known}`)")
        if isinstance(exc, paramiko.BadHostKeyException):
            return DeviceAuthError(
                f"{self.target}: the host key of {ep.host_key_name} does NOT match {known} (a reinstalled board, "
                f"or someone in between); if the board was reinstalled: `ssh-keygen -R '{ep.host_key_name}'`")
        if isinstance(exc, paramiko.PasswordRequiredException):
            return DeviceAuthError(f"{self.target}: the key file is passphrase-protected and edgelat never prompts: "
                                   f"load it into ssh-agent first (`ssh-add KEYFILE`)")
        if isinstance(exc, paramiko.AuthenticationException):
            offered = ", ".join(ep.identity_files) or "ssh-agent and ~/.ssh/id_*"
            who = ep.label if self.target == ep.label else f"{self.target} ({ep.label})"
            return DeviceAuthError(
                f"{who} refused our keys ({offered}) and edgelat never asks for a password: add your public "
                f"key to the board (`ssh-copy-id -p {ep.port} {ep.user}@{ep.hostname}`) or load it into ssh-agent")
        if isinstance(exc, ConnectionRefusedError):
            return TransportError(f"{self.target}: cannot connect to {ep.hostname}:{ep.port}: connection refused "
                                  f"(is sshd running on the board, on that port?)")
        return TransportError(f"{self.target}: cannot connect: {self._describe(exc)}")

    def _close_conn(self, conn: Any) -> None:
        try:
            conn.close()
        except Exception:  # a dead transport: nothing left to release
            pass

    # -- commands and files --------------------------------------------------------------------
    def _channel(self, conn: Any, command: str, timeout_s: float, combine: bool = True) -> Any:
        transport = conn.get_transport()
        if transport is None or not transport.is_active():
            raise ConnectionResetError(f"{self.target}: the SSH connection is closed")
        chan = transport.open_session(timeout=self.connect_timeout_s)
        chan.set_combine_stderr(combine)
        chan.settimeout(timeout_s)
        chan.exec_command(command)
        return chan

    def _finish(self, conn: Any, chan: Any, deadline: float, sink: Any = None) -> tuple[bytes, int]:
        """Read the command's output to its end (into `sink` when given) and its exit code, by `deadline`."""
        out = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no end of output in time")
            chan.settimeout(remaining)
            data = chan.recv(_CHUNK_BYTES)  # socket.timeout is TimeoutError
            if not data:
                break
            if sink is not None:
                sink.write(data)
            else:
                out += data
        if not chan.status_event.wait(max(0.1, deadline - time.monotonic())):
            raise TimeoutError("no exit status in time")
        if chan.exit_status == -1:  # closed without a status: the connection dropped, or a signal killed it
            if not conn.get_transport().is_active():
                raise ConnectionResetError(f"{self.target}: the connection closed mid-command")
            return bytes(out), 255
        return bytes(out), chan.exit_status

    def _exec(self, conn: Any, command: str, timeout_s: float) -> ShellResult:
        deadline = time.monotonic() + timeout_s
        chan = self._channel(conn, command, timeout_s)
        try:
            chan.shutdown_write()  # stdin at EOF, as `ssh host cmd < /dev/null`
            out, code = self._finish(conn, chan, deadline)
            return ShellResult(out.decode(errors="replace"), code)
        finally:
            chan.close()

    def _push_file(self, conn: Any, local: Path, remote: str, mode: int, timeout_s: float) -> None:
        """Stream the file into `cat` on the board, then rename: a half-sent file never has the real name."""
        part = shlex.quote(remote + ".part")
        cmd = f"cat > {part} && chmod {mode:o} {part} && mv -f {part} {shlex.quote(remote)}"
        deadline = time.monotonic() + timeout_s
        chan = self._channel(conn, cmd, timeout_s)
        try:
            with open(local, "rb") as f:
                while chunk := f.read(_CHUNK_BYTES):
                    chan.sendall(chunk)
            chan.shutdown_write()
            out, code = self._finish(conn, chan, deadline)
        finally:
            chan.close()
        ShellResult(out.decode(errors="replace"), code).check(f"push of {local} to {remote}")

    def _pull_file(self, conn: Any, remote: str, local: Path, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        chan = self._channel(conn, f"cat {shlex.quote(remote)}", timeout_s, combine=False)
        try:
            chan.shutdown_write()
            with open(local, "wb") as sink:
                _, code = self._finish(conn, chan, deadline, sink=sink)
            err = chan.recv_stderr(4096).decode(errors="replace") if chan.recv_stderr_ready() else ""
        finally:
            chan.close()
        if code != 0:
            local.unlink(missing_ok=True)
            raise TransportError(f"{self.target}: pull of {remote} failed (exit code {code}): {err.strip()[-300:]}")

    def _is_timeout(self, exc: Exception) -> bool:
        return isinstance(exc, TimeoutError)

    def _is_connection_error(self, exc: Exception) -> bool:
        return isinstance(exc, OSError | EOFError | _paramiko().SSHException)


class _UnknownHostKey(Exception):
    def __init__(self, key: Any) -> None:
        super().__init__("unknown host key")
        self.key_type = key.get_name()
        self.fingerprint = key.fingerprint


class _RefuseUnknownHost:
    """paramiko's host-key policy hook: an unknown host is an error, never a silent accept."""

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        raise _UnknownHostKey(key)
