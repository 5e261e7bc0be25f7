"""Importing Ray (an optional extra), connecting to a cluster and reading its units, with one-line errors."""

from __future__ import annotations

import logging
import os
from types import ModuleType
from typing import Any

from edgelat.devices.discovery import device_resource, reachable, unit_resource
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


def cluster_units(ray: Any, device_model: str) -> list[str]:
    """Unit ids of `device_model` on the cluster's live nodes (from their `unit:` resources)."""
    prefix = unit_resource(f"{device_model}@")
    found = []
    for node in ray.nodes():
        if node.get("Alive"):
            found += [r[len("unit:"):] for r in node["Resources"] if r.startswith(prefix)]
    return sorted(found)


def advertised_device_models(ray: Any) -> list[str]:
    """Device models the cluster's live nodes advertise (their `device:` resources), for error messages."""
    pre = device_resource("")
    return sorted({r[len(pre):] for n in ray.nodes() if n.get("Alive") for r in n["Resources"] if r.startswith(pre)})


def ray_error_reason(exc: BaseException) -> str:
    """The last line of a Ray task's or actor's error: what went wrong, without the traceback."""
    text = str(getattr(exc, "cause", None) or exc).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__
