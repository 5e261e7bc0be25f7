"""`edgelat deploy`: push a model to a device, benchmark it, compare with the search's prediction.

The prediction comes from a sidecar JSON the search writes: ``<model stem>.json`` next to the
model, else ``arch.json`` in the same folder. Its numeric ``predicted_ms`` (and optional
``device``) are used; the error is (predicted - measured) / measured. On Linux boards and the
host, ``compare_fp32`` also runs a sample batch through the int8 model and its fp32 twin.

The model is measured under the same policy as the profiler's whole networks (devices/policy.py: the
fastest of 3 passes, at least 3 s apart), the truth the predictors are fitted to. One median
scatters by 10% and more from second to second on a shared machine (run to run 0.28-0.36 ms for
the demo's 0.28 ms network), so one measurement against a fastest-of-passes prediction reads
around 10% slow.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgelat.devices.backends import open_backend
from edgelat.devices.catalog import Device
from edgelat.devices.passes import fastest_of_passes
from edgelat.devices.policy import DEFAULT_POLICY, MeasurementPolicy
from edgelat.devices.sidecar import read_interval, read_sidecar
from edgelat.errors import DataError, OptionError, RunnerError


def with_overrides(device: Device, benchmark_binary: str | None = None, serial: str | None = None,
                   ssh: str | None = None) -> Device:
    """The device with command-line overrides applied (--benchmark-binary, --serial, --ssh).

    --ssh reaches a Linux board over SSH whatever its file says; --serial over ADB.
    """
    if serial and ssh:
        raise OptionError("give --serial (ADB) or --ssh, not both")
    changes: dict[str, Any] = {}
    if benchmark_binary:
        changes["benchmark_binary"] = benchmark_binary
    if serial:
        changes.update(serial=serial, transport="adb" if device.transport == "ssh" else device.transport)
    if ssh:
        if device.transport not in ("adb", "ssh") or device.runtime != "litert":
            raise OptionError(f"--ssh reaches Linux boards (runtime 'litert' over adb or ssh); {device.name} is "
                              f"reached over {device.transport!r} with runtime {device.runtime!r}")
        changes.update(transport="ssh", address=ssh, serial=None)
    return replace(device, **changes) if changes else device


def deploy(model: str | Path, device: Device, *, threads: int | None = None,
           policy: MeasurementPolicy = DEFAULT_POLICY, compare_fp32: str | Path | None = None, samples: int = 32,
           op_profiling: bool = False) -> dict[str, Any]:
    """Measure `model` on `device` under `policy` (the fastest of its passes); the result dict is what
    `edgelat deploy --json` prints."""
    model = Path(model)
    if not model.is_file() or model.suffix != ".tflite":
        raise DataError(f"{model}: not a .tflite file")
    if compare_fp32 is not None and not Path(compare_fp32).is_file():
        raise DataError(f"{compare_fp32}: --compare-fp32 model not found")
    sidecar, data = read_sidecar(model)
    warnings: list[str] = []
    predicted = data.get("predicted_ms")
    if predicted is not None and (isinstance(predicted, bool) or not isinstance(predicted, int | float)
                                  or not math.isfinite(predicted) or predicted <= 0):
        warnings.append(f"{sidecar}: 'predicted_ms' is not a positive number ({predicted!r}); no prediction used")
        predicted = None
    band = read_interval(sidecar, data) if predicted is not None else None
    if predicted is not None and data.get("device") not in (None, device.name):
        warnings.append(f"{sidecar}: the prediction is for device {data['device']!r}, not {device.name!r}")
    kwargs = {"op_profiling": True} if op_profiling else {}
    with open_backend(device, threads, **kwargs) as backend:
        m, passes_ms = fastest_of_passes(lambda: policy.measure(backend, model), policy.passes, policy.pass_gap_s)
        if not m.ok:
            raise RunnerError(f"{model} on {device.name}: measurement failed: {m.error}; "
                              f"output: {m.raw_output.strip()[-400:]!r}")
        agreement = backend.run_agreement(model, Path(compare_fp32), samples) if compare_fp32 else None
        backend_info = backend.info()
    measured = m.latency_ms
    result: dict[str, Any] = {
        "model": str(model), "device": device.name, "measured_ms": measured,
        "predicted_ms": float(predicted) if predicted is not None else None,
        "error_pct": (float(predicted) - measured) / measured * 100 if predicted is not None else None,
        "predicted_interval_ms": band, "interval_level": data.get("interval_level") if band else None,
        "within_interval": band[0] <= measured <= band[1] if band else None,
        "sidecar": str(sidecar) if sidecar else None, "runtime": backend.runtime,
        "runtime_version": backend.runtime_version, "runs": m.runs, "threads": m.threads, "passes_ms": passes_ms,
        "policy": policy.record(), "stats": m.stats, "throttled": m.info.get("throttled"),
        "latency_stat": m.info.get("latency_stat", "median"),
        "warnings": warnings,
    }
    for key in ("hexagon_total_ms", "hexagon_total_cycles", "peak_memory_mb", "device_identity"):
        if key in m.info:
            result[key] = m.info[key]
    if agreement is not None:
        result["fp32_agreement"] = agreement
    result["backend"] = {k: v for k, v in backend_info.items() if k in ("target", "workdir", "identity")}
    return result

