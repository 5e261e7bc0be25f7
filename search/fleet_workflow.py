"""`search --fleet FILE` and `search --pareto`: one network for several devices, or the whole
trade-off between accuracy and every device's latency.

With `--fleet`, the devices of the file join `--device`: a network is feasible only within every
budget and every MCU's memory limits, and arch.json gives its prediction on each device. With
`--pareto`, the answer is the front (front.json, front.png): every non-dominated feasible network
the front search scored, beside random search's front at the same number of evaluations.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edgelat.core.paths import write_output
from edgelat.core.progress import Progress
from edgelat.core.spaces import SearchSpace
from edgelat.devices.catalog import Device, get_device
from edgelat.errors import OptionError
from edgelat.search.fleet import DeviceTarget, FleetProblem
from edgelat.search.fleet_file import load_fleet
from edgelat.search.front_search import FRONT_SEARCHES
from edgelat.search.latency_side import LatencySide, latency_side
from edgelat.search.options import SearchOptions
from edgelat.search.pareto import hypervolume, normalise
from edgelat.search.problem import Constraint
from edgelat.search.signal_base import AccuracySignal


def fleet_targets(opts: SearchOptions, device: Device, primary: LatencySide, space: SearchSpace
                  ) -> tuple[list[DeviceTarget], list[Constraint]]:
    """Every device the network must serve, `--device` first, and the hard limits they bring (the
    primary's own, each other device's budget is kept in its target)."""
    targets = [DeviceTarget(device.name, primary.model, opts.target_ms)]
    limits = list(primary.constraints)
    for row in load_fleet(opts.fleet) if opts.fleet else []:
        other = get_device(row.name, row.device_file)
        if other.kind != "mcu" and row.predictor is None:
            raise OptionError(f"{opts.fleet}: device {other.name!r}: give predictor = \"MODEL.json\" (fit one "
                              "for it with edgelat fit)")
        side = latency_side(replace(opts, device=other.name, device_file=row.device_file, predictor=row.predictor,
                                    max_sram=None, max_flash=None), other, space)
        targets.append(DeviceTarget(other.name, side.model, row.target_ms))
        limits += [replace(c, name=f"{other.name} {c.name}") for c in side.constraints]
    return targets, limits


def budget_limits(targets: list[DeviceTarget]) -> list[Constraint]:
    """The budgets of the devices after the first, as hard limits of a single-objective search."""
    return [Constraint(f"{t.name} latency", t.latency.predict, t.budget_ms, " ms") for t in targets[1:]
            if t.budget_ms is not None]


def fleet_predictions(targets: list[DeviceTarget], arch: np.ndarray) -> list[dict[str, Any]]:
    """arch.json's `fleet`: the chosen network's predicted latency on every device, beside its budget."""
    return [{"device": t.name, "predicted_ms": float(t.latency.predict(arch[None])[0]), "target_ms": t.budget_ms}
            for t in targets]


def run_front(opts: SearchOptions, space: SearchSpace, signal: AccuracySignal, targets: list[DeviceTarget],
              limits: list[Constraint], progress: Progress, start: float) -> dict[str, Any]:
    """The front search, random search's front at the same evaluations, front.json and front.png."""
    fleet = FleetProblem(space, signal, targets, limits)
    progress.phase(f"{opts.front_search} front search over {len(targets)} device(s), {opts.evaluations} "
                   f"evaluations (signal: {signal.name})", 1)
    FRONT_SEARCHES.get(opts.front_search)(fleet, opts.evaluations, opts.seed)
    progress.phase(f"random front ({opts.evaluations} evaluations)", 1)
    baseline = FleetProblem(space, signal, targets, limits)
    FRONT_SEARCHES.get("random")(baseline, opts.evaluations, opts.seed + 1)
    (archs, F), (b_archs, b_F) = fleet.front(), baseline.front()
    both = np.vstack([F, b_F])
    low, high = both.min(0), both.max(0)
    ref = np.full(both.shape[1], 1.1)
    doc = {"space": opts.space, "resolution": space.resolution, "accuracy_signal": signal.name,
           "front_search": opts.front_search, "evaluations": fleet.evaluations, "seed": opts.seed,
           "devices": [{"device": t.name, "target_ms": t.budget_ms} for t in targets],
           "limits": {c.name: c.user_limit for c in limits},
           "front": _points(space, targets, archs, F), "random_front": _points(space, targets, b_archs, b_F),
           "hypervolume": hypervolume(normalise(F, low, high), ref) if len(F) else 0.0,
           "random_hypervolume": hypervolume(normalise(b_F, low, high), ref) if len(b_F) else 0.0}
    if fleet.evaluations < opts.evaluations:
        doc["notes"] = [f"{fleet.evaluations} of {opts.evaluations} evaluations spent: the search stopped finding new "
                        "networks within the limits (the feasible space may hold no more)"]
        progress.note(doc["notes"][0])
    out = Path(opts.out)
    doc["files"] = {"front": str(out / "front.json"), "plot": str(out / "front.png")}
    _plot(out / "front.png", fleet, F, b_F, targets[0].name, signal.name)
    doc["wall_s"] = time.perf_counter() - start
    write_output(out / "front.json", json.dumps(doc, indent=2) + "\n", "the search's front")
    return doc


def _points(space: SearchSpace, targets: list[DeviceTarget], archs: np.ndarray, F: np.ndarray) -> list[dict]:
    return [{"arch": space.encode(a), "score": float(-f[0]),
             "predicted_ms": {t.name: float(ms) for t, ms in zip(targets, f[1:], strict=True)}}
            for a, f in zip(archs, F, strict=True)]


def _plot(path: Path, fleet: FleetProblem, F: np.ndarray, b_F: np.ndarray, device: str, signal: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    every = fleet.evaluated()
    E = fleet.objectives(every) if len(every) else np.zeros((0, 2))
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.scatter(E[:, 1], -E[:, 0], s=8, color="0.75", label=f"scored ({len(E)})")
    for front, style, label in ((b_F, dict(color="tab:orange", marker="x"), "random search's front"),
                                (F, dict(color="tab:blue", marker="o"), "front")):
        order = np.argsort(front[:, 1])
        if len(front) and front.shape[1] == 2:  # one device: the front is a staircase
            ax.step(front[order, 1], -front[order, 0], where="post", lw=1.2, **style, label=label)
        elif len(front):  # several: its projection on the first device's latency, as points
            ax.scatter(front[order, 1], -front[order, 0], s=22, **style, label=f"{label} (all devices)")
    ax.set(xlabel=f"predicted latency on {device} (ms)", ylabel=f"accuracy signal: {signal}",
           title=f"accuracy-latency front ({len(F)} networks)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
