"""A measurement campaign: convert blocks (cached, in parallel), time them, store every result.

On this machine's CPU (backends that do not overlap conversion) conversion and timing
alternate chunk by chunk, so no converter ever runs while a host measurement does. On
remote devices the next chunk is converted while the current one is measured.
Re-running a campaign measures only what is missing: blocks with no 'ok' row yet, and the passes that
an interrupted campaign left unmeasured (a block with 1 of 3 passes gets passes 2 and 3).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from edgelat.core.blockspec import BlockSpec
from edgelat.core.netspec import NetworkSpec
from edgelat.core.progress import NullProgress, Progress
from edgelat.devices.backends import Backend
from edgelat.devices.catalog import Device
from edgelat.devices.measurement import Measurement
from edgelat.devices.policy import BLOCK_POLICY, MeasurementPolicy
from edgelat.profiler.conversion_pool import ConversionPool, ConversionResult
from edgelat.profiler.interference import InterferenceDetector
from edgelat.profiler.spell_guard import SpellGuard, run_passes
from edgelat.profiler.store import Store
from edgelat.profiler.timing import PLAIN, BlockTiming


@dataclass
class CampaignResult:
    requested: int = 0
    already_done: int = 0
    measured: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    converted: int = 0
    cached: int = 0
    convert_call_s: float = 0.0  # sum of the converter's own convert() calls
    conversion_s: float = 0.0  # sum of whole conversions in workers (build, freeze, convert, write)
    conversion_wait_s: float = 0.0  # wall time the campaign spent waiting for conversions
    measure_s: float = 0.0  # wall time inside backend.measure()
    wall_s: float = 0.0
    remeasured: list[tuple[str, str]] = field(default_factory=list)  # (key, why) of disturbed measurements


def report_start(progress: Progress, total: int, already_done: int) -> None:
    """Say what a (resumed) campaign has left, and open its progress phase."""
    if already_done:
        progress.note(f"resuming: {already_done} already measured, {total} to go")
    if total:
        progress.phase("profiling", total)


def report_block(progress: Progress, done: int, total: int, spec: BlockSpec, m: Measurement) -> None:
    """Advance the campaign's progress by one block, showing its result."""
    last = f"{spec.key} {m.latency_ms:.3f} ms" if m.ok else f"{spec.key} FAILED"
    progress.advance(done, total, {"last": last})


