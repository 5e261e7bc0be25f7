"""Every choice of `edgelat profile`, and the cheap checks made before anything heavy is imported
(profiler/workflow.py runs them)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from edgelat.devices.policy import BLOCK_POLICY, DEFAULT_POLICY, MeasurementPolicy
from edgelat.errors import DataError, OptionError
from edgelat.profiler.timing import METHODS

MIN_TIME_MS = DEFAULT_POLICY.min_time_ms  # timed work per block at least: keeps short blocks' medians stable
DTYPE_CHOICES = {"fp32": ("fp32",), "int8": ("int8",), "both": ("fp32", "int8")}


@dataclass
class ProfileOptions:
    """Every choice of a profiling run; the defaults are the CLI's."""

    device: str = "host"
    device_file: str | None = None
    space: str = "single-path"
    resolution: int | None = None
    width: float = 1.0
    sample: str = "space"  # space | random | grid
    ranges: str | None = None
    n: int = 200
    seed: int = 0
    limit: int | None = None
    dtype: str | None = None  # fp32 | int8 | both; None: int8 on MCUs, fp32 elsewhere
    store: str | None = None
    runs: int = DEFAULT_POLICY.runs
    warmup: int = DEFAULT_POLICY.warmup
    min_time_ms: float = MIN_TIME_MS
    threads: int | None = None
    workers: int = 2
    calibration_samples: int = 8
    cache_dir: str | None = None
    benchmark_binary: str | None = None
    serial: str | None = None
    ssh: str | None = None
    op_profiling: bool = False
    cluster: str | None = None
    replicate: int = 0
    fixed_parts: bool = False  # also measure the space's stem and head
    timing: str = "auto"  # blocks and fixed parts: context | cold | plain | auto (profiler/timing.py)
    networks: int = 0  # measure this many whole networks of the space instead of blocks
    archs: tuple[str, ...] = ()  # or these whole networks of the space, by encoding
    from_suggestions: str | None = None  # and those listed in this file (`edgelat suggest -o`)
    passes: int = 0  # measure everything this many times, far apart; the fastest counts (0: 3 for networks, else 1)
    pass_gap_s: float = DEFAULT_POLICY.pass_gap_s  # passes start this far apart (a shared VM's slow spells: seconds)
    spell_guard: float = 0.0  # > 0: probe before and after each pass, rerun passes this much slow (spell_guard.py)
    probe_history: str | None = None  # the store keeping the probe's readings [default: the campaign's store]
    spell_wait_s: float = 300.0  # the longest the guard waits for a spell to pass, before each pass
    num_classes: int | None = None  # of the head's classifier [default: the space's]
    kernels: int = 0  # measure this many sampled kernels (single TFLite operators) instead of blocks
    from_models: tuple[str, ...] = ()  # and the kernels of these .tflite files (their sampling prior too)
    kernel_keys: tuple[str, ...] = ()  # and these kernels, by key (adaptive sampling's later rounds)


    def policy(self) -> MeasurementPolicy:
        """How everything of this run is measured (devices/policy.py): whole networks get the default policy's
        3 passes unless told, blocks, kernels and fixed parts 1."""
        base = DEFAULT_POLICY if self.networks or self.archs else BLOCK_POLICY
        return base.with_changes(warmup=self.warmup, runs=self.runs, min_time_ms=self.min_time_ms,
                                 passes=self.passes or None, pass_gap_s=self.pass_gap_s)


def read_suggestions(path: str) -> tuple[str, ...]:
    """The encodings `edgelat suggest -o` wrote, one per line (blank lines and # comments skipped)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the suggestions: {getattr(exc, 'strerror', None) or exc}") from None
    archs = tuple(ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))
    if not archs:
        raise DataError(f"{path}: no network encodings in the suggestions file")
    return archs


def with_suggestions(opts: ProfileOptions) -> ProfileOptions:
    """The options with --from-suggestions read into the whole networks to measure."""
    if opts.from_suggestions is None:
        return opts
    return replace(opts, archs=(*opts.archs, *read_suggestions(opts.from_suggestions)))


def check_options(opts: ProfileOptions) -> None:
    """Cheap checks before anything heavy is imported."""
    if opts.passes < 0:
        raise OptionError(f"--passes must be >= 0 (got {opts.passes})")
    opts.policy()  # --runs, --warmup, --min-time-ms, --passes and --pass-gap-s, as one policy
    if opts.replicate and not opts.cluster:
        raise OptionError("--replicate needs --cluster (it spreads blocks over the units of a farm)")
    if opts.replicate < 0:
        raise OptionError(f"--replicate must be >= 0 (got {opts.replicate})")
    if not (0 <= opts.spell_guard <= 1 and 0 <= opts.spell_wait_s <= 3600) or (opts.spell_guard and opts.cluster):
        raise OptionError(f"--spell-guard must be within 0..1 (got {opts.spell_guard}), --spell-wait-s within "
                          f"0..3600 (got {opts.spell_wait_s}), and the guard is for one device, not --cluster")
    if opts.probe_history and not opts.spell_guard:
        raise OptionError("--probe-history keeps the spell guard's readings: it needs --spell-guard")
    if opts.cluster and (opts.serial or opts.ssh):
        raise OptionError("--serial and --ssh name one device; a farm campaign (--cluster) reaches its units "
                          "through each node's farm file ('serial', 'address' or 'ssh' per unit)")
    if (opts.kernels or opts.from_models) and (opts.networks or opts.archs or opts.fixed_parts):
        raise OptionError("--kernels/--from-model profile single operators: not with --networks, --arch or "
                          "--fixed-parts")
    if opts.kernels < 0:
        raise OptionError(f"--kernels must be >= 0 (got {opts.kernels})")
    if opts.timing not in ("auto", *METHODS):
        raise OptionError(f"--timing: must be auto, context, cold or plain, got {opts.timing!r}")
