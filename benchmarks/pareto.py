"""The whole trade-off, on one to three devices, against the exact Pareto front of NAS-Bench-Macro.

Ground truth: NAS-Bench-Macro's measured CIFAR-10 accuracies of all 3,969 distinct networks.
Latency from three models, none of them timed by this script:
- host: a per-layer model fitted on the 300 whole networks measured on a host CPU (data/nb_macro_host_latency.csv);
- pixel4: a gradient-boosted block predictor fitted on nn-Meter's Pixel 4 blocks (data/pixel4_mbconv.csv), its
  strided skip convs priced at the blocks' median ms per MAC (the block table has none);
- stm32f746: the MCU cost model, with the board's 320 KB SRAM as a hard limit.

Settings: one device (host), two (host, pixel4), three (host, pixel4, stm32f746 + SRAM). Reported per setting,
search and evaluation count (distinct networks scored), over seeds: the hypervolume ratio against the exact
front (objectives normalised over the feasible space, reference point 1.1), and, with budgets at the 25th and
50th percentile on every device, the regret (points) of the best feasible network found at 50 evaluations.
Usage: python benchmarks/pareto.py [--seeds 20] [--evaluations 50 100 200] [--json] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from edgelat.core.spaces import get_space
from edgelat.devices.catalog import get_device
from edgelat.errors import SearchError
from edgelat.predictors.architecture import ArchitecturePredictor
from edgelat.predictors.datasets import load_blocks
from edgelat.predictors.gbdt import GBDTPredictor
from edgelat.predictors.layerwise import LayerwisePredictor
from edgelat.predictors.mcu import McuPredictor
from edgelat.search.accuracy_table import TableSignal
from edgelat.search.fleet import DeviceTarget, FleetProblem
from edgelat.search.front_search import FRONT_SEARCHES
from edgelat.search.pareto import hypervolume, nondominated, normalise
from edgelat.search.problem import Constraint
from edgelat.search.strategies import GuidedSearch, SimulatedAnnealing

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SETTINGS = {"1 device": ["host"], "2 devices": ["host", "pixel4"], "3 devices + SRAM": ["host", "pixel4", "stm32f746"]}


def latency_models(space) -> dict:
    table = pd.read_csv(DATA / "nb_macro_host_latency.csv", dtype={"arch": str})
    archs = np.array([[int(c) for c in a.split(":")[-1]] for a in table["arch"]])
    host = LayerwisePredictor(space=space.name).fit(archs, table["latency_ms"].to_numpy())
    blocks = load_blocks(DATA / "pixel4_mbconv.csv")
    gbdt = GBDTPredictor().fit(blocks.frame, blocks.y)
    ms_per_mac = float(np.median([gbdt.predict(fields([layer.block(c)]))[0] / layer.macs(c)
                                  for layer in space.layers for c in layer.choices if not c.skip]))
    skip = next(c for layer in space.layers for c in layer.choices if c.skip)
    gbdt.fixed_ = {layer.skip_part: ms_per_mac * layer.macs(skip) for layer in space.layers
                   if not layer.identity_skip}
    mcu = McuPredictor(space, get_device("stm32f746"))
    return {"host": host, "pixel4": ArchitecturePredictor(space, gbdt), "stm32f746": mcu}


def fields(specs):
    from edgelat.predictors.features import fields_frame

    return fields_frame(specs)


def every_network(space) -> np.ndarray:
    codes = np.array([[int(c) for c in np.base_repr(i, 3).zfill(len(space.layers))] for i in range(3 ** 8)])
    return np.unique(space.canonical(codes), axis=0)


def make_fleet(space, signal, models, devices, budgets=None) -> FleetProblem:
    targets = [DeviceTarget(d, models[d], None if budgets is None else budgets[d]) for d in devices]
    limits = []
    if "stm32f746" in devices:
        sram = get_device("stm32f746").memory["sram"]
        limits.append(Constraint("peak SRAM", models["stm32f746"].sram, float(sram), " B"))
    return FleetProblem(space, signal, targets, limits)


def exact(fleet: FleetProblem, every: np.ndarray) -> dict:
    """The exact front of the feasible space, its normalisation range and hypervolume."""
    ok = every[fleet.feasible(every)]
    F = np.column_stack([-fleet.signal.evaluate(ok), fleet.latencies(ok)])
    low, high = F.min(0), F.max(0)
    ref = np.full(F.shape[1], 1.1)
    front = F[nondominated(F)]
    return {"low": low, "high": high, "ref": ref, "front": front, "F": F, "archs": ok,
            "hv": hypervolume(normalise(front, low, high), ref)}


def hv_ratios(space, signal, models, devices, every, evals, seeds) -> dict:
    truth = exact(make_fleet(space, signal, models, devices), every)
    out = {"front_size": int(len(truth["front"])), "feasible": int(len(truth["F"])), "searches": {}}
    for name in FRONT_SEARCHES.names():
        for n in evals:
            ratios = []
            for seed in range(seeds):
                fleet = make_fleet(space, signal, models, devices)
                FRONT_SEARCHES.get(name)(fleet, n, seed)
                _, F = fleet.front()
                ratios.append(hypervolume(normalise(F, truth["low"], truth["high"]), truth["ref"]) / truth["hv"])
            out["searches"].setdefault(name, {})[n] = {"mean": float(np.mean(ratios)), "worst": float(np.min(ratios))}
            print(f"  {', '.join(devices)}: {name} at {n}: HV ratio {np.mean(ratios):.4f}", file=sys.stderr)
    return out


def joint_regret(space, signal, models, devices, every, q: float, n: int, seeds: int) -> dict:
    lat = {d: models[d].predict(every) for d in devices}
    budgets = {d: float(np.percentile(lat[d], q)) for d in devices}
    probe = make_fleet(space, signal, models, devices, budgets)
    ok = probe.feasible(every)
    optimum = float(signal.evaluate(every[ok]).max()) if ok.any() else float("nan")
    out = {"budgets_ms": budgets, "feasible": int(ok.sum()), "optimum": optimum, "searches": {}}
    searches = {**{name: FRONT_SEARCHES.get(name) for name in FRONT_SEARCHES.names()}, **SINGLE}
    for name, search in searches.items():
        regrets = []
        for seed in range(seeds):
            fleet = make_fleet(space, signal, models, devices, budgets)
            search(fleet, n, seed)
            best = fleet.best()
            regrets.append(optimum - best[1] if best else optimum)
        out["searches"][name] = {"mean_regret": float(np.mean(regrets)), "worst_regret": float(np.max(regrets))}
    return out


def _single(make):
    """A single-objective strategy on the fleet's joint budgets (what `search --fleet` runs)."""
    def run(fleet: FleetProblem, n: int, seed: int) -> None:
        try:
            make(n, seed).run(fleet.problem)
        except SearchError:
            pass  # found nothing feasible: best() says so
    return run


