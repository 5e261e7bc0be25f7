"""The Backend interface: a device's transport plus its output parser, behind one small interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from edgelat.devices.catalog import Device
from edgelat.devices.measurement import Measurement
from edgelat.errors import DeviceError


class Backend(ABC):
    """Times models on one device. `overlaps_conversion` says whether host-side conversion
    may run while this backend measures (false when the measurement uses this machine's CPU)."""

    overlaps_conversion: bool = True
    runtime: str = ""
    runtime_version: str = ""
    serves: str = ""  # which devices of its transport it serves, for messages ("Android", "Linux boards")
    cold_timing: bool = False  # can time with the weights cold (an L2 sweep before each run)

    @classmethod
    def from_device(cls, device: Device, threads: int | None = None, op_profiling: bool = False) -> Backend:
        """Open this backend on `device` (op_profiling is for the backends that can profile ops)."""
        return cls(device, threads=threads)

    @abstractmethod
    def measure(self, model_path: Path, warmup: int, runs: int, min_time_ms: float = 0.0,
                cold: bool = False, evict_bytes: int | None = None) -> Measurement:
        """Time a model; `cold` (where `cold_timing`) starts each timed run with its weights out of
        L2 and its input warm, as a block's are inside a whole network; with `evict_bytes`, out of
        what a sweep of that many bytes leaves (context timing: a typical network's stream)."""

    def info(self) -> dict[str, Any]:
        return {}

    def run_agreement(self, int8_path: Path, fp32_path: Path, samples: int) -> dict[str, Any]:
        """Top-1 agreement, mean cosine and relative max difference of an int8 model and its fp32 twin
        on `samples` seeded inputs, run on this device by runners/agreement.py (needs Python LiteRT there)."""
        raise DeviceError("--compare-fp32 runs on Linux boards and the host (it needs Python LiteRT on the device)")

    def prepare(self, model_paths: list[Path]) -> None:  # noqa: B027 - optional hook
        """Called with each chunk's models before they are measured (remote backends push them in a batch)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
