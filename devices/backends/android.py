"""Android phones over ADB: TFLite's `benchmark_model`, pinned with taskset, one delegate per device variant.

The user supplies the binary (``--benchmark-binary PATH`` or ``benchmark_binary`` in the device
file; docs/devices/adb.md says where to get it). It is pushed once: the device's sha256 is compared
first, then the executable bit is set. Models are pushed in batches to the work directory.
"""

from __future__ import annotations

import posixpath
import shlex
from pathlib import Path

from edgelat.devices.backends.remote import MISSING_MODEL_RC, RemoteBackend, file_sha256
from edgelat.devices.benchmark_parsers import parse_benchmark_output
from edgelat.devices.catalog import Device
from edgelat.devices.measurement import Measurement
from edgelat.devices.remote_transport import RemoteTransport
from edgelat.errors import DeviceFileError

DELEGATE_FLAGS = {
    "none": [],
    "xnnpack": ["--use_xnnpack=true"],
    "gpu": ["--use_gpu=true"],
    "nnapi": ["--use_nnapi=true"],
    "hexagon": ["--use_hexagon=true"],
}


def benchmark_flags(device: Device, remote_model: str, threads: int, warmup: int, runs: int, min_time_ms: float,
                    op_profiling: bool = False) -> list[str]:
    """benchmark_model's command-line flags for one measurement on `device`."""
    flags = [f"--graph={remote_model}", f"--num_threads={threads}", f"--num_runs={runs}",
             f"--warmup_runs={warmup}", f"--min_secs={min_time_ms / 1000:g}"]
    flags += DELEGATE_FLAGS[device.delegate]
    if device.delegate == "hexagon" and device.hexagon_lib_path:
        flags.append(f"--hexagon_lib_path={device.hexagon_lib_path}")
    if op_profiling:
        flags.append("--enable_op_profiling=true")
        if device.delegate == "hexagon":
            flags.append("--hexagon_profiling=true")
    return flags


class AndroidBenchmarkBackend(RemoteBackend):
    """A phone (or its GPU/DSP variant) timed by benchmark_model."""

    default_workdir = "/data/local/tmp/edgelat"
    android = True
    serves = "Android"
    timeout_s = 600.0

    def __init__(self, device: Device, threads: int | None = None, transport: RemoteTransport | None = None,
                 op_profiling: bool = False, repeats_if_throttled: int = 1) -> None:
        if not device.benchmark_binary:
            raise DeviceFileError(
                f"{device.source or device.name}: field 'benchmark_binary': Android devices need TFLite's "
                f"benchmark_model; pass --benchmark-binary PATH or set it in the device file "
                f"(see docs/devices/adb.md, 'Android phones: benchmark_model')"
            )
        self.binary = Path(device.benchmark_binary).expanduser()
        if not self.binary.is_file():
            raise DeviceFileError(f"{device.source or device.name}: field 'benchmark_binary': "
                                  f"{self.binary} is not a file")
        self.op_profiling = op_profiling
        self.binary_sha = file_sha256(self.binary)
        self.runtime = "benchmark_model"
        self.runtime_version = f"sha256:{self.binary_sha[:12]}"
        self.binary_pushed = False
        super().__init__(device, threads, transport, repeats_if_throttled)

    @classmethod
    def from_device(cls, device: Device, threads: int | None = None, op_profiling: bool = False
                    ) -> AndroidBenchmarkBackend:
        return cls(device, threads=threads, op_profiling=op_profiling)

    def _setup(self) -> None:
        self.remote_binary = posixpath.join(self.workdir, "benchmark_model")
        if self.t.checksum(self.remote_binary) != self.binary_sha:
            self.t.push(self.binary, self.remote_binary, mode=0o755)
            self.binary_pushed = True
            if self.t.checksum(self.remote_binary) != self.binary_sha:
                raise DeviceFileError(f"{self.device.name}: pushed {self.binary}, but its checksum on the device "
                                      f"differs")
        self.t.shell(f"chmod 755 {shlex.quote(self.remote_binary)}").check("chmod of benchmark_model")

    def command(self, remote_model: str, warmup: int, runs: int, min_time_ms: float) -> str:
        flags = benchmark_flags(self.device, remote_model, self.threads, warmup, runs, min_time_ms, self.op_profiling)
        pin = f"taskset {int(self.device.cpu_mask, 16):x} " if self.device.cpu_mask else ""
        model = shlex.quote(remote_model)
        return (f"test -f {model} || exit {MISSING_MODEL_RC}; cd {shlex.quote(self.workdir)} && "
                f"{pin}{shlex.quote(self.remote_binary)} {' '.join(shlex.quote(f) for f in flags)} 2>&1")

    def _run(self, remote_model: str, warmup: int, runs: int, min_time_ms: float) -> Measurement:
        res = self.t.shell(self.command(remote_model, warmup, runs, min_time_ms), timeout_s=self.timeout_s)
        if res.exit_code == MISSING_MODEL_RC:
            return Measurement.failed("missing model", res.output, threads=self.threads)
        if res.exit_code != 0:
            return Measurement.failed(f"benchmark_model exited with code {res.exit_code}", res.output,
                                      threads=self.threads)
        return parse_benchmark_output(res.output, threads=self.threads, warmup=warmup,
                                      dsp_clock_mhz=self.device.dsp_clock_mhz,
                                      hexagon=self.device.delegate == "hexagon")
