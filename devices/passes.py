"""Passes: several measurements of the same thing, far enough apart in time that one slow spell of a
shared machine cannot cover them all, of which the fastest counts.

The one home of the pass gap and of "the fastest of N passes", used by `deploy`, by the profiler's
campaigns and fixed parts (through the spell guard's `run_passes`), by `search --verify`'s sittings and,
in rounds over loose .tflite files, by the any-model benchmarks (`passes_in_rounds`).
It lives in `devices/` so that `deploy` (which may not import `profiler/`) and the profiler share it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from edgelat.devices.measurement import Measurement
from edgelat.errors import OptionError

MIN_PASS_S = 3.0  # passes start at least this far apart unless told (`--pass-gap-s`)
MAX_PASS_GAP_S = 3600.0


def check_passes(passes: int, pass_gap_s: float) -> None:
    """Refuse a pass count below 1 or a gap outside 0..MAX_PASS_GAP_S, naming both options."""
    if passes < 1 or not 0 <= pass_gap_s <= MAX_PASS_GAP_S:
        raise OptionError(f"--passes must be >= 1 and --pass-gap-s within 0..{MAX_PASS_GAP_S:g} s "
                          f"(got {passes}, {pass_gap_s})")


def wait_pass_gap(pass_start: float, gap_s: float) -> float:
    """Sleep until `gap_s` after `pass_start` (a perf_counter time); the next pass's start."""
    time.sleep(max(0.0, gap_s - (time.perf_counter() - pass_start)))
    return time.perf_counter()


def fastest_of_passes(measure_once: Callable[[], Measurement], passes: int,
                      pass_gap_s: float = MIN_PASS_S) -> tuple[Measurement, list[float]]:
    """Call `measure_once` `passes` times, each starting >= `pass_gap_s` after the last began; the fastest
    successful measurement and every pass's latency. The first failure is returned as it is (no latency
    list entry), so the caller names the model and device in its error."""
    check_passes(passes, pass_gap_s)
    best: Measurement | None = None
    passes_ms: list[float] = []
    began = float("-inf")
    for _ in range(passes):
        began = wait_pass_gap(began, pass_gap_s)
        m = measure_once()
        if not m.ok:
            return m, passes_ms
        passes_ms.append(m.latency_ms)
        if best is None or m.latency_ms < best.latency_ms:
            best = m
    assert best is not None  # passes >= 1
    return best, passes_ms


def passes_in_rounds(keys: list[str], measure_once: Callable[[str], Measurement], passes: int,
                     pass_gap_s: float = MIN_PASS_S, done: dict[str, list[float]] | None = None,
                     on_result: Callable[[int, str, Measurement], None] | None = None) -> dict[str, list[float]]:
    """Pass n measures every key with fewer than n latencies in `done` (so a cut-short run resumes), each pass
    starting >= `pass_gap_s` after the last began; `done` is updated in place and returned, and every
    measurement, failed ones too, goes to `on_result(pass, key, m)` (to save progress, to say it)."""
    check_passes(passes, pass_gap_s)
    done = {} if done is None else done
    began = float("-inf")
    for n in range(1, passes + 1):
        todo = [k for k in keys if len(done.get(k, [])) < n]
        if not todo:
            continue
        began = wait_pass_gap(began, pass_gap_s)
        for key in todo:
            m = measure_once(key)
            if m.ok:
                done.setdefault(key, []).append(m.latency_ms)
            if on_result is not None:
                on_result(n, key, m)
    return done