def _chunks(items: Sequence[BlockSpec], size: int) -> list[Sequence[BlockSpec]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_campaign(
    device: Device,
    specs: Sequence[BlockSpec],
    store: Store,
    backend: Backend,
    pool: ConversionPool,
    *,
    policy: MeasurementPolicy = BLOCK_POLICY,
    chunk: int = 16,
    progress: Progress | None = None,
    timing: BlockTiming = PLAIN,
    detector: InterferenceDetector | None = None,
    guard: SpellGuard | None = None,
) -> CampaignResult:
    """Measure every block (or kernel, or network) of `specs` not yet in `store` for (device, threads); blocks
    and kernels are timed by `timing` (networks always plainly: they are the truth).
    Everything is measured under `policy` (devices/policy.py), which each row records. Measurements the
    `detector` flags as disturbed are stored flagged and measured again at the end. With the policy's
    `passes` > 1 every block is then measured again, pass after pass, each pass a stored row: runs of one
    block far apart in time, of which the fastest is the estimate (Store.rows "min"). A block that an
    interrupted campaign left with fewer passes gets the rest. A spell `guard` keeps passes out of the
    machine's slow spells and runs slow ones again (profiler/spell_guard.py)."""
    start = time.perf_counter()
    threads = getattr(backend, "threads", device.threads)
    done = store.done_counts(device.name, threads, timing.method)
    todo = [s for s in dict.fromkeys(specs) if s.key not in done]
    result = CampaignResult(requested=len(set(specs)), already_done=len(set(specs)) - len(todo))
    bench = _Bench(device, store, backend, policy, timing, f"{device.name}@{socket.gethostname()}",
                   progress or NullProgress(), detector or InterferenceDetector())
    report_start(bench.progress, len(todo), result.already_done)
    measured, suspects, first_timed, began = _first_pass(bench, todo, pool, max(1, chunk), result, guard)
    bench.remeasure(suspects, result)
    resumed = _resumed(specs, done, policy.passes, pool, bench.progress)
    if measured or resumed:
        again = 0  # pass 1 to be run again (when the guard found it slow and may)
        if measured and guard is not None and not guard.passed(backend, "pass 1", began,
                                                                can_repeat=guard.max_repeats > 0):
            again = 1
        later = measured + resumed  # pass n measures those with fewer than n passes before this campaign

        def later_pass(n: int, total: int) -> None:
            if short := [c for c in later if done.get(c.spec.key, 0) < n]:
                bench.another_pass(short, (n, total))

        # Passes start pass_gap_s apart (from pass 1's first timing, not `start`: converting a lone network
        # would use up the gap), or a short one would repeat within the very disturbance it should see past.
        run_passes(later_pass, policy.passes, policy.pass_gap_s, guard, backend, first=2,
                   pass_start=first_timed or start, again=again)
    result.wall_s = time.perf_counter() - start
    return result


def _resumed(specs: Sequence[BlockSpec], done: dict[str, int], passes: int, pool: ConversionPool,
             progress: Progress) -> list[ConversionResult]:
    """The conversions (from the cache, or converted again) of the blocks an earlier, interrupted campaign
    measured in fewer than `passes` passes; they are measured in the passes they miss."""
    short = [s for s in dict.fromkeys(specs) if 0 < done.get(s.key, 0) < passes]
    if not short:
        return []
    progress.note(f"resuming: {len(short)} measured in fewer than {passes} passes; measuring the passes they miss")
    conversions = [f.result() for f in [pool.submit(s) for s in short]]
    for c in conversions:
        if c.path is None:
            progress.warn(f"{c.spec.key}: converting it again for its missing passes failed: {c.error}")
    return [c for c in conversions if c.path is not None]


def _first_pass(bench: _Bench, todo: list[BlockSpec], pool: ConversionPool, chunk: int, result: CampaignResult,
                guard: SpellGuard | None) -> tuple[list[ConversionResult], list[tuple[ConversionResult, str]],
                                                   float | None, float]:
    """Convert and measure `todo` chunk by chunk; the conversions measured, the disturbed ones, when the first
    measurement began and the guard's ratio then."""
    chunks = _chunks(todo, chunk)
    submit = lambda c: [pool.submit(s) for s in c]  # noqa: E731
    pending: list[Future[ConversionResult]] = submit(chunks[0]) if chunks else []
    suspects: list[tuple[ConversionResult, str]] = []
    measured: list[ConversionResult] = []
    first_timed: float | None = None  # when pass 1's first measurement began (after its conversion)
    began = 1.0  # the guard's ratio as pass 1 began
    backend = bench.backend
    for i in range(len(chunks)):
        t0 = time.perf_counter()
        conversions = [f.result() for f in pending]  # wait: no conversion runs past this point...
        result.conversion_wait_s += time.perf_counter() - t0
        # ...unless the device is remote, where converting ahead overlaps with its timing.
        pending = submit(chunks[i + 1]) if backend.overlaps_conversion and i + 1 < len(chunks) else []
        backend.prepare([c.path for c in conversions if c.path is not None])  # remote devices: one batch push
        for j, conv in enumerate(conversions, 1):
            if first_timed is None:
                began = guard.settle(backend, "pass 1") if guard else 1.0
                first_timed = time.perf_counter()
            m, why = bench.measure_one(conv, result)
            if why:
                suspects.append((conv, why))
            if conv.path is not None:
                measured.append(conv)
            report_block(bench.progress, i * chunk + j, len(todo), conv.spec, m)
        if not backend.overlaps_conversion and i + 1 < len(chunks):
            pending = submit(chunks[i + 1])
    return measured, suspects, first_timed, began


@dataclass
class _Bench:
    """What every measurement of one campaign shares: where it runs, how, and where rows go."""

    device: Device
    store: Store
    backend: Backend
    policy: MeasurementPolicy
    timing: BlockTiming
    unit: str
    progress: Progress
    detector: InterferenceDetector

    def another_pass(self, convs: list[ConversionResult], which: tuple[int, int]) -> None:
        """Measure every block of the campaign once more and store the rows (flagged if disturbed)."""
        self.progress.phase(f"profiling, pass {which[0]}/{which[1]}", len(convs))
        self.backend.prepare([c.path for c in convs])
        scratch = CampaignResult()
        for n, conv in enumerate(convs, 1):
            m, _ = self.measure_one(conv, scratch, remeasure_of=f"pass {which[0]}")
            report_block(self.progress, n, len(convs), conv.spec, m)

    def remeasure(self, suspects: list[tuple[ConversionResult, str]], result: CampaignResult) -> None:
        """Measure the disturbed ones again, later; both rows stay (the first as a failed row whose
        error starts with store.DISTURBED; both count towards the fastest estimate)."""
        if not suspects:
            return
        self.progress.note(f"re-measuring {len(suspects)} measurement(s) that looked disturbed by other work")
        self.backend.prepare([c.path for c, _ in suspects if c.path is not None])
        for conv, why in suspects:
            result.remeasured.append((conv.spec.key, why))
            self.measure_one(conv, result, remeasure_of=why)

    def measure_one(self, conv: ConversionResult, result: CampaignResult, remeasure_of: str | None = None
                    ) -> tuple[Measurement, str | None]:
        """Measure and store one conversion; returns the measurement and why it looks disturbed (if so:
        stored as a failed 'disturbed' row, to be measured again). A re-measurement records what it
        re-measures and is stored as done even if it looks disturbed too (flagged)."""
        spec, backend = conv.spec, self.backend
        if conv.path is None:
            m = Measurement.failed(f"conversion failed: {conv.error}", threads=getattr(backend, "threads", 1))
        else:
            _count_conversion(conv, result)
            t0 = time.perf_counter()
            how = {} if isinstance(spec, NetworkSpec) else self.timing.measure_kwargs(spec.dtype)
            m = self.policy.measure(backend, conv.path, **how)
            result.measure_s += time.perf_counter() - t0
        verdict = self.detector.after(spec.key, m)
        why = None if verdict.keep else verdict.reason
        if remeasure_of is not None:
            m.info["remeasure_of"] = remeasure_of
        if why is not None:
            m.info["interference"] = why
        disturbed = why is not None and remeasure_of is None  # a second disturbed one is kept: flagged, done
        self.store.add(self.device.name, spec, m, backend.runtime or self.device.runtime,
                       backend.runtime_version or "unknown", self.unit, disturbed=disturbed)
        if disturbed:
            return m, why
        if m.ok:
            result.measured += 1
        else:
            result.failures.append((spec.key, m.error or "unknown error"))
            self.progress.warn(f"{spec.key}: measurement failed: {m.error}")
        return m, None


def _count_conversion(conv: ConversionResult, result: CampaignResult) -> None:
    if conv.cached:
        result.cached += 1
    else:
        result.converted += 1
        result.convert_call_s += conv.convert_s
        result.conversion_s += conv.total_s
