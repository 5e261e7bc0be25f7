"""The host backend: times models on this machine's CPU with the LiteRT timing worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from edgelat.devices.backends.base import Backend
from edgelat.devices.catalog import Device
from edgelat.devices.measurement import Measurement
from edgelat.devices.parsers import parse_agreement, parse_json_line, parse_litert_result
from edgelat.devices.runners import AGREEMENT_SCRIPT, LITERT_TIMER_SCRIPT
from edgelat.devices.transport import LineProcess
from edgelat.errors import DeviceFileError, RunnerError, TransportError


class HostBackend(Backend):
    """This machine's CPU: a persistent ``litert_timer.py --serve`` worker, pinned per the device.

    The worker is a separate interpreter that never imports TensorFlow. It is restarted if
    it dies (a model that crashes LiteRT fails that one measurement, not the campaign).
    """

    overlaps_conversion = False
    serves = "this machine"
    cold_timing = True

    def __init__(self, device: Device, threads: int | None = None, timeout_s: float = 300.0) -> None:
        self.device = device
        self.threads = threads or device.threads
        self.timeout_s = timeout_s
        self._proc: LineProcess | None = None
        self._hello: dict[str, Any] = {}
        self._start()

    def _start(self) -> None:
        argv = [sys.executable, "-u", str(LITERT_TIMER_SCRIPT), "--serve", "--threads", str(self.threads),
                "--batch", str(self.device.batch), "--delegate", self.device.litert_delegate]
        if self.device.cpus:
            available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
            if available is not None and not set(self.device.cpus) <= available:
                raise DeviceFileError(
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

    def measure(self, model_path: Path, warmup: int, runs: int, min_time_ms: float = 0.0,
                cold: bool = False, evict_bytes: int | None = None) -> Measurement:
        evict = (evict_bytes or self._evict_bytes()) if cold else 0
        request = {"model": str(model_path), "warmup": warmup, "runs": runs, "threads": self.threads,
                   "min_time_ms": min_time_ms, "evict_bytes": evict,
                   "timing_label": "context" if cold and evict_bytes else "cold"}
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

    def _evict_bytes(self) -> int:
        l2 = self._hello.get("l2_bytes")
        if not l2:
            raise RunnerError("cold timing needs the L2 cache size, and this machine's sysfs does not give it; "
                              "use --timing plain")
        return int(l2)

    def run_agreement(self, int8_path: Path, fp32_path: Path, samples: int) -> dict[str, Any]:
        """Run runners/agreement.py in a process of its own on this machine."""
        argv = [sys.executable, str(AGREEMENT_SCRIPT), str(int8_path), str(fp32_path), "--samples", str(samples)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        return parse_agreement(proc.stdout + proc.stderr)

    def close(self) -> None:
        if self._proc is not None:
            self._proc.close()
            self._proc = None
