"""Output folders: created on demand, or a one-line error naming the folder and what it was for."""

from __future__ import annotations

import os
from pathlib import Path

from edgelat.errors import OutputPathError


def ensure_dir(path: str | Path, what: str) -> Path:
    """Create folder `path` (and its parents) for `what`, or raise OutputPathError naming it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot create the folder for {what} ({exc.strerror or exc})") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputPathError(f"{path}: the folder for {what} is not writable")
    return path


def ensure_parent(path: str | Path, what: str) -> Path:
    """Make sure file `path` can be created: its folder exists and is writable. Returns `path`."""
    path = Path(path)
    ensure_dir(path.parent, what)
    return path
