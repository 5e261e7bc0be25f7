"""The on-disk cache of converted .tflite files, keyed by block key and TensorFlow version.

Finding the TF version reads package metadata, so the cache can be consulted without
importing TensorFlow.
"""

from __future__ import annotations

import errno
import os
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from edgelat.core.blockspec import BlockSpec
from edgelat.core.kernelspec import KernelSpec
from edgelat.core.netspec import NetworkSpec
from edgelat.core.paths import ensure_parent
from edgelat.errors import DiskFullError, OutputPathError

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
        path = self.path(spec)
        ensure_parent(path, "the conversion cache")
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFullError(f"{self.root}: the disk holding the conversion cache is full; free space and "
                                    f"re-run the same command to resume") from None
            raise OutputPathError(f"{path}: cannot write to the conversion cache ({exc.strerror})") from None
        return path
