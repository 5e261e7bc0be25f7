"""The block table CSV: ``input_hw,cin,cout,expand,kernel,stride,se,act,latency_ms`` (+ extras).

Written by ``edgelat export`` and read back wherever a block table is accepted; this is also
the form of nn-Meter's MBConv tables shipped in ``data/``. Errors name the file and line.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgelat.core.blockspec import BlockSpec
from edgelat.core.paths import write_output
from edgelat.errors import BlockSpecError, DataError

BLOCK_COLUMNS = ("input_hw", "cin", "cout", "expand", "kernel", "stride", "se", "act", "latency_ms")
REQUIRED_COLUMNS = ("input_hw", "cin", "cout", "expand", "kernel", "stride", "latency_ms")


@dataclass(frozen=True)
class BlockRow:
    """One measured block: its spec, its latency (ms) and any further columns as text."""

    spec: BlockSpec
    latency_ms: float
    extra: dict[str, str] = field(default_factory=dict)


def read_block_csv(path: str | Path) -> list[BlockRow]:
    """Read a block table; `dtype` is optional (fp32), `se` defaults to 0 and `act` to relu6."""
    path = Path(path)
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read block table: {exc.strerror}") from None
    with fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)} (header: {','.join(header)})")
        rows = []
        for row in reader:
            where = f"{path} line {reader.line_num}"
            if None in row:
                raise DataError(f"{where}: more fields than the header has")
            try:
                spec = BlockSpec.from_mapping(row, where=where)
            except BlockSpecError as exc:
                raise DataError(str(exc)) from None
            text = (row.get("latency_ms") or "").strip()
            try:
                latency = float(text)
            except ValueError:
                raise DataError(f"{where}: field 'latency_ms': not a number: {text!r}") from None
            if not math.isfinite(latency) or latency <= 0:
                raise DataError(f"{where}: field 'latency_ms': must be a positive number, got {text!r}")
            extra = {k: v for k, v in row.items() if k not in BLOCK_COLUMNS and k not in ("dtype",)}
            rows.append(BlockRow(spec, latency, extra))
    if not rows:
        raise DataError(f"{path}: block table has no rows")
    return rows


def write_block_csv(rows: Iterable[dict[str, Any]], path: str | Path, extra_columns: tuple[str, ...] = ()) -> int:
    """Write dict rows holding at least BLOCK_COLUMNS (+ `dtype`); returns the row count."""
    columns = (*BLOCK_COLUMNS, "dtype", *extra_columns)
    n = 0
    fh = io.StringIO(newline="")
    writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
        n += 1
    write_output(path, fh.getvalue(), "the exported table")
    return n


NETWORK_EXTRAS = ("arch", "space", "resolution", "width", "num_classes", "dtype", "device", "threads", "net_key",
                  "std_ms", "p5_ms", "p95_ms", "cv", "runs", "runtime", "runtime_version", "created_at")


def write_network_csv(rows: list[dict[str, Any]], path: str | Path) -> int:
    """Whole-network rows of one space as ``op0..opN,latency_ms`` (+ extras), the table that
    ``edgelat fit --space`` reads; returns the row count."""
    spaces = sorted({r["space"] for r in rows})
    if len(spaces) > 1:
        raise DataError(f"{path}: the store holds networks of several spaces ({', '.join(spaces)}); "
                        f"export one with --space")
    ops = [f"op{i}" for i in range(len(rows[0]["arch"]))] if rows else []
    fh = io.StringIO(newline="")
    writer = csv.DictWriter(fh, fieldnames=(*ops, "latency_ms", *NETWORK_EXTRAS), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        digits = {f"op{i}": int(ch, 36) for i, ch in enumerate(row["arch"])}
        writer.writerow({**row, **digits, "latency_ms": row["median_ms"]})
    write_output(path, fh.getvalue(), "the exported table")
    return len(rows)
