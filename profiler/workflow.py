"""What `edgelat profile` does: pick the blocks, measure them on the device (one machine, or
every unit of a device farm), optionally measure the space's fixed parts, and summarise."""

from __future__ import annotations

import threading
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgelat.core.blockspec import BlockSpec
from edgelat.core.footprint import typical_streamed_bytes
from edgelat.core.kernelspec import KernelSpec
from edgelat.core.netspec import NetworkSpec
from edgelat.core.progress import NullProgress, Progress
from edgelat.core.spaces import SearchSpace, get_space
from edgelat.core.tflite_ops import unique_kernels
from edgelat.devices.backends import BACKENDS, open_backend
from edgelat.devices.catalog import Device, get_device
from edgelat.devices.deploy import with_overrides
from edgelat.errors import DataError, DeviceFileError, OptionError, SearchError
from edgelat.profiler import kernel_sampling, sampling
from edgelat.profiler.cache import TFLiteCache
from edgelat.profiler.campaign import run_campaign
from edgelat.profiler.conversion_pool import ConversionPool
from edgelat.profiler.farm.campaign import run_farm_campaign
from edgelat.profiler.options import DTYPE_CHOICES, ProfileOptions, check_options
from edgelat.profiler.spell_guard import SpellGuard, probe_path
from edgelat.profiler.store import Store
from edgelat.profiler.timing import BlockTiming

SLOW_START_NOTE_S = 3.0  # a device start slower than this gets a progress note


@dataclass
class ProfileResult:
    """The summary printed by the CLI, the measured rows of the chosen blocks, and failures."""

    device: Device
    summary: dict[str, Any]
    rows: list[dict[str, Any]]
    failures: list[tuple[str, str]] = field(default_factory=list)

    def check_fits(self) -> None:
        """On MCUs, a block that does not fit is an error naming its key (after the summary)."""
        if self.device.kind == "mcu":
            from edgelat.devices.mcu.tflm import raise_if_not_fit  # lazy: TFLM loads only for MCU targets

            raise_if_not_fit(self.failures, self.device, self.summary["blocks"])


def block_timing(opts: ProfileOptions, device: Device, dtypes: tuple[str, ...]) -> BlockTiming:
    """How blocks are timed. `auto`: in context when the device's backend can sweep its caches (the
    host and Linux boards) and the blocks are a space's, cold for other blocks there, else plain:
    isolated blocks timed warm sum to well below their whole networks."""

    pair = (device.transport, device.runtime)
    can = pair in BACKENDS and BACKENDS.get(pair).cold_timing
    of_space = opts.sample == "space" and not (opts.networks or opts.archs or measures_kernels(opts))
    if opts.timing in ("cold", "context") and not can:
        raise OptionError(f"--timing {opts.timing}: device {device.name!r} ({device.transport}, {device.runtime}) "
                          f"cannot time with cold weights; use --timing plain")
    if opts.timing == "context" and not of_space:
        raise OptionError("--timing context: needs the blocks of a space (--sample space), whose typical network "
                          "sets the sweep; use --timing cold")
    if opts.timing == "context" and opts.cluster:
        raise OptionError("--timing context: not run on a device farm yet (--cluster); use --timing cold")
    method = opts.timing if opts.timing != "auto" else \
        "plain" if not can else "context" if of_space and not opts.cluster else "cold"
    if method != "context":
        return BlockTiming(method)
    space = get_space(opts.space, opts.resolution, opts.width, opts.num_classes)
    return BlockTiming("context", {d: typical_streamed_bytes(space, d) for d in dtypes})


def resolve_device(opts: ProfileOptions) -> Device:
    """The device of the run, with command-line overrides, and its default dtype checked."""

    device = get_device(opts.device if opts.device_file is None else None, opts.device_file)
    device = with_overrides(device, opts.benchmark_binary, opts.serial, opts.ssh)
    if device.kind == "mcu" and opts.dtype not in (None, "int8"):
        raise DeviceFileError(f"device {device.name!r} is a microcontroller: it runs int8 models only "
                              f"(use --dtype int8)")
    return device


