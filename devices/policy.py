"""The measurement policy: how every measurement edgelat makes is timed, in one value.

Blocks, kernels, fixed parts, whole networks, `deploy` and `search --verify` all measure with a
`MeasurementPolicy`, so `profile` and `deploy` time a network the same way unless told otherwise,
and every stored row records the policy it was measured under (`record()`, in the row's info).

- `warmup` runs are thrown away; then at least `runs` timed runs and `min_time_ms` of timed work
  (more runs for short models: one short median scatters by 10% on a shared machine);
- the model is measured in `passes` passes (pass 2 only after every model of the campaign had its
  pass 1), each starting at least `pass_gap_s` after the last: a slow spell of a shared machine lasts
  seconds, so it cannot cover them all;
- the `estimate` is the fastest pass: other work on the machine only ever adds time.

Whole networks (the truth that predictors are fitted to and judged by) get 3 passes by default,
blocks and kernels 1 (`BLOCK_POLICY`): a table of hundreds of blocks is measured for minutes, and
its errors average out over a network's sum. The guards that check each measurement (thermal
hygiene, interference, the spell guard) are in devices/guards.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from edgelat.devices.measurement import Measurement
from edgelat.devices.passes import MAX_PASS_GAP_S, MIN_PASS_S
from edgelat.errors import OptionError

ESTIMATES = ("fastest",)
POLICY_FIELDS = ("warmup", "runs", "min_time_ms", "passes", "pass_gap_s", "estimate")


@dataclass(frozen=True)
class MeasurementPolicy:
    """Warm-up, timed runs, minimum timed work, passes and their gap, and the estimate over the passes."""

    warmup: int = 10
    runs: int = 50
    min_time_ms: float = 200.0
    passes: int = 3
    pass_gap_s: float = MIN_PASS_S
    estimate: str = "fastest"

    def __post_init__(self) -> None:
        if self.runs < 1 or self.warmup < 0 or not self.min_time_ms >= 0:
            raise OptionError(f"--runs must be >= 1, --warmup and --min-time-ms >= 0 "
                              f"(got {self.runs}, {self.warmup}, {self.min_time_ms})")
        if self.passes < 1 or not 0 <= self.pass_gap_s <= MAX_PASS_GAP_S:
            raise OptionError(f"--passes must be >= 1 and --pass-gap-s within 0..{MAX_PASS_GAP_S:g} s "
                              f"(got {self.passes}, {self.pass_gap_s})")
        if self.estimate not in ESTIMATES:
            raise OptionError(f"estimate must be one of {ESTIMATES}, got {self.estimate!r}")

    def with_changes(self, **changes: Any) -> MeasurementPolicy:
        """This policy with the given fields changed (None values are left as they are)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def measure(self, backend: Any, model: Path, **how: Any) -> Measurement:
        """One measurement (one pass) of `model` on `backend`; `how` is the timing method's sweep arguments."""
        m = backend.measure(model, self.warmup, self.runs, self.min_time_ms, **how)
        m.info.setdefault("policy", self.record())
        return m

    def record(self) -> dict[str, Any]:
        """What a stored row says of how it was measured."""
        return asdict(self)

    def describe(self) -> str:
        passes = "1 pass" if self.passes == 1 else f"the {self.estimate} of {self.passes} passes " \
                                                   f">= {self.pass_gap_s:g} s apart"
        return f"{self.warmup} warm-up, >= {self.runs} runs and >= {self.min_time_ms:g} ms timed, {passes}"


DEFAULT_POLICY = MeasurementPolicy()  # whole networks: profile --networks, deploy, search --verify
BLOCK_POLICY = replace(DEFAULT_POLICY, passes=1)  # blocks, kernels and fixed parts unless told
