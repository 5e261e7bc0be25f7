"""`search --fleet FILE.toml`: the devices one network must serve besides `--device`, each with the
predictor that prices networks on it and its budget.

```toml
[[device]]
name = "pixel1"               # a catalog device, or device_file = "my-phone.toml"
predictor = "pixel1.json"     # a fitted latency predictor (not for MCUs: their cost model is built in)
target_ms = 60                # optional: its latency budget; without one it is an objective only
```

An MCU row also brings its SRAM and flash limits. Relative paths are read from the file's folder.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgelat.errors import OptionError

FIELDS = {"name": str, "device_file": str, "predictor": str, "target_ms": (int, float)}


@dataclass(frozen=True)
class FleetRow:
    """One device of a fleet file."""

    name: str | None
    device_file: str | None
    predictor: str | None
    target_ms: float | None


def _row(path: Path, i: int, raw: Any) -> FleetRow:
    where = f"{path}: device {i + 1}"
    if not isinstance(raw, dict):
        raise OptionError(f"{where}: must be a table ([[device]])")
    for key, value in raw.items():
        if key not in FIELDS:
            raise OptionError(f"{where}: unknown field {key!r} (known: {', '.join(FIELDS)})")
        if isinstance(value, bool) or not isinstance(value, FIELDS[key]):
            raise OptionError(f"{where}: field {key!r} has the wrong type ({type(value).__name__})")
    if ("name" in raw) == ("device_file" in raw):
        raise OptionError(f"{where}: give exactly one of name (a catalog device) or device_file")
    target = raw.get("target_ms")
    if target is not None and not (target > 0 and math.isfinite(target)):
        raise OptionError(f"{where}: target_ms must be a positive number of ms, got {target}")

    def local(p: str | None) -> str | None:
        return None if p is None else str(path.parent / p) if not Path(p).is_absolute() else p

    return FleetRow(raw.get("name"), local(raw.get("device_file")), local(raw.get("predictor")),
                    None if target is None else float(target))


def load_fleet(path: str | Path) -> list[FleetRow]:
    """The rows of a fleet file; a one-line error naming the file and the field otherwise."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OptionError(f"--fleet {path}: cannot read it ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise OptionError(f"--fleet {path}: not valid TOML ({exc})") from None
    unknown = set(data) - {"device"}
    if unknown:
        raise OptionError(f"{path}: unknown key {sorted(unknown)[0]!r} (a fleet file holds [[device]] tables)")
    rows = data.get("device")
    if not isinstance(rows, list) or not rows:
        raise OptionError(f"{path}: no [[device]] table")
    return [_row(path, i, raw) for i, raw in enumerate(rows)]
