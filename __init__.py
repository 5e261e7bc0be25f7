"""edgelat: on-device latency profiling and prediction, and hardware-aware architecture search.

    import edgelat as el
    model = el.fit("pixel1.csv", kind="lut", output="pixel1.json")
    el.predict(model, tflite="model.tflite")

Every CLI verb is a function here (`edgelat.api`), imported on first use: `import edgelat` is fast,
imports no TensorFlow, and leaves the process's environment and file descriptors alone. The CLI
quiets TensorFlow's start-up chatter; call `edgelat.core.quiet.quiet_tensorflow()` to do the same.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from edgelat.errors import EdgelatError

__version__ = "0.1.0"

API = ("profile", "report", "export", "fit", "evaluate", "predict", "suggest", "search", "deploy", "devices",
       "get_device", "load", "Model", "Result")
__all__ = ["EdgelatError", "__version__", *API]

if TYPE_CHECKING:
    from edgelat.api import (  # noqa: F401
        Model,
        Result,
        deploy,
        devices,
        evaluate,
        export,
        fit,
        get_device,
        load,
        predict,
        profile,
        report,
        search,
        suggest,
    )


def __getattr__(name: str) -> Any:
    """The API's names, imported from `edgelat.api` when first used. `search` and `devices` are also
    subpackages, made callable as those verbs (core/verb_module.py): the package is what they return."""

    if name in ("search", "devices"):
        return importlib.import_module(f"edgelat.{name}")
    if name in API:
        return getattr(importlib.import_module("edgelat.api"), name)
    raise AttributeError(f"module 'edgelat' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *API])
