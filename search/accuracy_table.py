"""Measured accuracies as a signal: a table keyed by architecture encoding (NAS-Bench-Macro
ships in data/ and is the default for `nb-macro`; users bring a CSV of their own networks)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from edgelat.core.spaces import SearchSpace
from edgelat.errors import DataError, SearchError
from edgelat.search.signal_base import AccuracySignal, SignalContext

DATA = Path(__file__).resolve().parent.parent / "data"
DEFAULT_TABLES = {"nb-macro": DATA / "nas_bench_macro_cifar10.csv"}
ACCURACY_COLUMNS = ("accuracy", "mean_acc", "test_acc")


def default_table(space: SearchSpace) -> Path:
    if space.name not in DEFAULT_TABLES:
        raise SearchError(f"--accuracy table: give --accuracy-table FILE (a CSV with 'arch' and 'accuracy' columns); "
                          f"only {', '.join(DEFAULT_TABLES)} has a shipped table")
    return DEFAULT_TABLES[space.name]


def read_accuracy_table(path: str | Path, space: SearchSpace) -> dict[bytes, float]:
    """{canonical architecture bytes: accuracy}; 'arch' is 'space:digits' or the bare digits."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise DataError(f"{path}: cannot read accuracy table: {exc.strerror}") from None
    columns = list(rows[0]) if rows else []
    col = next((c for c in ACCURACY_COLUMNS if c in columns), None)
    if "arch" not in columns or col is None:
        raise DataError(f"{path}: an accuracy table needs an 'arch' column and one of {', '.join(ACCURACY_COLUMNS)} "
                        f"(columns: {', '.join(columns) or 'none'})")
    table: dict[bytes, float] = {}
    for n, row in enumerate(rows, start=2):
        text = row["arch"] if ":" in row["arch"] else f"{space.name}:{row['arch']}"
        try:
            arch = space.canonical(space.decode(text))[0]
            table[arch.astype(np.int8).tobytes()] = float(row[col])
        except (SearchError, ValueError) as exc:
            raise DataError(f"{path}: line {n}: {exc}") from None
    return table


MAX_ENUMERATED = 1_000_000  # spaces up to this many encodings are checked network by network


def check_coverage(path: Path, table: dict[bytes, float], space: SearchSpace) -> None:
    """A search may visit any network of the space, so the table must hold every distinct one: checked
    before the search starts, not when it first meets a missing network."""
    counts = space.choice_counts
    total = int(np.prod(counts.astype(float)))
    if total > MAX_ENUMERATED:
        raise DataError(f"{path}: an accuracy table must cover the whole space, and {space.name} has "
                        f"{total:.3g} encodings ({len(table)} in the table)")
    every = np.stack(np.meshgrid(*[np.arange(c) for c in counts], indexing="ij"), -1).reshape(-1, len(counts))
    keys = {k.tobytes() for k in space.canonical(every).astype(np.int8)}
    missing = keys - table.keys()
    if missing:
        example = space.encode(np.frombuffer(next(iter(missing)), np.int8))
        raise DataError(f"{path}: no accuracy for {len(missing)} of the {len(keys)} distinct networks of "
                        f"{space.name} (e.g. {example})")


class TableSignal(AccuracySignal):
    """The measured accuracy of each architecture, looked up (equivalent encodings share one row)."""

    name, is_accuracy = "table", True  # not vectorised: each lookup stands for a trained network

    @classmethod
    def from_context(cls, ctx: SignalContext) -> TableSignal:
        return cls(ctx.space, ctx.table)

    def __init__(self, space: SearchSpace, path: str | Path | None = None):
        self.space = space
        self.path = Path(path) if path else default_table(space)
        self.table = read_accuracy_table(self.path, space)

    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        keys = self.space.canonical(archs).astype(np.int8)
        out = np.empty(len(keys))
        for i, k in enumerate(keys):
            value = self.table.get(k.tobytes())
            if value is None:
                raise SearchError(f"{self.path}: no accuracy for {self.space.encode(archs[i])}")
            out[i] = value
        return out