def select_kernels(opts: ProfileOptions, dtypes: tuple[str, ...]) -> list[KernelSpec]:
    """The kernels of the given models (in their own dtype), then `opts.kernels` sampled ones per dtype
    (around the models' kernels when given), limited."""

    found, _ = unique_kernels(opts.from_models)
    sampled = kernel_sampling.sample_kernels(opts.kernels, opts.seed, dtypes, found) if opts.kernels else []
    given = [KernelSpec.from_key(k) for k in opts.kernel_keys]
    return sampling.limit_blocks(list({s.key: s for s in (*found, *sampled, *given)}.values()), opts.limit,
                                 opts.seed)


def measures_kernels(opts: ProfileOptions) -> bool:
    return bool(opts.kernels or opts.from_models or opts.kernel_keys)


def select_blocks(opts: ProfileOptions, dtypes: tuple[str, ...]) -> list[BlockSpec | NetworkSpec | KernelSpec]:
    """Kernels, or whole networks of the space, or the blocks of its layers, or a random/grid sample
    over the ranges, limited."""

    if measures_kernels(opts):
        return select_kernels(opts, dtypes)
    if opts.networks or opts.archs:
        space = get_space(opts.space, opts.resolution, opts.width, opts.num_classes)
        if opts.archs:
            archs = [_decode(space, a, opts.from_suggestions) for a in opts.archs]
            return [NetworkSpec.of(space, a, d) for d in dtypes for a in archs]
        return sampling.random_networks(space, opts.networks, opts.seed, dtypes)
    if opts.sample == "space":
        specs = sampling.space_blocks(get_space(opts.space, opts.resolution, opts.width).layers, dtypes)
    else:
        ranges = sampling.BlockRanges.from_file(opts.ranges) if opts.ranges else sampling.BlockRanges()
        if opts.sample == "random":
            specs = sampling.random_blocks(ranges, opts.n, opts.seed, dtypes)
        else:
            specs = sampling.grid_blocks(ranges, dtypes)
    return sampling.limit_blocks(specs, opts.limit, opts.seed)


def run_profile(opts: ProfileOptions, progress: Progress | None = None) -> ProfileResult:
    """Measure the chosen blocks into the store (resuming), locally or on a farm; one summary."""

    progress = progress or NullProgress()
    check_options(opts)
    device = resolve_device(opts)
    dtype = opts.dtype or ("int8" if device.kind == "mcu" else "fp32")
    timing = block_timing(opts, device, DTYPE_CHOICES[dtype])
    specs = select_blocks(opts, DTYPE_CHOICES[dtype])
    store_path = Path(opts.store or f"runs/{device.name}.sqlite")
    cache = TFLiteCache(opts.cache_dir, opts.calibration_samples)
    guard = (SpellGuard(probe_path(cache), Path(opts.probe_history or store_path), device.name,
                        tolerance=opts.spell_guard, max_wait_s=opts.spell_wait_s, progress=progress)
             if opts.spell_guard else None)  # its probe is converted once per conversion cache
    with ExitStack() as stack:
        # The device first: one that cannot be reached leaves no new store behind.
        backend = None if opts.cluster else stack.enter_context(_open_local_backend(opts, device, progress))
        store = stack.enter_context(Store(store_path))
        if opts.cluster:
            r, extra = _farm(opts, device, specs, store, cache, progress, timing.cold)
        else:
            r, extra = _local(opts, device, specs, store, backend, cache, progress, timing, guard), {}
        wanted = {s.key for s in specs}
        whole, kernels = bool(opts.networks or opts.archs), measures_kernels(opts)
        key = "net_key" if whole else "kernel_key" if kernels else "block_key"
        rows = [row for row in store.rows(device=device.name, networks=whole, kernels=kernels, estimate="min")
                if row[key] in wanted]
    summary = {"device": device.name, "store": str(store_path), "blocks": r.requested,
               "already_done": r.already_done, "measured": r.measured, "failed": len(r.failures),
               "converted": r.converted, "from_cache": r.cached, "wall_s": round(r.wall_s, 2),
               "timing": "plain" if whole else timing.describe(), **extra}
    if opts.fixed_parts:
        summary["fixed_parts_ms"] = measure_space_fixed_parts(opts, device, dtype, store_path, timing, guard)
    if guard:
        summary["spell_guard"] = guard.summary()
    return ProfileResult(device, summary, rows, list(r.failures))


