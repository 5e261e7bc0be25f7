"""Backends: one per (transport, runtime) of a device file, opened by `open_backend`."""

from __future__ import annotations

from edgelat.core.registry import Registry
from edgelat.devices.backends.android import AndroidBenchmarkBackend
from edgelat.devices.backends.base import Backend
from edgelat.devices.backends.host import HostBackend
from edgelat.devices.backends.linux_board import LinuxBoardBackend
from edgelat.devices.backends.mcu_sim import McuSimBackend
from edgelat.devices.catalog import Device
from edgelat.errors import DeviceFileError

__all__ = ["BACKENDS", "AndroidBenchmarkBackend", "Backend", "HostBackend", "LinuxBoardBackend", "McuSimBackend",
           "open_backend"]

BACKENDS: Registry[type[Backend]] = Registry("backend", DeviceFileError)
"""(transport, runtime) of a device file -> the backend that measures on it."""
BACKENDS.register(("local", "litert"), HostBackend)
BACKENDS.register(("adb", "benchmark_model"), AndroidBenchmarkBackend)
BACKENDS.register(("adb", "litert"), LinuxBoardBackend)
BACKENDS.register(("ssh", "litert"), LinuxBoardBackend)
BACKENDS.register(("sim", "tflite-micro"), McuSimBackend)


def open_backend(device: Device, threads: int | None = None, op_profiling: bool = False) -> Backend:
    """The backend for `device`'s transport and runtime; a pair without one is a device-file error.

    `op_profiling` asks benchmark_model (Android devices) for its per-op profile as well.
    """
    if (device.transport, device.runtime) in BACKENDS:
        backend = BACKENDS.get((device.transport, device.runtime))
        return backend.from_device(device, threads=threads, op_profiling=op_profiling)
    runtimes = {runtime: cls.serves for (transport, runtime), cls in BACKENDS.items()
                if transport == device.transport}
    if not runtimes:
        known = ", ".join(repr(t) for t in dict.fromkeys(t for t, _ in BACKENDS.names()))
        raise DeviceFileError(f"{device.source or device.name}: field 'transport': {device.transport!r} has no "
                           f"backend (known: {known})")
    labelled = [f"{r!r} ({serves})" if len(runtimes) > 1 else repr(r) for r, serves in runtimes.items()]
    raise DeviceFileError(f"{device.source}: field 'runtime': {device.transport} devices run {' or '.join(labelled)}, "
                       f"not {device.runtime!r}")
