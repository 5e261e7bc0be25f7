"""Importing Ray (an optional extra) and connecting to a cluster, with one-line errors."""

from __future__ import annotations

import logging
import os
from types import ModuleType

from edgelat.devices.discovery import reachable
from edgelat.errors import EdgelatError, MissingDependencyError

RAY_MISSING = "--cluster needs Ray, which is not installed: pip install 'edgelat[farm]'"


def import_ray() -> ModuleType:
    """The `ray` module, or MissingDependencyError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(RAY_MISSING) from None
    return ray


def connect(cluster: str) -> ModuleType:
    """Join an existing cluster: 'auto', 'ray://HOST:PORT' (Ray client) or a head's 'HOST:PORT'.

    Never starts a cluster of its own: a campaign without --cluster runs locally instead.
    """
    if not cluster or (cluster != "auto" and not cluster.startswith("ray://") and ":" not in cluster):
        raise EdgelatError(f"--cluster {cluster!r}: expected 'auto', 'ray://HOST:PORT' or a head's 'HOST:PORT'")
    address = cluster.removeprefix("ray://")
    if cluster != "auto" and not reachable(address):  # Ray itself would retry an absent head for minutes
        raise EdgelatError(f"--cluster {cluster}: nothing answers at {address} (is the head node started?)")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = import_ray()
    if ray.is_initialized():
        return ray
    try:
        ray.init(address=cluster, namespace="edgelat", log_to_driver=False, logging_level=logging.WARNING,
                 configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgelatError(f"--cluster {cluster}: cannot join a Ray cluster there: {first}") from None
    return ray