@contextmanager
def _open_local_backend(opts: ProfileOptions, device: Device, progress: Progress):
    """The device's backend, opened; a start that takes more than a few seconds (a busy board) says so."""

    backend_options = {"op_profiling": True} if opts.op_profiling else {}
    note = threading.Timer(SLOW_START_NOTE_S, progress.note, args=(
        f"{device.name}: connecting and starting the timing runner (allowed up to {device.startup_timeout_s:g} s: "
        f"'startup_timeout_s')",))
    note.daemon = True
    note.start()
    try:
        backend = open_backend(device, opts.threads, **backend_options).__enter__()
    finally:
        note.cancel()
    try:
        yield backend
    finally:
        backend.__exit__(None, None, None)


def _local(opts: ProfileOptions, device: Device, specs, store, backend, cache, progress: Progress,
           timing: BlockTiming, guard: SpellGuard | None = None):

    with ConversionPool(cache, opts.workers) as pool:
        return run_campaign(device, specs, store, backend, pool, policy=opts.policy(), progress=progress,
                            timing=timing, guard=guard)


def _farm(opts: ProfileOptions, device: Device, specs, store, cache, progress: Progress, cold: bool):
    """The device farm: every unit of this device in a Ray cluster pulls from one queue."""

    r = run_farm_campaign(opts.cluster, device.name, specs, store, cache, threads=opts.threads,
                          policy=opts.policy(), replicate=opts.replicate, progress=progress, cold=cold)
    return r, {"units": r.units, "lost": r.lost, "quarantined": r.quarantined, "requeued": r.requeued,
               "duplicates_dropped": r.duplicates_dropped}


def measure_space_fixed_parts(opts: ProfileOptions, device: Device, dtype: str, store_path: Path,
                              timing: BlockTiming, guard: SpellGuard | None = None) -> dict[str, dict[str, float]]:
    """Median ms of the space's stem, head and strided skips on the device, per dtype (converted
    here), recorded in the store, where `fit` finds them."""
    from edgelat.profiler.fixed_parts import measure_fixed_parts  # lazy: builds Keras models (TensorFlow)

    space = get_space(opts.space, opts.resolution, opts.width, opts.num_classes)
    out = {}
    context = f"{space.name} r{space.resolution} w{space.width:g} c{space.num_classes}"
    with open_backend(device, opts.threads) as backend, Store(store_path) as store:
        for d in DTYPE_CHOICES[dtype]:
            out[d] = measure_fixed_parts(space, backend, d, store_path.parent / "fixed-parts",
                                         policy=opts.policy(), timing=timing, guard=guard)
            store.add_fixed_parts(device.name, getattr(backend, "threads", device.threads), context, d, out[d],
                                  timing.method, opts.policy().record())
    return out


def _decode(space: SearchSpace, arch: str, suggestions: str | None) -> np.ndarray:
    """One --arch (or --from-suggestions line) of `space`; an error names the suggestions file, if any."""
    try:
        return space.decode(arch if ":" in arch else f"{space.name}:{arch}")
    except SearchError as exc:
        raise DataError(f"{suggestions}: {exc}" if suggestions else f"--arch: {exc}") from None