SINGLE = {"guided": _single(lambda n, s: GuidedSearch(evaluations=n, seed=s)),
          "anneal": _single(lambda n, s: SimulatedAnnealing(steps=max(1, n // 4), chains=None, seed=s,
                                                            evaluations=n))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--evaluations", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--smoke", action="store_true", help="2 seeds, 30 evaluations, one device: a quick check")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    settings = {"1 device": SETTINGS["1 device"]} if args.smoke else SETTINGS
    seeds, evals = (2, [30]) if args.smoke else (args.seeds, args.evaluations)
    space = get_space("nb-macro")
    signal, models, every = TableSignal(space), latency_models(space), every_network(space)
    t0 = time.perf_counter()
    doc = {"seeds": seeds, "evaluations": evals, "fronts": {}, "joint": {}}
    for label, devices in settings.items():
        doc["fronts"][label] = hv_ratios(space, signal, models, devices, every, evals, seeds)
        doc["joint"][label] = {f"p{q}": joint_regret(space, signal, models, devices, every, q, min(evals), seeds)
                               for q in (25, 50)}
    doc["wall_s"] = time.perf_counter() - t0
    print(json.dumps(doc) if args.json else table(doc))


def table(doc: dict) -> str:
    lines = [f"{doc['seeds']} seeds; hypervolume ratio against the exact front (mean / worst)"]
    for label, r in doc["fronts"].items():
        lines.append(f"\n{label}: exact front {r['front_size']} of {r['feasible']} feasible networks")
        for name, by_n in r["searches"].items():
            lines.append(f"  {name:<14}" + "  ".join(f"{n:>4}: {s['mean']:.4f} / {s['worst']:.4f}"
                                                   for n, s in by_n.items()))
        for q, j in doc["joint"][label].items():
            lines.append(f"  joint budgets at {q} ({j['feasible']} feasible, optimum {j['optimum']:.2f}%), regret at "
                         f"{min(doc['evaluations'])} evaluations (mean / worst): " + ", ".join(
                             f"{k} {s['mean_regret']:.3f}/{s['worst_regret']:.3f}" for k, s in j["searches"].items()))
    lines.append(f"\nwall {doc['wall_s']:.0f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
