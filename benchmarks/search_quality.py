"""Search quality against ground truth: NAS-Bench-Macro's measured CIFAR-10 accuracies, with the
latency of every network priced by a block table profiled on this CPU (or, with `--latency shipped`,
by a per-layer model of the 300 whole networks shipped in data/, timing nothing).

Budgets are percentiles of that latency over the space (`--percentiles`, default 25/50/75). Random
search, simulated annealing, the guided strategy and Optuna's TPE run at 20/50/100/200 evaluations
x 20 seeds (an evaluation = one new distinct network looked up in the table). Reported per budget:
the true constrained optimum, mean and worst regret (points), the share of runs within 0.1 point of
the optimum, and RI against the mean of random feasible networks (Yang et al.). With `--networks N`
it also measures N whole networks on this CPU and reports how well the block table predicts them.
Usage: python benchmarks/search_quality.py [--json] [--networks 300] [--latency shipped]
       [--percentiles 10 30 50 70 90]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edgelat.core.spaces import get_space
from edgelat.predictors import metrics
from edgelat.predictors.architecture import ArchitecturePredictor
from edgelat.predictors.datasets import load_blocks
from edgelat.predictors.layerwise import LayerwisePredictor
from edgelat.predictors.lut import LUTPredictor
from edgelat.profiler.store import Store, host_info
from edgelat.profiler.workflow import ProfileOptions, run_profile
from edgelat.search.accuracy_table import TableSignal
from edgelat.search.problem import Budget, Problem
from edgelat.search.strategies import GuidedSearch, OptunaTPE, RandomSearch, SimulatedAnnealing

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "nb_macro_host_latency.csv"
EVALS = (20, 50, 100, 200)
STRATEGIES = {
    "random": lambda n, s: RandomSearch(evaluations=n, seed=s),
    "anneal": lambda n, s: SimulatedAnnealing(steps=max(1, n // 4), chains=None, seed=s, evaluations=n),
    "guided": lambda n, s: GuidedSearch(evaluations=n, seed=s),
    "optuna-tpe": lambda n, s: OptunaTPE(evaluations=n, seed=s),
}


def host_table(work: Path) -> LUTPredictor:
    """nb-macro's blocks, stem, head and strided skip convs, profiled on this CPU (fp32, 1 thread)."""
    store = work / "nb-macro-blocks.sqlite"
    out = run_profile(ProfileOptions(device="host", space="nb-macro", store=str(store), fixed_parts=True, passes=3))
    blocks = load_blocks(store, device="host")
    return LUTPredictor().fit(blocks.frame, blocks.y, fixed=out.summary["fixed_parts_ms"]["fp32"])


def shipped_table(space) -> LayerwisePredictor:
    """nb-macro's latency without timing anything: a per-layer model of the 300 whole networks shipped in
    data/nb_macro_host_latency.csv (measured on the CPU that table names)."""
    import pandas as pd

    table = pd.read_csv(SHIPPED, dtype={"arch": str})
    archs = np.array([[int(c) for c in a.split(":")[-1]] for a in table["arch"]])
    return LayerwisePredictor(space=space.name).fit(archs, table["latency_ms"].to_numpy())


def measured_networks(work: Path, space, lut: LUTPredictor, n: int) -> dict:
    """Measure `n` whole networks (seed 11); ship them; score the block table on them."""
    store = work / "nb-macro-networks.sqlite"
    run_profile(ProfileOptions(device="host", space="nb-macro", store=str(store), networks=n, seed=11))
    with Store(store) as s:
        rows = s.rows(networks=True, estimate="min")
    archs = np.array([[int(ch) for ch in r["arch"]] for r in rows])
    y = np.array([r["median_ms"] for r in rows])
    pred = ArchitecturePredictor(space, lut).predict(archs)
    cpu = host_info()["cpu"]
    with SHIPPED.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arch", "latency_ms", "block_table_ms", "cpu", "threads", "runtime", "timing"])
        for r, p in zip(rows, pred, strict=True):
            w.writerow([r["arch"], f"{r['median_ms']:.5f}", f"{p:.5f}", cpu, r["threads"], r["runtime_version"],
                        "plain"])
    rep = metrics.report(y, pred)
    return {"n": len(y), "acc5": rep["acc5"], "acc10": rep["acc10"], "spearman": rep["spearman"],
            "median_err_pct": float(100 * np.median((pred - y) / y)), "cpu": cpu,
            "calibrated_k10": calibrated(space, lut, archs, y)}


def calibrated(space, lut: LUTPredictor, archs: np.ndarray, y: np.ndarray, k: int = 10) -> dict:
    """The block table calibrated by k of the networks spread over the range, scored on the others."""
    cal = np.zeros(len(y), bool)
    cal[np.linspace(0, len(y) - 1, k).round().astype(int)] = True
    model = LayerwisePredictor("nb-macro", prior=lut).fit(archs[cal], y[cal])
    rep = metrics.report(y[~cal], model.predict(archs[~cal]))
    return {"k": k, "n_test": int((~cal).sum()), "acc5": rep["acc5"], "acc10": rep["acc10"],
            "spearman": rep["spearman"]}


