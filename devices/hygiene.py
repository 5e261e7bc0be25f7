"""Measurement hygiene on ADB devices: identity, CPU frequencies, temperatures, cool-down, throttling.

Before and after each measurement one shell call reads every ``thermal_zone*/temp`` under the
device file's ``thermal_path`` and the pinned CPUs' frequencies. If a zone is above
``thermal_limit_c`` the device is left to cool (up to ``cooldown_s``). A measurement is
*throttled* when, afterwards, a zone is above the limit or a pinned CPU's frequency ceiling
(``scaling_max_freq``) is below its hardware maximum (``cpuinfo_max_freq``), which is how the
kernel's thermal framework caps a CPU. A throttled measurement is repeated once after a
cool-down; if it is still throttled it is stored flagged (``info['throttled'] = True``),
never as clean. With no readable zone and no frequency files, ``throttled`` is None (unknown).
`Hygiene` is one of the three guards of devices/guards.py.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgelat.devices.catalog import Device
from edgelat.devices.guards import KEEP, Decision, Guard, again, wait, wait_until_ready
from edgelat.devices.measurement import Measurement
from edgelat.devices.remote_transport import RemoteTransport

POLL_S = 2.0


@dataclass
class Snapshot:
    """Temperatures (deg C, per zone type) and CPU frequencies (kHz) at one moment."""

    temps_c: dict[str, float] = field(default_factory=dict)
    cur_khz: dict[int, int] = field(default_factory=dict)
    max_khz: dict[int, int] = field(default_factory=dict)
    hw_max_khz: dict[int, int] = field(default_factory=dict)

    @property
    def hottest_c(self) -> float | None:
        return max(self.temps_c.values()) if self.temps_c else None

    def capped_cpus(self) -> list[int]:
        """CPUs whose frequency ceiling is below the hardware maximum (thermal capping)."""
        return sorted(c for c, m in self.max_khz.items() if c in self.hw_max_khz and m < self.hw_max_khz[c])

    def as_info(self) -> dict[str, Any]:
        return {"temps_c": self.temps_c, "cpu_khz": {str(k): v for k, v in self.cur_khz.items()}}


def identity(t: RemoteTransport, android: bool) -> dict[str, str]:
    """Who the device is: getprop model/SDK/platform on Android, uname (and DT model) on Linux."""
    if android:
        props = ("ro.product.model", "ro.build.version.sdk", "ro.board.platform", "ro.product.cpu.abi")
        res = t.shell("; ".join(f"echo \"{p}=$(getprop {p})\"" for p in props))
        out = dict(ln.split("=", 1) for ln in res.output.splitlines() if "=" in ln)
        return {"model": out.get(props[0], ""), "sdk": out.get(props[1], ""), "platform": out.get(props[2], ""),
                "abi": out.get(props[3], "")}
    res = t.shell("uname -srvm; cat /proc/device-tree/model 2>/dev/null | tr -d '\\0'")
    lines = res.output.splitlines()
    return {"uname": lines[0] if lines else "", "model": lines[1] if len(lines) > 1 else ""}


def _snapshot_cmd(thermal_path: str, cpus: list[int]) -> str:
    tp = shlex.quote(thermal_path.rstrip("/"))
    cpu_ids = " ".join(map(str, cpus)) if cpus else "$(ls -d /sys/devices/system/cpu/cpu[0-9]* | sed 's/.*cpu//')"
    return (
        f"for z in {tp}/thermal_zone*; do [ -r \"$z/temp\" ] && echo \"T $(cat $z/type 2>/dev/null || basename $z)"
        f" $(cat $z/temp 2>/dev/null)\"; done; "
        f"for c in {cpu_ids}; do f=/sys/devices/system/cpu/cpu$c/cpufreq; "
        f"echo \"F $c $(cat $f/scaling_cur_freq 2>/dev/null) $(cat $f/scaling_max_freq 2>/dev/null)"
        f" $(cat $f/cpuinfo_max_freq 2>/dev/null)\"; done; true"
    )


def parse_snapshot(text: str) -> Snapshot:
    """Parse the snapshot command's lines; unreadable values are left out, not guessed."""
    snap = Snapshot()
    for ln in text.splitlines():
        parts = ln.split()
        if len(parts) >= 3 and parts[0] == "T":
            name, raw = " ".join(parts[1:-1]), parts[-1]
            try:
                value = float(raw)
            except ValueError:
                continue
            # sysfs reports millidegrees; a few vendor zones report degrees (values below 200)
            temp = value / 1000.0 if abs(value) >= 200 else value
            key, n = name, 2
            while key in snap.temps_c:
                key, n = f"{name}#{n}", n + 1
            snap.temps_c[key] = temp
        elif len(parts) >= 2 and parts[0] == "F" and parts[1].isdigit():
            cpu = int(parts[1])
            for target, raw in zip((snap.cur_khz, snap.max_khz, snap.hw_max_khz), parts[2:5], strict=False):
                if raw.isdigit():
                    target[cpu] = int(raw)
    return snap


