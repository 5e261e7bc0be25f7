"""Byte sizes as users write them ("320KB", "1MB", 327680), the bytes per element of a dtype, and the
two megabytes: names ending in `_mb` count MB = 10**6 bytes, names ending in `_mib` count MiB = 2**20.
A size the user writes ("1MB") is binary, as MCU datasheets mean it."""

from __future__ import annotations

import re

DTYPE_BYTES = {"fp32": 4, "int8": 1}  # per tensor element, weights and activations alike
MB = 10**6  # bytes in the `_mb` of a name
MIB = 2**20  # bytes in the `_mib` of a name
_UNITS = {"": 1, "B": 1, "KB": 1024, "KIB": 1024, "MB": 1024**2, "MIB": 1024**2, "GB": 1024**3, "GIB": 1024**3}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_size(value: int | str) -> int:
    """Bytes from an int or a string with a binary unit (KB = 1024 bytes, as MCU datasheets mean)."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"size must not be negative: {value}")
        return value
    match = _SIZE_RE.match(str(value))
    if not match or match.group(2).upper() not in _UNITS:
        raise ValueError(f"not a size: {value!r} (use e.g. 327680, 320KB or 1MB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])
