"""The latency side of a search: what prices networks on one device, and its hard limits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgelat.core.sizes import parse_size
from edgelat.core.spaces import SearchSpace
from edgelat.devices.catalog import Device
from edgelat.errors import SearchError
from edgelat.predictors import persistence
from edgelat.predictors.architecture import ArchitecturePredictor
from edgelat.predictors.mcu import McuPredictor
from edgelat.search.options import SearchOptions
from edgelat.search.problem import Constraint, LatencyModel
from edgelat.search.strategies import STRATEGIES


@dataclass
class LatencySide:
    """The latency model with its name in arch.json, extra hard limits, and (for additive block
    predictors) the per-(layer, choice) table single-path trains against."""

    model: LatencyModel
    name: str
    constraints: list[Constraint] = field(default_factory=list)
    table: np.ndarray | None = None
    constant: float = 0.0


def latency_side(opts: SearchOptions, device: Device, space: SearchSpace) -> LatencySide:
    """On MCUs the cycle-model estimate with peak SRAM and flash limits; elsewhere the fitted predictor."""
    if device.kind != "mcu":
        model = ArchitecturePredictor(space, persistence.load(opts.predictor), opts.dtype)
        return LatencySide(model, str(opts.predictor), [], model.table, model.constant)
    mcu = McuPredictor(space, device)
    sram = _size(opts.max_sram, "--max-sram") if opts.max_sram else device.memory.get("sram")
    flash = _size(opts.max_flash, "--max-flash") if opts.max_flash else device.memory.get("flash")
    constraints = []
    if sram:
        constraints.append(Constraint("peak SRAM", mcu.sram, float(sram), " B"))
    if flash:
        constraints.append(Constraint("flash", mcu.flash, float(flash), " B"))
    if STRATEGIES.get(opts.strategy).needs_block_table:
        raise SearchError(f"--strategy {opts.strategy} needs an additive block predictor; on MCUs use anneal or "
                          "random")
    return LatencySide(mcu, mcu.name, constraints)


def _size(value: str, option: str) -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise SearchError(f"{option}: {exc}") from None
