"""Save and load predictors as JSON (xgboost models in xgboost's own JSON format). No pickle.

Every file carries the feature-schema version and hash, and metadata: device, runtime,
training size and cross-validated metrics. A file whose schema differs is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgelat.core.paths import write_output
from edgelat.errors import DataError, PredictorError
from edgelat.predictors.base import LatencyPredictor
from edgelat.predictors.features import SCHEMA_VERSION, schema_hash
from edgelat.predictors.registry import PREDICTORS

FORMAT = "edgelat-predictor"
FORMAT_VERSION = 1


def to_document(model: LatencyPredictor, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON-safe document of a fitted model; nested predictors (source, fallback, prior) nest."""
    model._check_fitted()
    params = {}
    for name, value in model.get_params(deep=False).items():
        if isinstance(value, list) and value and all(isinstance(v, LatencyPredictor) for v in value):
            value = [to_document(v) for v in value]
        params[name] = to_document(value) if isinstance(value, LatencyPredictor) else value
    if isinstance(params.get("features"), tuple):
        params["features"] = list(params["features"])
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "kind": model.kind,
        "schema": {"version": SCHEMA_VERSION, "hash": schema_hash()},
        "params": params, "state": model.state(), "metadata": metadata or {},
    }


def from_document(doc: dict[str, Any], where: str = "model") -> LatencyPredictor:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PredictorError(f"{where}: not an edgelat predictor file (no \"format\": \"{FORMAT}\")")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise PredictorError(f"{where}: written in predictor format v{version}, and this edgelat reads up to "
                             f"v{FORMAT_VERSION}: upgrade edgelat, or refit the model with this one")
    schema = doc.get("schema", {})
    if schema.get("hash") != schema_hash():
        raise PredictorError(
            f"{where}: fitted with feature schema v{schema.get('version')} ({schema.get('hash')}), but this "
            f"edgelat uses v{SCHEMA_VERSION} ({schema_hash()}); refit the model with `edgelat fit`"
        )
    kind = doc.get("kind")
    if kind not in PREDICTORS:
        raise PredictorError(f"{where}: unknown predictor kind {kind!r} (known: {', '.join(PREDICTORS.names())})")
    params = {}
    for name, value in doc.get("params", {}).items():
        nested = isinstance(value, dict) and "format" in value
        if isinstance(value, list) and value and all(isinstance(v, dict) and "format" in v for v in value):
            value = [from_document(v, f"{where}: {name}[{i}]") for i, v in enumerate(value)]
        params[name] = from_document(value, f"{where}: {name}") if nested else value
    try:
        return PREDICTORS.get(kind).from_state(params, doc["state"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PredictorError(f"{where}: malformed {kind} model state: {exc}") from None


def save(model: LatencyPredictor, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    return write_output(path, json.dumps(to_document(model, metadata), indent=1, sort_keys=False), "the predictor")


def load(path: str | Path) -> LatencyPredictor:
    return from_document(read_document(path), str(path))


def load_with_metadata(path: str | Path) -> tuple[LatencyPredictor, dict[str, Any]]:
    """The model and what `fit` recorded beside it (data, CV figures, interval), from one read."""
    doc = read_document(path)
    return from_document(doc, str(path)), doc.get("metadata") or {}


def read_document(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise DataError(f"{path}: cannot read model: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not JSON: {exc}") from None
