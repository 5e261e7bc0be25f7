"""Measure the parts of a space's networks that no search changes (stem; head, pooling,
classifier) on a device, so a block table can price whole networks."""

from __future__ import annotations

from pathlib import Path

from edgelat.core.builders import fixed_part_models
from edgelat.core.convert import convert_model
from edgelat.core.paths import ensure_dir
from edgelat.core.spaces import SearchSpace
from edgelat.devices.backends import Backend
from edgelat.devices.policy import BLOCK_POLICY, MeasurementPolicy
from edgelat.errors import RunnerError
from edgelat.profiler.spell_guard import SpellGuard, run_passes
from edgelat.profiler.timing import PLAIN, BlockTiming


def measure_fixed_parts(space: SearchSpace, backend: Backend, dtype: str, workdir: Path, *,
                        policy: MeasurementPolicy = BLOCK_POLICY, timing: BlockTiming = PLAIN,
                        guard: SpellGuard | None = None) -> dict[str, float]:
    """Median latency in ms of the stem and the head on `backend`'s device, timed like the blocks
    they are summed with (`timing`) under `policy`: the fastest of its passes, kept out of slow spells
    by `guard` (as for blocks)."""
    ensure_dir(workdir, "the fixed parts' models")
    paths = {}
    for name, model in fixed_part_models(space).items():
        path = workdir / f"{space.name}-r{space.resolution}-w{space.width:g}-c{space.num_classes}-{name}-{dtype}.tflite"
        path.write_bytes(convert_model(model, dtype).data)
        paths[name] = path
    out: dict[str, float] = {}

    def one_pass(_n: int, _total: int) -> None:
        for name, path in paths.items():
            m = policy.measure(backend, path, **timing.measure_kwargs(dtype))
            if not m.ok:
                raise RunnerError(f"{path}: measuring the fixed part {name!r} failed: {m.error}")
            out[name] = min(out.get(name, float("inf")), m.latency_ms)

    run_passes(one_pass, policy.passes, policy.pass_gap_s, guard, backend, name=f"fixed parts {dtype} ")
    return out
