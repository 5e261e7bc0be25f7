"""Measure the parts of a space's networks that no search changes (stem; head, pooling,
classifier) on a device, so a block table can price whole networks."""

from __future__ import annotations

from pathlib import Path

from edgelat.core.builders import fixed_part_models
from edgelat.core.convert import convert_model
from edgelat.core.paths import ensure_dir
from edgelat.core.spaces import SearchSpace
from edgelat.devices.backends import Backend
from edgelat.devices.passes import MIN_PASS_S
from edgelat.errors import RunnerError
from edgelat.profiler.spell_guard import SpellGuard, run_passes
from edgelat.profiler.timing import PLAIN, BlockTiming


def measure_fixed_parts(space: SearchSpace, backend: Backend, dtype: str, workdir: Path, *, warmup: int = 10,
                        runs: int = 50, min_time_ms: float = 200.0, timing: BlockTiming = PLAIN,
                        passes: int = 1, pass_gap_s: float = MIN_PASS_S, guard: SpellGuard | None = None
                        ) -> dict[str, float]:
    """Median latency in ms of the stem and the head on `backend`'s device, timed like the blocks
    they are summed with (`timing`); with `passes`, the fastest of that many measurements, pass after
    pass, the passes starting >= `pass_gap_s` apart and kept out of slow spells by `guard` (as for blocks)."""
    ensure_dir(workdir, "the fixed parts' models")
    paths = {}
    for name, model in fixed_part_models(space).items():
        path = workdir / f"{space.name}-r{space.resolution}-w{space.width:g}-c{space.num_classes}-{name}-{dtype}.tflite"
        path.write_bytes(convert_model(model, dtype).data)
        paths[name] = path
    out: dict[str, float] = {}

    def one_pass(_n: int, _total: int) -> None:
        for name, path in paths.items():
            m = backend.measure(path, warmup, runs, min_time_ms, **timing.measure_kwargs(dtype))
            if not m.ok:
                raise RunnerError(f"{path}: measuring the fixed part {name!r} failed: {m.error}")
            out[name] = min(out.get(name, float("inf")), m.latency_ms)

    run_passes(one_pass, max(1, passes), pass_gap_s, guard, backend, name=f"fixed parts {dtype} ")
    return out
