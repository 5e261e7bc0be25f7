"""Microcontrollers, simulated: one TFLite-Micro run per model for exact memory, latency from the cycle model.

Latency is an ESTIMATE from the calibrated cycle model, never a timing of this host:
Measurement.info says so (estimated, cycles). The memory figures come from devices/mcu/tflm.py.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

from edgelat.devices.backends.base import Backend
from edgelat.devices.catalog import Device
from edgelat.devices.mcu.tflm import REFERENCE_TOLERANCE, check_mcu_device, mcu_report
from edgelat.devices.measurement import STAT_FIELDS, Measurement
from edgelat.errors import DataError, RunnerError


class McuSimBackend(Backend):
    """A simulated MCU: one TFLM run per model (exact memory, output check), latency estimated."""

    overlaps_conversion = True  # the simulation is short and times nothing on this CPU
    runtime = "tflite-micro"
    serves = "simulated MCUs"

    def __init__(self, device: Device, timeout_s: float = 300.0) -> None:
        check_mcu_device(device)
        self.device = device
        self.threads = 1
        self.timeout_s = timeout_s
        try:

            self.runtime_version = version("tflite-micro")
        except Exception:  # noqa: BLE001 - metadata missing: say so
            self.runtime_version = "unknown"

    @classmethod
    def from_device(cls, device: Device, threads: int | None = None, op_profiling: bool = False) -> McuSimBackend:
        return cls(device)  # one thread: the simulation times nothing

    def info(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "runtime_version": self.runtime_version, "core": self.device.core,
                "clock_mhz": self.device.clock_mhz, "latency": "estimated by the MCU cycle model"}

    def measure(self, model_path: Path, warmup: int, runs: int, min_time_ms: float = 0.0,
                cold: bool = False, evict_bytes: int | None = None) -> Measurement:
        try:
            report = mcu_report(model_path, self.device, reference=True, timeout_s=self.timeout_s)
        except (DataError, RunnerError) as exc:
            return Measurement.failed(str(exc), threads=1)
        info = {"estimated": True, "cycles": round(report.cycles), "core": report.core,
                "clock_mhz": report.clock_mhz, "peak_sram_bytes": report.peak_sram_bytes,
                "flash_bytes": report.flash_bytes, "model_bytes": report.model_bytes,
                "runtime_flash_bytes": report.runtime_flash_bytes,
                "outputs_match_reference": report.outputs_match_reference}
        if not report.outputs_match_reference:
            return Measurement.failed(f"TFLM outputs differ from LiteRT's reference kernels by more than "
                                      f"{REFERENCE_TOLERANCE} int8 step on the same input", threads=1, info=info)
        if not report.fits:
            return Measurement.failed(report.not_fit_message(), threads=1, info=info)
        ms = report.latency_ms
        stats = {f: ms for f in STAT_FIELDS}
        stats.update(std_ms=0.0, cv=0.0)
        return Measurement(ok=True, stats=stats, runs=1, warmup=0, threads=1, info=info)
