"""What the backends of remote devices share, over ADB or SSH alike: connection, work directory,
batch model pushes that reuse files already there (sha256), hygiene, cleanup."""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edgelat.devices.adb_transport import AdbTransport
from edgelat.devices.backends.base import Backend
from edgelat.devices.catalog import Device
from edgelat.devices.hygiene import Hygiene, identity
from edgelat.devices.measurement import Measurement
from edgelat.devices.remote_transport import RemoteTransport
from edgelat.devices.ssh_transport import SshTransport
from edgelat.errors import DeviceFileError, TransportError

MISSING_MODEL_RC = 97  # the remote command's exit code when the pushed model has vanished (device rebooted)


def device_target(device: Device) -> str:
    """The device's ADB target: serial (USB, or host:port) first, then address."""
    target = device.serial or device.address
    if not target:
        raise DeviceFileError(f"{device.source or device.name}: field 'address': an adb device needs 'address' "
                              f"(host:port) or 'serial' in its device file, or --serial")
    return target


def open_transport(device: Device) -> RemoteTransport:
    """The transport the device file asks for: adb (serial or host:port) or ssh (user@host[:port] or an alias)."""
    if device.transport == "ssh":

        if not device.address:
            raise DeviceFileError(f"{device.source or device.name}: field 'address': an ssh board needs 'address' "
                                  f"(user@host[:port] or a Host of ~/.ssh/config) in its device file, or --ssh")
        return SshTransport(device.address)
    return AdbTransport(device_target(device))


def file_sha256(path: Path) -> str:
    """The sha256 of a local file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class RemoteBackend(Backend):
    """Base of the backends of devices reached over a shell transport (ADB or SSH): subclasses
    implement `_setup()` and `_run(remote_model, ...)`."""

    default_workdir = "/data/local/tmp/edgelat"
    android = True

    def __init__(self, device: Device, threads: int | None = None, transport: RemoteTransport | None = None,
                 repeats_if_throttled: int = 1) -> None:
        self.device = device
        self.threads = threads or device.threads
        self.workdir = (device.workdir or self.default_workdir).rstrip("/")
        self.models_dir = posixpath.join(self.workdir, "models")
        self.t = transport or open_transport(device)
        # a "board" on this machine (tests, benchmarks) shares its CPU with the converters: do not overlap
        self.overlaps_conversion = not self.t.is_local
        self.repeats_if_throttled = repeats_if_throttled
        self._pushed: dict[str, str] = {}  # local path -> remote path
        self._identity: dict[str, str] = {}
        try:
            self.t.connect()
            self.t.shell(f"mkdir -p {shlex.quote(self.models_dir)}").check(f"creating {self.models_dir}")
            self._identity = self._read_identity()
            self._setup()
        except BaseException:
            self.t.close()
            raise
        self.hygiene = Hygiene(self.t, device)

    def _read_identity(self) -> dict[str, str]:
        return identity(self.t, self.android)

    def _setup(self) -> None:  # noqa: B027 - optional hook
        pass

    def _run(self, remote_model: str, warmup: int, runs: int, min_time_ms: float) -> Measurement:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        return {"identity": self._identity, "workdir": self.workdir, "target": self.t.target,
                "runtime": self.runtime, "runtime_version": self.runtime_version}

    def _remote_name(self, local: Path) -> str:
        digest = hashlib.sha1(str(local.resolve()).encode()).hexdigest()[:8]
        return posixpath.join(self.models_dir, f"{digest}-{local.name}")

    def prepare(self, model_paths: Iterable[Path]) -> None:
        """Push a batch of models to the work directory before they are measured."""
        new = {str(p): self._remote_name(Path(p)) for p in model_paths if str(p) not in self._pushed}
        there = self.t.checksums(list(new.values()))  # left by an interrupted run: reused, not re-sent
        for local, remote in new.items():
            if there.get(remote) != file_sha256(Path(local)):
                self.t.push(local, remote)
            self._pushed[local] = remote

    def push_if_changed(self, local: Path, remote: str, mode: int = 0o644) -> None:
        """Push `local` unless the device already holds the same bytes at `remote`."""
        if self.t.checksum(remote) != file_sha256(local):
            self.t.push(local, remote, mode=mode)

    def remote_path(self, model_path: Path) -> str:
        """Where a model pushed by `prepare` lives on the device."""
        return self._pushed[str(model_path)]

    def measure(self, model_path: Path, warmup: int, runs: int, min_time_ms: float = 0.0,
                cold: bool = False, evict_bytes: int | None = None) -> Measurement:
        self.prepare([model_path])
        remote = self.remote_path(model_path)
        extra = ({"cold": True} | ({"evict_bytes": evict_bytes} if evict_bytes else {})) if cold else {}
        # (only backends with cold_timing are asked for it)

        def once() -> Measurement:
            m = self._run(remote, warmup, runs, min_time_ms, **extra)
            if not m.ok and m.error == "missing model":  # the device lost it (reboot): push again, once
                self.t.push(model_path, remote)
                m = self._run(remote, warmup, runs, min_time_ms, **extra)
            return m

        m = self.hygiene.measure(once, repeats=self.repeats_if_throttled)
        return Measurement(ok=m.ok, stats=m.stats, runs=m.runs, warmup=m.warmup, threads=m.threads, error=m.error,
                           raw_output=m.raw_output, info={**m.info, "device_identity": self._identity})

    def remove(self, model_path: Path) -> None:
        remote = self._pushed.pop(str(model_path), None)
        if remote:
            self.t.shell(f"rm -f {shlex.quote(remote)}")

    def cleanup(self) -> None:
        """Remove the pushed models (and whatever the subclass lists) from the device."""
        extra = " ".join(shlex.quote(p) for p in self._cleanup_paths())
        self.t.shell(f"rm -rf {shlex.quote(self.models_dir)} {extra}").check("cleaning up the work directory")
        self._pushed.clear()

    def _cleanup_paths(self) -> list[str]:
        return []

    def close(self) -> None:
        try:
            if not self.t.gone:
                self.cleanup()
        except TransportError:
            pass  # the device is gone: nothing to clean; the next run cleans the work directory
        finally:
            self.t.close()