class Hygiene(Guard):
    """The thermal guard of one device (devices/guards.py): before a measurement it waits while a zone is too
    hot (at most cooldown_s); after it, a throttled measurement is to be measured again."""

    name = "thermal hygiene"

    def __init__(self, t: RemoteTransport, device: Device, sleep: Callable[[float], None] = time.sleep) -> None:
        self.t = t
        self.device = device
        self.sleep = sleep
        self._cmd = _snapshot_cmd(device.thermal_path, device.cpus)
        self.last_before = self.last_after = Snapshot()

    def snapshot(self) -> Snapshot:
        return parse_snapshot(self.t.shell(self._cmd, timeout_s=30).output)

    def _too_hot(self, snap: Snapshot) -> bool:
        limit = self.device.thermal_limit_c
        hottest = snap.hottest_c
        return limit is not None and hottest is not None and hottest > limit

    def before(self, label: str) -> Decision:
        self.last_before = snap = self.snapshot()
        if self._too_hot(snap):
            return wait(f"{label}: {snap.hottest_c:.1f} C > thermal_limit_c {self.device.thermal_limit_c:g}", POLL_S)
        return KEEP

    def after(self, label: str, m: Measurement | None) -> Decision:
        self.last_after = snap = self.snapshot()
        return again(self._reason(snap)) if self.throttled(snap) else KEEP

    def throttled(self, snap: Snapshot) -> bool | None:
        if not snap.temps_c and not snap.max_khz:
            return None
        if self._too_hot(snap) or snap.capped_cpus():
            return True
        if self.device.thermal_limit_c is None and not snap.max_khz:
            return None  # temperatures but no limit and no frequency files: cannot tell
        return False

    def measure(self, run: Callable[[], Measurement], repeats: int = 1) -> Measurement:
        """Run a measurement with cool-down before it; repeat once if it was throttled, else flag it."""
        cooled_total = 0.0
        attempt = 0
        while True:
            _, waited = wait_until_ready(self, "measurement", self.device.cooldown_s, sleep=self.sleep)
            cooled_total += waited
            m = run()
            decision = self.after("measurement", m)
            if not decision.keep and attempt < repeats and m.ok:
                attempt += 1
                continue
            after = self.last_after
            throttled = self.throttled(after)
            info = {**m.info, "throttled": throttled, "cooldown_wait_s": round(cooled_total, 2),
                    "before": self.last_before.as_info(), "after": after.as_info(), "attempts": attempt + 1}
            if throttled:
                info["throttled_reason"] = decision.reason
            return Measurement(ok=m.ok, stats=m.stats, runs=m.runs, warmup=m.warmup, threads=m.threads,
                               error=m.error, raw_output=m.raw_output, info=info)

    def _reason(self, snap: Snapshot) -> str:
        parts = []
        if self._too_hot(snap):
            parts.append(f"{snap.hottest_c:.1f} C > thermal_limit_c {self.device.thermal_limit_c:g}")
        if snap.capped_cpus():
            parts.append(f"CPU frequency ceiling capped on CPUs {snap.capped_cpus()}")
        return "; ".join(parts)
