"""The device catalog: one TOML file per device, validated field by field.

Built-in devices live in ``devices/catalog/``; users add their own with ``--device-file``.
Every error names the file and the field.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from edgelat.core.sizes import parse_size
from edgelat.devices.mcu.cycle_model import CORES as MCU_CORES
from edgelat.errors import DeviceFileError

KINDS = ("phone", "edge-cpu", "dsp", "gpu", "mcu", "host")
TRANSPORTS = ("local", "adb", "ssh", "sim")
RUNTIMES = ("litert", "benchmark_model", "tflite-micro")
DELEGATES = ("none", "xnnpack", "builtin", "gpu", "nnapi", "hexagon")  # builtin: LiteRT's own kernels, no XNNPACK
MEMORY_FIELDS = ("ram", "sram", "flash")


@dataclass(frozen=True)
class Device:
    """One device as the catalog describes it. Sizes are in bytes."""

    name: str
    kind: str
    transport: str
    runtime: str
    delegate: str = "none"
    threads: int = 1
    batch: int = 1  # LiteRT hosts and boards: inferences per invocation (a server's or a GPU's regime)
    cpu_mask: str | None = None  # hex affinity mask for taskset / sched_setaffinity, e.g. "0x8"
    workdir: str | None = None  # remote work directory (adb)
    description: str = ""
    soc: str = ""
    core: str = ""
    clock_mhz: float | None = None
    address: str | None = None  # adb over TCP: "host:port"; ssh: "user@host[:port]" or a ~/.ssh/config Host
    serial: str | None = None  # adb over USB
    benchmark_binary: str | None = None  # TFLite benchmark_model for Android devices
    hexagon_lib_path: str | None = None  # device folder with libhexagon_interface.so (hexagon delegate)
    dsp_clock_mhz: float | None = None  # Hexagon DSP clock: converts its op profile from cycles to ms
    python: str = "python3"  # Linux boards: the interpreter that runs the pushed litert_timer.py
    thermal_path: str = "/sys/class/thermal"  # adb devices: where the thermal zones are read
    thermal_limit_c: float | None = None  # above this, wait to cool down; a measurement above it is throttled
    cooldown_s: float = 120.0  # longest wait for the device to cool below thermal_limit_c
    startup_timeout_s: float = 300.0  # boards: budget for starting the timing runner (Python + LiteRT imports)
    memory: dict[str, int] = field(default_factory=dict)  # ram / sram / flash, bytes
    source: str = ""  # the file it came from

    @property
    def cpus(self) -> list[int]:
        """CPU ids selected by cpu_mask (empty: no pinning)."""
        if self.cpu_mask is None:
            return []
        mask = int(self.cpu_mask, 16)
        return [i for i in range(mask.bit_length()) if mask >> i & 1]

    @property
    def litert_delegate(self) -> str:
        """litert_timer's --delegate: 'none' (LiteRT's built-in kernels) for delegate 'builtin', else
        'xnnpack', LiteRT's default CPU delegate."""
        return "none" if self.delegate == "builtin" else "xnnpack"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "kind": (str,), "transport": (str,), "runtime": (str,), "delegate": (str,),
    "threads": (int,), "batch": (int,), "cpu_mask": (str,), "workdir": (str,), "description": (str,), "soc": (str,),
    "core": (str,), "clock_mhz": (int, float), "address": (str,), "serial": (str,),
    "benchmark_binary": (str,), "memory": (dict,), "hexagon_lib_path": (str,), "dsp_clock_mhz": (int, float),
    "python": (str,), "thermal_path": (str,), "thermal_limit_c": (int, float), "cooldown_s": (int, float),
    "startup_timeout_s": (int, float),
}  # fmt: skip
_POSITIVE = ("clock_mhz", "dsp_clock_mhz", "thermal_limit_c", "startup_timeout_s")
_REQUIRED = ("name", "kind", "transport", "runtime")
_CHOICES = {"kind": KINDS, "transport": TRANSPORTS, "runtime": RUNTIMES, "delegate": DELEGATES}


def _fail(path: Path | str, fld: str, msg: str) -> DeviceFileError:
    return DeviceFileError(f"{path}: field {fld!r}: {msg}")


