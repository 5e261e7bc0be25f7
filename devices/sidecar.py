"""The per-model sidecar JSON (``model_<dtype>.json``): the search writes it, `edgelat deploy` reads it.

One pair of functions owns the format so writer and reader cannot drift apart: ``arch``,
``device``, ``dtype``, ``predicted_ms`` (None for a model the search did not price) and ``note``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgelat.errors import DataError


def write_sidecar(model: Path, arch: str, device: str, dtype: str, predicted_ms: float | None,
                  note: str | None = None) -> Path:
    """Write ``<model stem>.json`` next to `model`; returns its path."""
    path = Path(model).with_suffix(".json")
    path.write_text(json.dumps({"arch": arch, "device": device, "dtype": dtype, "predicted_ms": predicted_ms,
                                "note": note}) + "\n")
    return path


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
