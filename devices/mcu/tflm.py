"""An int8 model on a microcontroller: exact memory from the TFLite-Micro interpreter, latency from the cycle model.

The int8 model runs once in the real `tflite-micro` interpreter in a subprocess
(runners/tflm_runner.py), which reports the exact tensor arena and checks the outputs against
LiteRT's reference kernels. Flash is the model's bytes plus the runtime footprint
(cycle_model.RUNTIME_FLASH_BYTES). Latency is an ESTIMATE from the calibrated cycle model
(mcu/cycle_model.py), never a timing of this host.

The arena is TFLM's on this 64-bit host; on a 32-bit MCU its activation part (head) is the same
and its bookkeeping part (tail: tensor and node structs) is somewhat smaller, so the figure errs
on the safe side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgelat.devices.catalog import Device
from edgelat.devices.mcu.cycle_model import RUNTIME_FLASH_BYTES, check_core, estimate
from edgelat.devices.mcu.ops import read_tflite
from edgelat.devices.runners import TFLM_RUNNER_SCRIPT
from edgelat.errors import DataError, DeviceError, DeviceFileError, DoesNotFitError, RunnerError

NOT_FIT_PREFIX = "does not fit"
# TFLM's and LiteRT's reference kernels round a few requantisations differently (seen on MEAN):
# outputs agree within one int8 step, and mostly exactly.
REFERENCE_TOLERANCE = 1


def run_tflm(model_path: str | Path, arena_size: int | None = None, reference: bool = False,
             timeout_s: float = 300.0) -> dict[str, Any]:
    """Run the TFLM runner on a model; returns its JSON (raises RunnerError if it crashed or printed junk)."""
    argv = [sys.executable, str(TFLM_RUNNER_SCRIPT), str(model_path)]
    if arena_size is not None:
        argv += ["--arena-size", str(arena_size)]
    if reference:
        argv.append("--reference")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    except subprocess.TimeoutExpired:
        raise RunnerError(f"{model_path}: tflm_runner timed out after {timeout_s:.0f} s") from None
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = None
    if not isinstance(result, dict):
        tail = (proc.stderr or proc.stdout).strip()[-500:]
        raise RunnerError(f"{model_path}: tflm_runner exited with code {proc.returncode} and no result: {tail}")
    return result


class MemoryFit:
    """Whether peak SRAM and flash fit what is available (for exact reports and estimates alike)."""

    peak_sram_bytes: int
    flash_bytes: int
    sram_available: int
    flash_available: int

    @property
    def fits_sram(self) -> bool:
        return self.peak_sram_bytes <= self.sram_available

    @property
    def fits_flash(self) -> bool:
        return self.flash_bytes <= self.flash_available

    @property
    def fits(self) -> bool:
        return self.fits_sram and self.fits_flash


@dataclass(frozen=True)
class McuReport(MemoryFit):
    """Memory (exact arena from TFLM) and estimated latency of one int8 model on one MCU."""

    device: str
    core: str
    clock_mhz: float
    peak_sram_bytes: int  # TFLM tensor arena, exact on this host
    flash_bytes: int  # model bytes + runtime footprint
    model_bytes: int
    runtime_flash_bytes: int
    sram_available: int
    flash_available: int
    cycles: float  # estimate
    latency_ms: float  # estimate
    outputs_match_reference: bool | None = None
    estimated: bool = True

    def not_fit_message(self, what: str = "model") -> str:
        """One line with the required and available bytes ('' when it fits)."""
        parts = []
        if not self.fits_sram:
            parts.append(f"peak SRAM {self.peak_sram_bytes} bytes > {self.sram_available} available")
        if not self.fits_flash:
            parts.append(f"flash {self.flash_bytes} bytes > {self.flash_available} available")
        return f"{NOT_FIT_PREFIX} on {self.device}: {what} needs " + "; ".join(parts) if parts else ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fits_sram": self.fits_sram, "fits_flash": self.fits_flash, "fits": self.fits}


def check_mcu_device(device: Device) -> None:
    """Refuse a device that is not an MCU with a core and clock the cycle model can use."""
    if device.kind != "mcu":
        raise DeviceError(f"device {device.name!r} is a {device.kind}, not an mcu")
    check_core(device.core, device.source)
    if not device.clock_mhz:
        raise DeviceFileError(f"{device.source}: field 'clock_mhz': needed for the MCU latency estimate")


def mcu_report(model: str | Path | bytes, device: Device, reference: bool = False,
               timeout_s: float = 300.0) -> McuReport:
    """Exact arena (TFLM) + flash + estimated cycles/ms of an int8 .tflite (path or bytes) on `device`.

    Raises DataError for a non-int8 or unreadable model and RunnerError if the interpreter fails;
    a model that does not fit is reported (fits == False), not raised: callers decide.
    """
    check_mcu_device(device)
    if isinstance(model, bytes | bytearray):
        with tempfile.TemporaryDirectory(prefix="edgelat-mcu-") as tmp:
            path = Path(tmp) / "model.tflite"
            path.write_bytes(bytes(model))
            return mcu_report(path, device, reference, timeout_s)
    path = Path(model)
    parsed = read_tflite(path)
    bad = [t for t in parsed.input_dtypes if t != "INT8"]
    if bad:
        raise DataError(f"{path}: input is {bad[0]}, not INT8: MCUs run int8 models (convert with --dtype int8)")
    result = run_tflm(path, reference=reference, timeout_s=timeout_s)
    if not result.get("ok"):
        raise RunnerError(f"{path}: TFLM failed: {result.get('error', 'unknown error')}")
    arena = int(result["arena_bytes"])  # the runner refuses a missing or zero figure
    match = None
    if reference:
        ref = result["reference"]
        match = bool(ref["shape_equal"] and ref["max_abs_diff"] <= REFERENCE_TOLERANCE)
    est = estimate(parsed.ops, device.core, float(device.clock_mhz))
    return McuReport(device.name, device.core, float(device.clock_mhz), arena, parsed.size_bytes + RUNTIME_FLASH_BYTES,
                     parsed.size_bytes, RUNTIME_FLASH_BYTES, device.memory["sram"], device.memory["flash"],
                     est.cycles, est.latency_ms, match)


def raise_if_not_fit(failures: list[tuple[str, str]], device: Device, total: int) -> None:
    """After a campaign: one DoesNotFitError line naming how many blocks did not fit and the first one's bytes."""
    misfits = [(k, e) for k, e in failures if e.startswith(NOT_FIT_PREFIX)]
    if misfits:
        key, first = misfits[0]
        needs = first.split(" needs ", 1)[-1]
        raise DoesNotFitError(f"{len(misfits)} of {total} block(s) do not fit {device.name}; "
                              f"first: {key} needs {needs}")