def parse_device(data: dict[str, Any], path: Path | str) -> Device:
    """Validate a device mapping read from `path`."""
    for key in data:
        if key not in _FIELD_TYPES:
            raise _fail(path, key, f"unknown field (known: {', '.join(sorted(_FIELD_TYPES))})")
    for key in _REQUIRED:
        if key not in data:
            raise _fail(path, key, "missing")
    for key, value in data.items():
        types = _FIELD_TYPES[key]
        if isinstance(value, bool) or not isinstance(value, types):
            want = " or ".join(t.__name__ for t in types)
            raise _fail(path, key, f"expected {want}, got {value!r}")
        if key in _CHOICES and value not in _CHOICES[key]:
            raise _fail(path, key, f"{value!r} is not one of {', '.join(_CHOICES[key])}")
    for key in _POSITIVE:
        if key in data and data[key] <= 0:
            raise _fail(path, key, f"must be > 0, got {data[key]}")
    if data.get("cooldown_s", 0) < 0:
        raise _fail(path, "cooldown_s", f"must be >= 0, got {data['cooldown_s']}")
    if data.get("delegate") == "builtin" and data.get("runtime") != "litert":
        raise _fail(path, "delegate", "'builtin' (XNNPACK off) is a choice of runtime 'litert'")
    if data.get("delegate") == "hexagon" and data.get("runtime") != "benchmark_model":
        raise _fail(path, "delegate", "'hexagon' runs through runtime 'benchmark_model'")
    if data.get("threads", 1) < 1:
        raise _fail(path, "threads", f"must be >= 1, got {data['threads']}")
    if not 1 <= data.get("batch", 1) <= 4096:
        raise _fail(path, "batch", f"must be within 1..4096, got {data['batch']}")
    if data.get("batch", 1) > 1 and data.get("runtime") != "litert":
        raise _fail(path, "batch", "batches > 1 are run by runtime 'litert' (the host and Linux boards)")
    if "cpu_mask" in data:
        try:
            if int(data["cpu_mask"], 16) <= 0:
                raise ValueError
        except ValueError:
            msg = f"expected a non-zero hex mask like '0x8', got {data['cpu_mask']!r}"
            raise _fail(path, "cpu_mask", msg) from None
    memory: dict[str, int] = {}
    for key, value in data.get("memory", {}).items():
        if key not in MEMORY_FIELDS:
            raise _fail(path, f"memory.{key}", f"unknown field (known: {', '.join(MEMORY_FIELDS)})")
        try:
            memory[key] = parse_size(value)
        except ValueError as exc:
            raise _fail(path, f"memory.{key}", str(exc)) from None
    if data["kind"] == "mcu":
        for key in ("sram", "flash"):
            if key not in memory:
                raise _fail(path, f"memory.{key}", "required for an mcu device")
        if data.get("core") not in MCU_CORES:
            raise _fail(path, "core", f"{data.get('core')!r}: an mcu device needs a core the cycle model knows "
                                      f"({', '.join(MCU_CORES)})")
        if not data.get("clock_mhz") or data["clock_mhz"] <= 0:
            raise _fail(path, "clock_mhz", "an mcu device needs a positive clock")
    if data["transport"] == "sim" and data["kind"] != "mcu":
        raise _fail(path, "transport", "'sim' is only for mcu devices")
    return Device(**{**data, "memory": memory, "source": str(path)})


def load_device_file(path: str | Path) -> Device:
    """Read and validate one device file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DeviceFileError(f"{path}: cannot read device file: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeviceFileError(f"{path}: not valid TOML: {exc}") from None
    return parse_device(data, path)


def builtin_device_files() -> list[Path]:
    root = resources.files("edgelat.devices") / "catalog"
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".toml"))


def list_devices(extra_files: list[str | Path] = ()) -> list[Device]:
    """Built-in devices, then the user's files (a user file may override a built-in name)."""
    devices = {d.name: d for d in map(load_device_file, builtin_device_files())}
    for path in extra_files:
        dev = load_device_file(path)
        devices[dev.name] = dev
    return list(devices.values())


def get_device(name: str | None = None, device_file: str | Path | None = None) -> Device:
    """The device named `name`, or the one in `device_file`."""
    if device_file is not None:
        dev = load_device_file(device_file)
        if name is not None and dev.name != name:
            raise DeviceFileError(f"{device_file}: field 'name': is {dev.name!r}, but --device asked for {name!r}")
        return dev
    if name is None:
        raise DeviceFileError("no device given: use --device NAME or --device-file PATH")
    for dev in list_devices():
        if dev.name == name:
            return dev
    known = ", ".join(d.name for d in list_devices())
    raise DeviceFileError(f"unknown device {name!r} (known: {known}; or pass --device-file PATH)")
