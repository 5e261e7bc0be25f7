"""Linux boards (Raspberry Pi, Jetson) over SSH or ADB: the host's own timing core, pushed and run remotely.

edgelat pushes ``devices/runners/litert_timer.py`` (self-contained: stdlib, numpy and
``ai_edge_litert`` or ``tflite_runtime``) to the work directory and runs it one-shot per model
with the device file's ``python``. The numbers come from the same `measure()` as on the host.
"""

from __future__ import annotations

import json
import posixpath
import shlex
from pathlib import Path
from typing import Any

from edgelat.devices.backends.remote import MISSING_MODEL_RC, RemoteBackend
from edgelat.devices.measurement import Measurement
from edgelat.devices.parsers import last_json_line, parse_agreement, parse_litert_result
from edgelat.devices.runners import AGREEMENT_SCRIPT, LITERT_TIMER_SCRIPT
from edgelat.errors import RunnerError


class LinuxBoardBackend(RemoteBackend):
    """A Linux board reached over SSH or adbd, timing with the pushed litert_timer.py."""

    default_workdir = "/tmp/edgelat"
    android = False
    serves = "Linux boards"
    cold_timing = True

    def _setup(self) -> None:
        self.runner = posixpath.join(self.workdir, "litert_timer.py")
        self.push_if_changed(LITERT_TIMER_SCRIPT, self.runner, mode=0o755)
        py = shlex.quote(self.device.python)
        res = self.t.shell(f"cd {shlex.quote(self.workdir)} && TF_CPP_MIN_LOG_LEVEL=3 {py} -u litert_timer.py "
                           f"--serve < /dev/null 2>&1", timeout_s=self.device.startup_timeout_s)
        line = last_json_line(res.output)
        hello: dict[str, Any] = {}
        if line:
            try:
                hello = json.loads(line)
            except json.JSONDecodeError:
                hello = {}
        if hello.get("hello") != "litert_timer":
            error = hello.get("error") or res.output.strip()[-400:] or f"exit code {res.exit_code}"
            raise RunnerError(f"{self.device.name}: the runner does not start with python {self.device.python!r} "
                              f"on the board: {error} (set 'python' in the device file; the board needs numpy and "
                              f"ai-edge-litert or tflite-runtime)")
        self.hello = hello
        self.runtime = hello["runtime"]
        self.runtime_version = hello["runtime_version"]

    def info(self) -> dict[str, Any]:
        return {**super().info(), "python": self.hello.get("python"), "machine": self.hello.get("machine")}

    def _run(self, remote_model: str, warmup: int, runs: int, min_time_ms: float, cold: bool = False,
             evict_bytes: int | None = None) -> Measurement:
        cpus = ",".join(map(str, self.device.cpus))
        model = shlex.quote(remote_model)
        cmd = (f"test -f {model} || exit {MISSING_MODEL_RC}; cd {shlex.quote(self.workdir)} && "
               f"TF_CPP_MIN_LOG_LEVEL=3 {shlex.quote(self.device.python)} -u litert_timer.py {model} "
               f"--warmup {warmup} --runs {runs} --min-time-ms {min_time_ms:g} --threads {self.threads} "
               f"--batch {self.device.batch} --delegate {self.device.litert_delegate}"
               + (f" --cpus {cpus}" if cpus else "") + _evict_args(cold, evict_bytes) + " 2>&1")
        # Each run starts the runner afresh (its start-up budget), then times for about
        # max(runs x the block, min_time_ms), cold runs a little more: generous but bounded.
        res = self.t.shell(cmd, timeout_s=self.device.startup_timeout_s + 120.0 + 10 * min_time_ms / 1000)
        if res.exit_code == MISSING_MODEL_RC:
            return Measurement.failed("missing model", res.output, threads=self.threads)
        line = last_json_line(res.output)
        if line is None:
            return Measurement.failed(f"runner printed no JSON (exit code {res.exit_code})", res.output,
                                      threads=self.threads)
        m = parse_litert_result(line, info={"affinity": self.hello.get("affinity")})
        if not m.ok:  # keep everything it printed, not only the last line
            return Measurement.failed(m.error or "runner error", res.output, threads=self.threads)
        try:
            affinity = json.loads(line).get("affinity")
        except json.JSONDecodeError:
            affinity = None
        return Measurement(ok=True, stats=m.stats, runs=m.runs, warmup=m.warmup, threads=m.threads,
                           info={**m.info, "affinity": affinity})

    def run_agreement(self, int8_path: Path, fp32_path: Path, samples: int) -> dict[str, Any]:
        """Push both models and runners/agreement.py next to them, run it with the board's python."""
        self.prepare([int8_path, fp32_path])
        script = posixpath.join(self.workdir, "agreement.py")
        self.push_if_changed(AGREEMENT_SCRIPT, script, mode=0o755)
        remote_q, remote_f = self.remote_path(int8_path), self.remote_path(fp32_path)
        cmd = (f"{shlex.quote(self.device.python)} {shlex.quote(script)} {shlex.quote(remote_q)} "
               f"{shlex.quote(remote_f)} --samples {samples} 2>&1; rm -f {shlex.quote(script)}")
        return parse_agreement(self.t.shell(cmd, timeout_s=600).output)

    def _cleanup_paths(self) -> list[str]:
        return [self.runner]


def _evict_args(cold: bool, evict_bytes: int | None) -> str:
    """The runner's sweep before each timed run: none, the board's L2, or a context of N bytes."""
    if not cold:
        return ""
    return f" --evict-bytes {int(evict_bytes)} --timing-label context" if evict_bytes else " --evict-bytes l2"
