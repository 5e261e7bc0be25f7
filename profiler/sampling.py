"""What to profile: the distinct blocks of a space's layers, a random or grid sample of blocks
over user-given ranges, or whole networks of a space spread over its cost range."""

from __future__ import annotations

import itertools
import math
import random
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgelat.core.blockspec import ACTIVATIONS, BlockSpec
from edgelat.core.netspec import NetworkSpec
from edgelat.core.spaces import Layer, SearchSpace
from edgelat.errors import BlockSpecError, DataError


def space_blocks(layers: Sequence[Layer], dtypes: tuple[str, ...] = ("fp32",)) -> list[BlockSpec]:
    """Distinct blocks over all layers of a space and dtypes, in layer order (dtype-major)."""
    seen: dict[str, BlockSpec] = {}
    for dtype in dtypes:
        for layer in layers:
            for spec in layer.blocks(dtype):
                seen.setdefault(spec.key, spec)
    return list(seen.values())


# Ranges for random/grid sampling: a value list per BlockSpec field (dtype is chosen apart).
DEFAULT_RANGES: dict[str, list] = {
    "input_hw": [7, 14, 28, 56],
    "cin": [16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192],
    "cout": [16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192],
    "expand": [1, 3, 4, 6],
    "kernel": [3, 5, 7],
    "stride": [1, 2],
    "se": [0, 1],
    "act": ["relu6", "hswish"],
}
RANGE_FIELDS = tuple(DEFAULT_RANGES)


@dataclass(frozen=True)
class BlockRanges:
    """Value lists per field; the sample space is their product."""

    values: dict[str, list] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_RANGES.items()})

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self.values.values())

    def make(self, combo: tuple, dtype: str) -> BlockSpec:
        return BlockSpec(**dict(zip(RANGE_FIELDS, combo, strict=True)), dtype=dtype)

    @classmethod
    def from_file(cls, path: str | Path) -> BlockRanges:
        """A TOML file of ``field = [values...]``; fields left out keep their defaults."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DataError(f"{path}: cannot read ranges file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise DataError(f"{path}: not valid TOML: {exc}") from None
        values = {k: list(v) for k, v in DEFAULT_RANGES.items()}
        for key, vals in data.items():
            if key not in DEFAULT_RANGES:
                raise DataError(f"{path}: field {key!r}: unknown (known: {', '.join(RANGE_FIELDS)})")
            if not isinstance(vals, list) or not vals:
                raise DataError(f"{path}: field {key!r}: expected a non-empty list, got {vals!r}")
            if key == "act":
                bad = [v for v in vals if v not in ACTIVATIONS]
                if bad:
                    raise DataError(f"{path}: field 'act': unknown activation(s) {bad}")
            values[key] = sorted(set(vals), key=vals.index)
        ranges = cls(values)
        try:  # validate every single value once, naming the field
            for key in RANGE_FIELDS:
                for v in values[key]:
                    ranges.make(tuple(v if k == key else values[k][0] for k in RANGE_FIELDS), "fp32")
        except BlockSpecError as exc:
            raise DataError(f"{path}: {exc}") from None
        return ranges


def grid_blocks(ranges: BlockRanges, dtypes: tuple[str, ...] = ("fp32",)) -> list[BlockSpec]:
    """Every combination of the ranges."""
    combos = list(itertools.product(*(ranges.values[k] for k in RANGE_FIELDS)))
    return [ranges.make(c, d) for d in dtypes for c in combos]


def random_blocks(ranges: BlockRanges, n: int, seed: int = 0, dtypes: tuple[str, ...] = ("fp32",)) -> list[BlockSpec]:
    """`n` distinct random combinations (each in every dtype), reproducible from `seed`."""
    if n < 1:
        raise DataError(f"--n must be >= 1, got {n}")
    if n > ranges.size:
        raise DataError(f"asked for {n} distinct blocks, but the ranges allow only {ranges.size}")
    rng = random.Random(seed)
    chosen: dict[tuple, None] = {}
    while len(chosen) < n:
        chosen.setdefault(tuple(rng.choice(ranges.values[k]) for k in RANGE_FIELDS))
    return [ranges.make(c, d) for d in dtypes for c in chosen]


def limit_blocks(specs: list[BlockSpec], limit: int | None, seed: int = 0) -> list[BlockSpec]:
    """A reproducible random subset of `limit` blocks, kept in their original order."""
    if limit is None or limit >= len(specs):
        return specs
    if limit < 1:
        raise DataError(f"--limit must be >= 1, got {limit}")
    keep = set(random.Random(seed).sample(range(len(specs)), limit))
    return [s for i, s in enumerate(specs) if i in keep]


def random_networks(space: SearchSpace, n: int, seed: int = 0, dtypes: tuple[str, ...] = ("fp32",),
                    pool: int = 40) -> list[NetworkSpec]:
    """`n` distinct networks of `space` spread evenly over its range of multiply-accumulates (a
    proxy of latency), reproducible from `seed`: of `pool * n` random ones, the nearest to each
    of `n` evenly spaced targets. Equivalent encodings count once."""
    if n < 1:
        raise DataError(f"--networks must be >= 1, got {n}")
    archs = np.unique(space.canonical(space.random(pool * n, seed)), axis=0)
    if len(archs) < n:
        raise DataError(f"asked for {n} distinct networks, but only {len(archs)} were drawn from {space.name!r}")
    macs = np.nan_to_num(space.choice_matrix(lambda layer, c: layer.macs(c)))
    cost = macs[np.arange(len(space.layers)), archs].sum(axis=1)
    free = np.ones(len(archs), bool)
    chosen = []
    for target in np.linspace(cost.min(), cost.max(), n):
        i = int(np.argmin(np.where(free, np.abs(cost - target), np.inf)))
        free[i] = False
        chosen.append(archs[i])
    return [NetworkSpec.of(space, a, d) for d in dtypes for a in chosen]
