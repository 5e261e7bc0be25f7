"""The on-disk cache of converted .tflite files, keyed by block key and TensorFlow version.

Finding the TF version reads package metadata, so the cache can be consulted without
importing TensorFlow.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from edgelat.core.blockspec import BlockSpec
from edgelat.core.kernelspec import KernelSpec
from edgelat.core.netspec import NetworkSpec
from edgelat.core.paths import write_output

Measurable = BlockSpec | NetworkSpec | KernelSpec  # anything with a canonical `key` and a `dtype`


@lru_cache(maxsize=1)
def tensorflow_version() -> str:
    try:
        return version("tensorflow")
    except PackageNotFoundError:
        return "none"


def default_cache_dir() -> Path:
    """``$EDGELAT_CACHE_DIR``, else ``$XDG_CACHE_HOME/edgelat``, else ``~/.cache/edgelat``."""
    if os.environ.get("EDGELAT_CACHE_DIR"):
        return Path(os.environ["EDGELAT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgelat"


class TFLiteCache:
    """``root/tf-<version>/<block or network key>[-cal<N>].tflite``; int8 files also depend on calibration."""

    def __init__(self, root: str | Path | None = None, calibration_samples: int = 8) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.calibration_samples = calibration_samples

    def cache_key(self, spec: Measurable) -> str:
        suffix = f"-cal{self.calibration_samples}" if spec.dtype == "int8" else ""
        return f"tf-{tensorflow_version()}/{spec.key}{suffix}"

    def path(self, spec: Measurable) -> Path:
        return self.root / f"{self.cache_key(spec)}.tflite"

    def get(self, spec: Measurable) -> Path | None:
        path = self.path(spec)
        return path if path.is_file() and path.stat().st_size > 0 else None

    def put(self, spec: Measurable, data: bytes) -> Path:
        """Write atomically (temp file + rename), so a killed process never leaves half a file."""
        return write_output(self.path(spec), data, "the conversion cache")
