"""One interface for the checks that decide whether a measurement counts.

A guard is asked before a measurement (is the device ready, or should we wait?) and after it (keep
it, or measure it again?). Three guards implement it, each for one way a measurement goes wrong:

- thermal hygiene (devices/hygiene.py): a device too hot, or its CPUs capped, measures slow;
- interference (profiler/interference.py): another process on the device leaves a spread far above
  the campaign's usual one, or a drift across the runs;
- the spell guard (profiler/spell_guard.py): a shared machine's slow spell, seen by a probe timed
  before and after each pass.

The drivers (`wait_until_ready` here, `run_passes` for passes, the campaigns per measurement) decide
what an "again" costs: hygiene measures again at once, interference later in the campaign, the spell
guard runs the whole pass again. A guard never drops a measurement: what it could not protect is kept
and flagged, and said.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from edgelat.devices.measurement import Measurement


class Verdict(StrEnum):
    """What a guard says of a measurement to come (before) or just made (after)."""

    KEEP = "keep"  # before: go ahead; after: the measurement counts
    AGAIN = "again"  # after: measure it again (the first is kept, flagged)
    WAIT = "wait"  # before: the device is not ready; wait `wait_s` and ask again


@dataclass(frozen=True)
class Decision:
    """A verdict with the reason a person reads, and for WAIT how long to wait before asking again."""

    verdict: Verdict
    reason: str = ""
    wait_s: float = 0.0

    @property
    def keep(self) -> bool:
        return self.verdict is Verdict.KEEP


KEEP = Decision(Verdict.KEEP)


def again(reason: str) -> Decision:
    return Decision(Verdict.AGAIN, reason)


def wait(reason: str, wait_s: float) -> Decision:
    """WAIT `wait_s` (> 0: a guard that waits no time would be asked again forever)."""
    if not wait_s > 0:
        raise ValueError(f"a guard's wait must be > 0 s, got {wait_s}")
    return Decision(Verdict.WAIT, reason, wait_s)


class Guard:
    """The base guard keeps everything; a guard overrides `before`, `after` or both. `name` is what rows
    and messages call it."""

    name = "guard"

    def before(self, label: str) -> Decision:
        """Asked before the measurement (or pass) `label`: KEEP to go ahead, WAIT to be asked again later."""
        return KEEP

    def after(self, label: str, m: Measurement | None) -> Decision:
        """Asked after it, with the measurement (None after a whole pass): KEEP, or AGAIN with the reason."""
        return KEEP


def wait_until_ready(guard: Guard, label: str, max_wait_s: float, *, sleep: Callable[[float], None] = time.sleep,
                     on_wait: Callable[[Decision], None] | None = None,
                     clock: Callable[[], float] | None = None) -> tuple[Decision, float]:
    """Ask `guard.before(label)` until it stops saying WAIT, sleeping as told, for at most `max_wait_s`: the
    seconds slept, or by `clock` (the guard's own checks then count too). The last decision (still WAIT if
    time ran out: the caller says so) and the seconds used."""
    start, slept = (clock() if clock else 0.0), 0.0

    def used() -> float:
        return clock() - start if clock else slept

    decision = guard.before(label)
    while decision.verdict is Verdict.WAIT and used() < max_wait_s:
        step = min(max(decision.wait_s, 0.0), max_wait_s - used())
        if on_wait is not None:
            on_wait(decision)
        sleep(step)
        slept += step
        decision = guard.before(label)
    return decision, used()
