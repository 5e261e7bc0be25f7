"""Backends: a device's transport plus its output parser, behind one small interface."""

from __future__ import annotations

import json
import os
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from edgelat.devices.catalog import Device
from edgelat.devices.measurement import Measurement
from edgelat.devices.parsers import parse_json_line, parse_litert_result
from edgelat.devices.transport import LineProcess
from edgelat.errors import EdgelatError, RunnerError, TransportError

RUNNER_SCRIPT = Path(__file__).parent / "runners" / "litert_timer.py"


class Backend(ABC):
    """Times models on one device. `overlaps_conversion` says whether host-side conversion
    may run while this backend measures (false when the measurement uses this machine's CPU)."""

    overlaps_conversion: bool = True
    runtime: str = ""
    runtime_version: str = ""

    @abstractmethod
    def measure(self, model_path: Path, warmup: int, runs: int, min_time_ms: float = 0.0) -> Measurement: ...

    def info(self) -> dict[str, Any]:
        return {}

    def prepare(self, model_paths: list[Path]) -> None:  # noqa: B027 - optional hook
        """Called with each chunk's models before they are measured (remote backends push them in a batch)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HostBackend(Backend):
    """This machine's CPU: a persistent ``litert_timer.py --serve`` worker, pinned per the device.

    The worker is a separate interpreter that never imports TensorFlow. It is restarted if
    it dies (a model that crashes LiteRT fails that one measurement, not the campaign).
    """

    overlaps_conversion = False

    def __init__(self, device: Device, threads: int | None = None, timeout_s: float = 300.0) -> None:
        self.device = device
        self.threads = threads or device.threads
        self.timeout_s = timeout_s
        self._proc: LineProcess | None = None
        self._hello: dict[str, Any] = {}
        self._start()

    def _start(self) -> None:
        argv = [sys.executable, "-u", str(RUNNER_SCRIPT), "--serve", "--threads", str(self.threads)]
        if self.device.cpus:
            available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
            if available is not None and not set(self.device.cpus) <= available:
                raise EdgelatError(
                    f"{self.device.source}: field 'cpu_mask': {self.device.cpu_mask} names CPUs "
                    f"{self.device.cpus}, but this machine offers {sorted(available)}"
                )
            argv += ["--cpus", ",".join(map(str, self.device.cpus))]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        self._proc = LineProcess(argv, env=env)
        hello = parse_json_line(self._proc.readline(60.0), "litert_timer")
        if hello.get("hello") != "litert_timer":
            raise RunnerError(f"litert_timer did not start: {hello.get('error', hello)}")
        if hello.get("tensorflow_imported"):
            raise RunnerError("the timing worker imported TensorFlow; timings would be disturbed")
        self._hello = hello
        self.runtime = hello["runtime"]
        self.runtime_version = hello["runtime_version"]

    def info(self) -> dict[str, Any]:
        keys = ("runtime", "runtime_version", "python", "machine", "affinity", "threads")
        return {k: self._hello.get(k) for k in keys}

    def measure(self, model_path: Path, warmup: int, runs: int, min_time_ms: float = 0.0) -> Measurement:
        request = {"model": str(model_path), "warmup": warmup, "runs": runs, "threads": self.threads,
                   "min_time_ms": min_time_ms}
        try:
            assert self._proc is not None
            self._proc.send(json.dumps(request))
            line = self._proc.readline(self.timeout_s)
        except TransportError as exc:
            tail = self._proc.stderr_tail if self._proc else ""
            self.close()
            self._start()
            return Measurement.failed(f"runner died: {exc}", tail, threads=self.threads)
        return parse_litert_result(line, info={"affinity": self._hello.get("affinity")})

    def close(self) -> None:
        if self._proc is not None:
            self._proc.close()
            self._proc = None


def open_backend(device: Device, threads: int | None = None, op_profiling: bool = False) -> Backend:
    """The backend for `device`'s transport; transports not built yet say so plainly.

    `op_profiling` asks benchmark_model (Android devices) for its per-op profile as well.
    """
    if device.transport == "local":
        if device.runtime != "litert":
            raise EdgelatError(f"{device.source}: field 'runtime': local devices run 'litert', not {device.runtime!r}")
        return HostBackend(device, threads=threads)
    if device.transport == "sim":
        from edgelat.devices.mcu_sim import McuSimBackend  # imports this module: load on demand

        if device.runtime != "tflite-micro":
            raise EdgelatError(f"{device.source}: field 'runtime': sim devices run 'tflite-micro', "
                               f"not {device.runtime!r}")
        return McuSimBackend(device)
    if device.transport == "adb":  # the ADB backends import this module: load on demand
        if device.runtime == "benchmark_model":
            from edgelat.devices.benchmark_model import AndroidBenchmarkBackend

            return AndroidBenchmarkBackend(device, threads=threads, op_profiling=op_profiling)
        if device.runtime == "litert":
            from edgelat.devices.linux_board import LinuxBoardBackend

            return LinuxBoardBackend(device, threads=threads)
        raise EdgelatError(f"{device.source}: field 'runtime': adb devices run 'benchmark_model' (Android) or "
                           f"'litert' (Linux boards), not {device.runtime!r}")
    raise EdgelatError(
        f"device {device.name!r}: transport {device.transport!r} is not available in this "
        f"version of edgelat (only 'local' is); see the project's open issues"
    )
