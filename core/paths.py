"""Output folders: created on demand, or a one-line error naming the folder and what it was for."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from edgelat.errors import DiskFullError, OutputPathError


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


def write_output(path: str | Path, data: str | bytes, what: str) -> Path:
    """Write file `path` for `what` whole or not at all (temp file + rename): a full disk or a read-only
    folder is an OutputPathError (DiskFullError) naming the file, never half a file."""
    path = ensure_parent(path, what)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(f"{path}: the disk is full, so {what} was not written; free space and re-run "
                                f"the same command") from None
        raise OutputPathError(f"{path}: cannot write {what} ({exc.strerror or exc})") from None
    return path
