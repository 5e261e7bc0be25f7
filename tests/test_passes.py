"""devices/passes.py: the one home of the pass gap and of "the fastest of N passes"."""

import time

import pytest

from edgelat.devices.measurement import Measurement
from edgelat.devices.passes import check_passes, fastest_of_passes, passes_in_rounds, wait_pass_gap
from edgelat.errors import OptionError


def test_passes_wait_out_the_gap_but_the_first_pass_starts_at_once():
    """The one pass-spacing rule that deploy, block campaigns, fixed parts and --verify share."""
    t0 = time.perf_counter()
    assert wait_pass_gap(float("-inf"), 60.0) - t0 < 0.5  # the first pass: no wait
    started = wait_pass_gap(t0, 0.4)
    assert 0.4 <= started - t0 < 5.0
    late = time.perf_counter()
    assert wait_pass_gap(late - 10.0, 0.4) - late < 0.5  # a long pass already used up the gap


def _timed(latencies_ms: list[float], starts: list[float]):
    """A measure_once that reports the given medians in turn and records when each pass began."""
    it = iter(latencies_ms)

    def measure_once() -> Measurement:
        starts.append(time.perf_counter())
        return Measurement(ok=True, stats={"median_ms": next(it)}, runs=5)

    return measure_once


def test_the_fastest_pass_counts_and_every_pass_is_reported_gap_apart():
    starts: list[float] = []
    best, passes_ms = fastest_of_passes(_timed([1.3, 1.1, 1.2], starts), 3, pass_gap_s=0.2)
    assert best.latency_ms == 1.1 and passes_ms == [1.3, 1.1, 1.2]
    gaps_s = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert len(starts) == 3 and min(gaps_s) > 0.19  # spaced from when each pass began, give or take a call


def test_a_failed_pass_is_returned_for_the_caller_to_name():
    def flaky() -> Measurement:
        return Measurement.failed("benchmark exited 1", raw_output="boom")

    m, passes_ms = fastest_of_passes(flaky, 3, pass_gap_s=0.0)
    assert not m.ok and m.error == "benchmark exited 1" and passes_ms == []


@pytest.mark.parametrize("passes, gap_s", [(0, 3.0), (3, -1.0), (3, 3601.0)])
def test_bad_pass_settings_name_both_options(passes, gap_s):
    with pytest.raises(OptionError, match=r"--passes must be >= 1 and --pass-gap-s within 0\.\.3600 s"):
        check_passes(passes, gap_s)


def test_passes_in_rounds_resume_and_report_failures():
    """Loose models measured in passes over all of them: what a cut-short run measured counts, a failure is
    reported and measured again in the next pass, and each pass starts the gap after the last."""
    done = {"a": [2.0, 1.9], "b": [3.0]}  # a run cut short in its pass 2
    seen, starts = [], {}
    failing = iter([True, False, False, False])

    def measure_once(key: str) -> Measurement:
        starts.setdefault(len(seen), time.perf_counter())
        if key == "c" and next(failing):
            return Measurement.failed("busy")
        return Measurement(ok=True, stats={"median_ms": 1.0}, runs=5)

    out = passes_in_rounds(["a", "b", "c"], measure_once, 3, pass_gap_s=0.3, done=done,
                           on_result=lambda n, key, m: seen.append((n, key, m.ok)))
    assert out is done and done == {"a": [2.0, 1.9, 1.0], "b": [3.0, 1.0, 1.0], "c": [1.0, 1.0]}
    assert seen == [(1, "c", False), (2, "b", True), (2, "c", True), (3, "a", True), (3, "b", True), (3, "c", True)]
    pass_starts = [starts[0], starts[1], starts[3]]
    assert all(b - a > 0.29 for a, b in zip(pass_starts, pass_starts[1:], strict=False))
