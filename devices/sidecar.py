"""The per-model sidecar JSON (``model_<dtype>.json``): the search writes it, `edgelat deploy` reads it.

One pair of functions owns the format so writer and reader cannot drift apart: ``arch``,
``device``, ``dtype``, ``predicted_ms`` (None for a model the search did not price), ``note`` and,
when the predictor carries one, ``predicted_interval_ms`` ([low, high]) with its ``interval_level``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgelat.core.paths import write_output
from edgelat.errors import DataError


def write_sidecar(model: Path, arch: str, device: str, dtype: str, predicted_ms: float | None,
                  note: str | None = None, interval_ms: list[float] | None = None,
                  interval_level: float | None = None) -> Path:
    """Write ``<model stem>.json`` next to `model`; returns its path."""
    path = Path(model).with_suffix(".json")
    doc = {"arch": arch, "device": device, "dtype": dtype, "predicted_ms": predicted_ms, "note": note}
    if interval_ms is not None:
        doc.update(predicted_interval_ms=interval_ms, interval_level=interval_level)
    return write_output(path, json.dumps(doc) + "\n", "the model's sidecar")


def read_interval(sidecar: Path | None, data: dict[str, Any]) -> list[float] | None:
    """The sidecar's [low, high] prediction interval in ms, None when it has none; malformed is an error."""
    band = data.get("predicted_interval_ms")
    if band is None:
        return None
    ok = (isinstance(band, list) and len(band) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool)
                                                             for v in band) and 0 < band[0] <= band[1])
    if not ok:
        raise DataError(f"{sidecar}: field 'predicted_interval_ms': expected [low, high] in ms, got {band!r}")
    return [float(band[0]), float(band[1])]


def read_sidecar(model: Path) -> tuple[Path | None, dict[str, Any]]:
    """The sidecar of `model` (``<stem>.json``, else ``arch.json`` beside it) and its JSON object, or (None, {})."""
    model = Path(model)
    for candidate in (model.with_suffix(".json"), model.parent / "arch.json"):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise DataError(f"{candidate}: sidecar is not valid JSON: {exc}") from None
            if not isinstance(data, dict):
                raise DataError(f"{candidate}: sidecar must be a JSON object")
            return candidate, data
    return None, {}
