"""The spell guard: a fixed probe block, timed with its weights streamed from memory, read before and
after every pass of a campaign, so that passes are only counted when the machine runs at its usual speed.

On a shared VM, slow spells (+10-20% on whole networks, for seconds and now and then over a minute)
and stretches of cache pressure (context-timed tables 5-6% slow for a whole campaign) can cover every
pass of a campaign, and then the fastest of the passes is slow too. The guard waits, before a pass,
until the probe reads within `tolerance` of the fastest it ever read on this device (the history
lives in a store, so campaigns sharing it share one yardstick), and runs a pass again when the probe
read slow at its end. It never gives up silently: a pass it could not protect is said, with the ratio.
One of the three guards of devices/guards.py: its "again" runs the whole pass again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgelat.core.blockspec import BlockSpec
from edgelat.core.progress import NullProgress, Progress
from edgelat.core.sizes import MIB
from edgelat.devices.backends.base import Backend
from edgelat.devices.guards import KEEP, Decision, Guard, again, wait, wait_until_ready
from edgelat.devices.measurement import Measurement
from edgelat.devices.passes import wait_pass_gap
from edgelat.errors import OptionError, RunnerError
from edgelat.profiler.cache import TFLiteCache
from edgelat.profiler.conversion_pool import ConversionPool
from edgelat.profiler.store import Store

# A mid-network MBConv (0.5 MB of fp32 weights) timed after a 24 MB sweep: it reads its weights from
# memory, as the blocks and networks it stands guard for do, so it feels both CPU and memory contention.
PROBE = BlockSpec(input_hw=14, cin=96, cout=96, expand=6, kernel=5, stride=1, se=0, act="relu6", dtype="fp32")
PROBE_EVICT_BYTES = 24 * MIB
# One reading is the fastest of this many medians (~1.5 s on the host): single medians of the probe scatter
# by 15% from second to second on this VM, the fastest of 5 s of them by 4% over two quiet minutes.
PROBE_READS = 8


@dataclass
class SpellGuard(Guard):
    """Probe `probe_path` on the campaign's backend; readings go to the store at `history` under
    (device, threads). A pass waits (probing every `wait_s`) up to `max_wait_s` for a reading within
    `tolerance` of the fastest; up to `max_repeats` slow passes of each set of passes are run again."""

    probe_path: Path
    history: Path
    device: str
    tolerance: float = 0.05
    wait_s: float = 15.0
    max_wait_s: float = 300.0
    max_repeats: int = 3  # per set of passes (a campaign's; the fixed parts' of each dtype)
    progress: Progress = field(default_factory=NullProgress)
    readings: list[tuple[str, float, float]] = field(default_factory=list)  # (label, ms, ratio) in this run
    waited_s: float = 0.0  # spent settling before passes: readings and waits
    repeated: list[str] = field(default_factory=list)  # the passes run again
    unprotected: list[str] = field(default_factory=list)  # passes that ran (or ended) in a spell regardless
    backend: Backend | None = None  # the campaign's, bound by settle() and passed()
    began: float = 1.0  # the ratio read as the current pass began
    name = "spell guard"

    def __post_init__(self) -> None:
        if not 0.0 < self.tolerance <= 1.0:
            raise OptionError(f"--spell-guard: the tolerance must be within (0, 1], got {self.tolerance}")

    def probe(self, backend: Backend, label: str) -> float:
        """One reading (the fastest of PROBE_READS medians), recorded; its ratio to the fastest reading on
        record, this one included."""
        kwargs = {"cold": True, "evict_bytes": PROBE_EVICT_BYTES} if backend.cold_timing else {}
        if not kwargs and not self.readings:
            self.progress.note(f"spell guard: {self.device} cannot sweep its caches; the probe is timed warm "
                               "(it still sees CPU contention, not memory contention)")
        ms = float("inf")
        for _ in range(PROBE_READS):
            m = backend.measure(self.probe_path, 5, 30, 100.0, **kwargs)
            if not m.ok:
                raise RunnerError(f"{self.probe_path}: the spell guard's probe failed: {m.error}")
            ms = min(ms, m.latency_ms)
        threads = getattr(backend, "threads", 1)
        with Store(self.history) as store:
            fastest = store.fastest_probe_ms(self.device, threads)
            ratio = ms / min(fastest or ms, ms)
            store.add_probe(self.device, threads, ms, ratio, label)
        self.readings.append((label, ms, ratio))
        return ratio

    def slow(self, ratio: float) -> bool:
        return ratio > 1.0 + self.tolerance

    def before(self, label: str) -> Decision:
        """One reading before the pass `label`: WAIT (`wait_s`) while the probe reads slow."""
        assert self.backend is not None, "settle() binds the backend"
        self.began = ratio = self.probe(self.backend, f"{label} start")
        return wait(f"the probe reads {ratio - 1:+.1%} over its fastest", self.wait_s) if self.slow(ratio) else KEEP

    def after(self, label: str, m: Measurement | None) -> Decision:
        """One reading after the pass: AGAIN if it ended, or began, in a slow spell."""
        assert self.backend is not None, "settle() binds the backend"
        ratio = self.probe(self.backend, f"{label} end")
        if not (self.slow(ratio) or self.slow(self.began)):
            return KEEP
        return again(f"probe {max(self.began, ratio) - 1:+.1%}")

    def settle(self, backend: Backend, label: str) -> float:
        """Before a pass: probe until a reading is within tolerance, waiting up to max_wait_s; the last ratio."""
        self.backend, start = backend, time.perf_counter()
        decision, _ = wait_until_ready(self, label, self.max_wait_s, clock=time.perf_counter, on_wait=lambda d: (
            self.progress.note(f"spell guard: {d.reason}; waiting {d.wait_s:g} s before {label}")))
        self.waited_s += time.perf_counter() - start
        if not decision.keep:
            self.progress.warn(f"spell guard: still {self.began - 1:+.1%} slow after {self.max_wait_s:g} s; "
                               f"running {label} regardless")
        return self.began

    def passed(self, backend: Backend, label: str, began: float, can_repeat: bool) -> bool:
        """After a pass that `began` at this ratio (settle's): did it start and end at the usual speed?
        A slow one is to be run again if it `can_repeat`, else it is kept, with a warning."""
        self.backend, self.began = backend, began
        decision = self.after(label, None)
        if decision.keep:
            return True
        if can_repeat:
            self.repeated.append(label)
            self.progress.note(f"spell guard: {label} ran in a slow spell ({decision.reason}); it will be run again")
        else:
            self.unprotected.append(label)
            self.progress.warn(f"spell guard: {label} ran in a slow spell ({decision.reason}) and "
                               f"{self.max_repeats} pass(es) were already run again; keeping it")
        return False

    def summary(self) -> dict[str, object]:
        ratios = [r for _, _, r in self.readings]
        return {"probes": len(ratios), "worst_ratio": round(max(ratios, default=1.0), 3),
                "waited_s": round(self.waited_s, 1), "passes_run_again": list(self.repeated),
                "unprotected_passes": list(self.unprotected),
                "probe_ms": round(min((ms for _, ms, _ in self.readings), default=0.0), 4)}


def probe_path(cache: TFLiteCache) -> Path:
    """The probe's .tflite, converted in a worker process (TensorFlow stays out of this one) if not cached."""
    if (path := cache.get(PROBE)) is not None:
        return path
    with ConversionPool(cache, 1) as pool:
        conv = pool.submit(PROBE).result()
    if conv.path is None:
        raise RunnerError(f"converting the spell guard's probe {PROBE.key} failed: {conv.error}")
    return conv.path


def run_passes(run_pass: Callable[[int, int], None], passes: int, pass_gap_s: float, guard: SpellGuard | None,
               backend: Backend, *, first: int = 1, pass_start: float = float("-inf"), again: int = 0,
               name: str = "") -> None:
    """Run passes `first`..`passes`, starting >= `pass_gap_s` apart (see devices.passes.wait_pass_gap), each
    guarded when a `guard` is given; up to its max_repeats slow passes (`again` of them already) are run
    again. `run_pass(n, total)` measures pass n of (as far as known) total; `name` prefixes the labels."""
    n = first - 1
    while n < passes + again:
        n += 1
        pass_start = wait_pass_gap(pass_start, pass_gap_s)
        began = guard.settle(backend, f"{name}pass {n}") if guard else 1.0
        run_pass(n, passes + again)
        can_repeat = guard is not None and again < guard.max_repeats
        if guard and not guard.passed(backend, f"{name}pass {n}", began, can_repeat) and can_repeat:
            again += 1
