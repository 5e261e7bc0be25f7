"""What `edgelat search` is asked to do: its options, and the checks that need nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass

from edgelat.errors import OptionError


@dataclass
class SearchOptions:
    """The options of `edgelat search` (and of `run_search` for library callers)."""

    space: str = "single-path"
    device: str = "pixel1"
    device_file: str | None = None
    predictor: str | None = None
    dtype: str = "fp32"
    target_ms: float = 80.0
    budget: str = "hard"
    strategy: str | None = None  # None: the default for the job (default_strategy)
    accuracy: str = "supernet"
    accuracy_table: str | None = None  # --accuracy table: a CSV of measured accuracies [default: the space's]
    data: str | None = None
    resolution: int | None = None
    train_resolution: int = 32
    train_images: int | None = None  # a stratified subset of the training split [default: all]
    width: float = 1.0
    out: str = "runs/search"
    seed: int = 0
    evaluations: int = 100
    steps: int = 60
    chains: int = 8
    supernet_epochs: int = 30
    single_path_epochs: int = 8
    train_epochs: int = 8
    ri_samples: int = 10
    finetune_epochs: int | None = None  # at the deployment resolution; default 1 when it differs
    max_sram: str | None = None
    max_flash: str | None = None
    export: bool = True
    final_eval: str | None = None  # none | supernet | train | table [default: what fits the signal]
    cluster: str | None = None  # a Ray cluster for the short trainings: auto | HOST:PORT | ray://HOST:PORT
    verify: int = 0  # measure the chosen network on the device; rescale and search again, up to this many rounds
    fleet: str | None = None  # a TOML file of more devices the network must serve (search/fleet_file.py)
    pareto: bool = False  # return the accuracy-latency front instead of one network
    front_search: str = "optuna-tpe"  # how --pareto searches (search/front_search.py)


def default_strategy(opts: SearchOptions) -> str:
    """The strategy asked for, else guided when a fleet's budgets bind at once (benchmarks/pareto.py: mean
    regret 0.000-0.051 points at 50 evaluations against anneal's 0.22-0.41), else anneal."""
    return opts.strategy or ("guided" if opts.fleet else "anneal")


def check_options(opts: SearchOptions) -> None:
    """Cheap validation before anything heavy is imported."""
    if opts.target_ms <= 0:
        raise OptionError(f"--target-ms: must be positive, got {opts.target_ms}")
    if opts.verify < 0:
        raise OptionError(f"--verify: must be >= 0 rounds, got {opts.verify}")
    if opts.evaluations < 1:
        raise OptionError(f"--evaluations: must be >= 1, got {opts.evaluations}")
    if opts.pareto and opts.verify:
        raise OptionError("--verify measures one chosen network; with --pareto, pick a point of front.json and "
                          "search or deploy it")