def run_budget(space, lut_model, signal, budget: float, seeds: int) -> dict:
    """Every strategy at every evaluation count over `seeds` seeds, against the exact optimum."""
    every = np.unique(space.canonical(np.array([[int(c) for c in k] for k in _all_keys()])), axis=0)
    lat, acc = lut_model.predict(every), signal.evaluate(every)
    feasible = lat <= budget
    optimum, mean_random = float(acc[feasible].max()), float(acc[feasible].mean())
    out = {"budget_ms": budget, "optimum": optimum, "random_mean": mean_random, "feasible": int(feasible.sum()),
           "strategies": {}}
    for name, make in STRATEGIES.items():
        for n in EVALS:
            found = []
            for seed in range(seeds):
                problem = Problem(space, lut_model, signal, Budget(budget))
                found.append(make(n, seed).run(problem).score)
            regret = optimum - np.array(found)
            out["strategies"].setdefault(name, {})[n] = {
                "mean_regret": float(regret.mean()), "worst_regret": float(regret.max()),
                "within_0.1": float(np.mean(regret <= 0.1 + 1e-9)),
                "ri_vs_random_mean_pct": float(100 * (np.mean(found) - mean_random) / mean_random)}
    return out


def _all_keys() -> list[str]:
    return [np.base_repr(i, 3).zfill(8) for i in range(3**8)]


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.4 * len(results), 3.8), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        for name, by_n in r["strategies"].items():
            ax.plot(EVALS, [by_n[n]["mean_regret"] for n in EVALS], marker="o", label=name)
        ax.set(xscale="log", xlabel="evaluations (distinct networks)", ylabel="mean regret (points, 20 seeds)",
               title=f"budget {r['budget_ms']:.3f} ms (optimum {r['optimum']:.2f}%)", ylim=(0, None))
        ax.set_xticks(EVALS, [str(n) for n in EVALS])
        ax.minorticks_off()
        ax.axhline(0.1, color="grey", lw=0.6, ls="--")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--networks", type=int, default=0, help="also measure N whole networks (the issue asks 300)")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "search_quality_nb_macro.png")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--latency", choices=("profile", "shipped"), default="profile",
                    help="profile: time nb-macro's blocks on this CPU; shipped: a model of the shipped whole networks")
    ap.add_argument("--percentiles", type=float, nargs="+", default=[25, 50, 75],
                    help="budgets at these percentiles of the space's latency")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="edgelat-quality-"))
    space = get_space("nb-macro")
    if args.latency == "shipped" and args.networks:
        ap.error("--networks measures against a profiled block table: use --latency profile")
    lut = host_table(work) if args.latency == "profile" else None
    model = ArchitecturePredictor(space, lut) if lut is not None else shipped_table(space)
    every = np.array([[int(c) for c in k] for k in _all_keys()])
    budgets = [float(np.percentile(model.predict(every), q)) for q in args.percentiles]
    signal = TableSignal(space)
    t0 = time.perf_counter()
    results = [run_budget(space, model, signal, b, args.seeds) for b in budgets]
    cpu = host_info()["cpu"] if args.latency == "profile" else "the CPU of data/nb_macro_host_latency.csv"
    doc = {"cpu": cpu, "percentiles": args.percentiles, "budgets_ms": budgets, "seeds": args.seeds, "results": results,
           "search_s": time.perf_counter() - t0}
    if args.networks:
        doc["block_table_vs_measured"] = measured_networks(work, space, lut, args.networks)
    plot(results, args.plot)
    print(json.dumps(doc) if args.json else _table(doc))
    print(f"wrote {args.plot}", file=sys.stderr)


def _table(doc: dict) -> str:
    lines = [f"CPU {doc['cpu']}; budgets (" + "/".join(f"p{q:g}" for q in doc["percentiles"]) + " of host latency) "
             + " / ".join(f"{b:.3f} ms" for b in doc["budgets_ms"]) + f"; {doc['seeds']} seeds"]
    for r in doc["results"]:
        lines.append(f"\nbudget {r['budget_ms']:.3f} ms: optimum {r['optimum']:.3f}%, random feasible mean "
                     f"{r['random_mean']:.3f}%, {r['feasible']} feasible networks")
        lines.append(f"{'strategy':<8} {'evals':>5} {'mean regret':>12} {'worst':>7} {'within 0.1':>11} {'RI %':>7}")
        for name, by_n in r["strategies"].items():
            for n, s in by_n.items():
                lines.append(f"{name:<8} {n:>5} {s['mean_regret']:>12.3f} {s['worst_regret']:>7.3f} "
                             f"{s['within_0.1']:>11.0%} {s['ri_vs_random_mean_pct']:>+7.2f}")
    for n in EVALS:
        means = {k: np.mean([r["strategies"][k][n]["mean_regret"] for r in doc["results"]]) for k in STRATEGIES}
        within = {k: np.mean([r["strategies"][k][n]["within_0.1"] for r in doc["results"]]) for k in STRATEGIES}
        lines.append(f"all budgets, {n:>3} evaluations: " + ", ".join(
            f"{k} {means[k]:.3f} ({within[k]:.0%} within 0.1)" for k in STRATEGIES))
    if "block_table_vs_measured" in doc:
        b = doc["block_table_vs_measured"]
        c = b["calibrated_k10"]
        lines.append(f"\nblock table vs {b['n']} measured whole networks: ±5% {b['acc5']:.0%}, ±10% {b['acc10']:.0%}, "
                     f"Spearman {b['spearman']:.3f}, median error {b['median_err_pct']:+.1f}%; calibrated by "
                     f"{c['k']} of them, on the other {c['n_test']}: ±5% {c['acc5']:.0%}, ±10% {c['acc10']:.0%}, "
                     f"Spearman {c['spearman']:.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
