"""Which priors `fit` may use for a whole-network table: the built-in ones, models given by path or
by folder, and the device tables edgelat ships for the space."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from edgelat.core.spaces import get_space
from edgelat.errors import OptionError
from edgelat.predictors import persistence, selection
from edgelat.predictors.base import LatencyPredictor
from edgelat.predictors.datasets import load_networks
from edgelat.predictors.layerwise import LayerwisePredictor
from edgelat.predictors.selection import BUILT_IN_PRIORS

DATA = Path(__file__).resolve().parent.parent / "data"


def load_prior(prior: str | LatencyPredictor | None) -> str | LatencyPredictor | None:
    """A built-in prior's name as is, None for 'none', else the model file loaded."""
    if prior is None or prior == "none":
        return None
    if isinstance(prior, LatencyPredictor) or prior in ("flops", "params", "physics"):
        return prior
    return persistence.load(prior)


def prior_candidates(priors: list[str], space: str | None = None) -> dict[str, str | LatencyPredictor | None] | None:
    """The priors `fit` chooses among (the built-in ones and every model given; a folder gives each model
    in it, 'shipped' every device table of the space shipped in data/), or None when one prior is forced
    (a single --prior other than 'auto', 'shipped' or a folder)."""
    given = [p for p in priors if p != "auto"]
    if len(given) == 1 and "auto" not in priors and given[0] != "shipped" and not Path(given[0]).is_dir():
        return None
    models: dict[str, LatencyPredictor] = {}
    for item in given:
        if item == "shipped":
            models |= shipped_priors(space)
        elif Path(item).is_dir():
            found = sorted(Path(item).glob("*.json"))
            if not found:
                raise OptionError(f"--prior {item}: a folder of priors, but it holds no model JSON")
            models |= {str(p): persistence.load(p) for p in found}
        elif item not in BUILT_IN_PRIORS:
            models[item] = load_prior(item)
    return selection.default_priors(models)


def shipped_priors(space: str | None) -> dict[str, LatencyPredictor]:
    """A per-layer model of every device column of the whole-network tables shipped for `space`
    (data/<space>_*.csv: HW-NAS-Bench's devices, and this machine's LiteRT regimes)."""
    if space is None:
        raise OptionError("--prior shipped: give --space")
    sp = get_space(space)
    models = {}
    for table in sorted(DATA.glob(f"{sp.name}_*.csv")):
        for column in (c for c in pd.read_csv(table, nrows=1).columns if c.endswith("_ms")):
            nets = load_networks(table, sp, column)
            models[f"shipped:{column}"] = LayerwisePredictor(space=sp.name).fit(nets.archs, nets.y)
    if not models:
        raise OptionError(f"--prior shipped: no whole-network table of space {sp.name!r} is shipped")
    return models
