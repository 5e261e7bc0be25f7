"""What runs on the cluster: one actor per unit (it times blocks) and conversion tasks (spread over CPUs).

Unit actors never import TensorFlow; conversion tasks do, in Ray's task workers, and run on a CPU
that no host measurement holds at that moment (cpu_gate).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from edgelat.core.netspec import is_network_key, spec_from_key
from edgelat.devices.backends import open_backend
from edgelat.devices.discovery import discover_units
from edgelat.devices.measurement import Measurement
from edgelat.devices.policy import MeasurementPolicy
from edgelat.errors import DeviceFileError
from edgelat.profiler.farm import cpu_gate


def convert_key(key: str, calibration_samples: int) -> dict[str, Any]:
    """Convert one block or network to .tflite bytes; errors come back in the result (never raised)."""

    try:
        with cpu_gate.converting() as cpu:
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            from edgelat.core.convert import convert_block

            out = convert_block(spec_from_key(key), calibration_samples=calibration_samples)
        return {"data": out.data, "error": None, "convert_s": out.convert_s, "total_s": out.total_s,
                "where": f"{socket.gethostname()}/cpu{cpu}"}
    except Exception as exc:  # noqa: BLE001 - the block's failure, reported with its reason
        return {"data": None, "error": f"{key}: {type(exc).__name__}: {exc}"}


class UnitWorker:
    """Owns one unit (found by id among this node's discovered units) and its open backend."""

    def __init__(self, uid: str, threads: int | None) -> None:
        units = {u.uid: u for u in discover_units()}
        if uid not in units:
            raise DeviceFileError(f"unit {uid!r} is no longer attached to {socket.gethostname()} "
                                  f"(found: {', '.join(units) or 'none'})")
        self.unit = units[uid]
        self.backend = open_backend(self.unit.device, threads)
        self.dir = Path(tempfile.mkdtemp(prefix="edgelat-farm-"))

    def describe(self) -> dict[str, Any]:
        return {"uid": self.unit.uid, "device": self.unit.device.to_dict(), "runtime": self.backend.runtime,
                "runtime_version": self.backend.runtime_version, "host": socket.gethostname(), "pid": os.getpid()}

    def measure(self, task_id: str, key: str, conversion: list, settings: tuple[MeasurementPolicy, bool]
                ) -> dict[str, Any]:
        """Time one block (or network). `conversion` holds the ObjectRef of convert_key's result (fetched
        here); `settings` are the measurement policy and whether blocks are timed cold."""
        import ray

        try:
            conv = ray.get(conversion[0])
        except Exception as exc:  # noqa: BLE001 - the conversion task itself was lost (worker crashed)
            conv = {"data": None, "error": f"{key}: conversion task failed: {type(exc).__name__}"}
        out = {"task": task_id, "key": key, "uid": self.unit.uid, "runtime": self.backend.runtime,
               "runtime_version": self.backend.runtime_version, "conversion_error": conv["error"]}
        if conv["error"]:
            out["measurement"] = Measurement.failed(f"conversion failed: {conv['error']}",
                                                    threads=getattr(self.backend, "threads", 1))
            return out
        path = self.dir / f"{key}.tflite"
        path.write_bytes(conv["data"])
        try:
            self.backend.prepare([path])
            t0 = time.perf_counter()
            with cpu_gate.timing(self.unit.host_cpus):
                policy, cold = settings
                m = policy.measure(self.backend, path, cold=cold and not is_network_key(key))
            out["measure_s"] = time.perf_counter() - t0
        finally:
            path.unlink(missing_ok=True)
        out["measurement"] = m
        return out

    def close(self) -> None:
        self.backend.close()
        shutil.rmtree(self.dir, ignore_errors=True)
