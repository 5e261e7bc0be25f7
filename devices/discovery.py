"""Which devices (units) are attached to this machine, for a device farm node.

A node's units come from its farm file (``$EDGELAT_FARM``, default ``~/.config/edgelat/farm.toml``):
catalog devices with a USB serial or TCP address, device files, and this machine's CPU
(the ``host`` device, unless ``host_cpu = false``). USB serials are checked against
``adb devices`` when adb is installed; TCP addresses are probed. Each unit becomes Ray custom
resources: ``device:<device model>`` (one per unit) and ``unit:<unit id>`` (1), so one actor can be
placed on exactly that unit. A unit id names the device model, the node and the unit's handle.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edgelat.devices.catalog import Device, get_device, load_device_file
from edgelat.devices.deploy import with_overrides
from edgelat.devices.ssh_transport import resolve
from edgelat.errors import DeviceFileError, OptionError

FARM_ENV = "EDGELAT_FARM"
_TOP_FIELDS = {"node": str, "host_cpu": bool, "unit": list}
_UNIT_FIELDS = {"device": str, "device_file": str, "serial": str, "address": str, "ssh": str, "cpu_mask": str,
                "benchmark_binary": str}
_OVERRIDES = ("serial", "address", "cpu_mask", "benchmark_binary")


@dataclass(frozen=True)
class Unit:
    """One physical device: `device.name` is its device model; `uid` is unique in the cluster."""

    uid: str
    device: Device

    @property
    def device_model(self) -> str:
        return self.device.name

    @property
    def host_cpus(self) -> list[int]:
        """CPUs of this machine that time its measurements (all of them for an unpinned host unit)."""
        if self.device.transport != "local":
            return []
        return self.device.cpus or sorted(os.sched_getaffinity(0))


def farm_file() -> Path:
    return Path(os.environ.get(FARM_ENV) or Path.home() / ".config" / "edgelat" / "farm.toml")


def device_resource(device_model: str) -> str:
    return f"device:{device_model}"


def unit_resource(uid: str) -> str:
    return f"unit:{uid}"


def _fail(path: Path, fld: str, msg: str) -> DeviceFileError:
    return DeviceFileError(f"{path}: field {fld!r}: {msg}")


def read_farm_file(path: Path) -> dict[str, Any]:
    """The farm file as validated data (a missing file means: only this machine's CPU)."""
    if not path.is_file():
        return {"host_cpu": True, "unit": []}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DeviceFileError(f"{path}: not a readable farm file: {exc}") from None
    for key, value in data.items():
        if key not in _TOP_FIELDS:
            raise _fail(path, key, f"unknown field (known: {', '.join(sorted(_TOP_FIELDS))})")
        if not isinstance(value, _TOP_FIELDS[key]):
            raise _fail(path, key, f"expected {_TOP_FIELDS[key].__name__}, got {value!r}")
    for i, unit in enumerate(data.get("unit", [])):
        for key, value in unit.items():
            if key not in _UNIT_FIELDS:
                raise _fail(path, f"unit[{i}].{key}", f"unknown field (known: {', '.join(sorted(_UNIT_FIELDS))})")
            if not isinstance(value, str):
                raise _fail(path, f"unit[{i}].{key}", f"expected str, got {value!r}")
        if ("device" in unit) == ("device_file" in unit):
            raise _fail(path, f"unit[{i}]", "give exactly one of 'device' (a catalog name) or 'device_file'")
    return {"host_cpu": data.get("host_cpu", True), "unit": data.get("unit", []), "node": data.get("node")}


def adb_serials() -> set[str] | None:
    """Serials `adb devices` lists as attached, or None when adb is not installed (then trust the file)."""
    adb = shutil.which("adb")
    if adb is None:
        return None
    try:
        out = subprocess.run([adb, "devices"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {ln.split()[0] for ln in out.splitlines()[1:] if ln.strip().endswith("device")}


def reachable(address: str, timeout: float = 2.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
        return True
    except (OSError, ValueError):
        return False


def ssh_socket_address(address: str) -> str:
    """host:port an SSH address (or ~/.ssh/config alias) connects to."""

    endpoint = resolve(address)
    return f"{endpoint.hostname}:{endpoint.port}"


def discover_units(path: Path | None = None, warn=None) -> list[Unit]:
    """This node's units that are present right now; absent ones are reported through `warn`."""
    path = path or farm_file()
    data = read_farm_file(path)
    node = data.get("node") or socket.gethostname()
    units: list[Unit] = []
    if data["host_cpu"]:
        host = get_device("host")
        units.append(Unit(f"host@{node}:cpu{host.cpu_mask or 'all'}", host))
    serials: set[str] | None = None
    for i, spec in enumerate(data["unit"]):
        if "device_file" in spec:
            dev = load_device_file((path.parent / spec["device_file"]).expanduser())
        else:
            try:
                dev = get_device(spec["device"])
            except DeviceFileError as exc:
                raise _fail(path, f"unit[{i}].device", str(exc)) from None
        dev = replace(dev, **{k: spec[k] for k in _OVERRIDES if k in spec})
        if "ssh" in spec:  # a Linux board reached over SSH, as `--ssh` does on the command line
            try:
                dev = with_overrides(dev, ssh=spec["ssh"])
            except OptionError as exc:
                raise _fail(path, f"unit[{i}].ssh", str(exc)) from None
        handle = dev.serial or dev.address or f"cpu{dev.cpu_mask or 'all'}"
        if dev.transport == "adb" and dev.serial and not dev.address:
            serials = adb_serials() if serials is None else serials
            if serials is not None and dev.serial not in serials:
                if warn:
                    warn(f"{path}: unit[{i}] {dev.name} serial {dev.serial} is not attached (adb devices)")
                continue
        if dev.transport == "ssh" and dev.address and not reachable(ssh_socket_address(dev.address)):
            if warn:
                warn(f"{path}: unit[{i}] {dev.name} at {dev.address} does not answer on its SSH port")
            continue
        if dev.transport == "adb" and dev.address and not reachable(dev.address):
            if warn:
                warn(f"{path}: unit[{i}] {dev.name} at {dev.address} does not answer")
            continue
        units.append(Unit(f"{dev.name}@{node}:{handle}", dev))
    uids = [u.uid for u in units]
    dup = sorted({u for u in uids if uids.count(u) > 1})
    if dup:
        raise DeviceFileError(f"{path}: two units with the same id {dup[0]!r}: give each a distinct serial/address")
    return units


def node_resources(units: list[Unit]) -> dict[str, float]:
    """Ray custom resources for `ray start --resources`: a count per device model and one per unit."""
    res: dict[str, float] = {}
    for u in units:
        res[device_resource(u.device_model)] = res.get(device_resource(u.device_model), 0) + 1
        res[unit_resource(u.uid)] = 1
    return res
