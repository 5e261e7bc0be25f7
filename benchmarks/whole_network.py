"""Whole single-path networks on this CPU against their predictions (issue: the sum is not the whole).

For each resolution x dtype it profiles the space's blocks and fixed parts three times (plain
timing, cold timing: an L2 sweep before each run, and context timing: a sweep of what the space's
typical network streams per inference, the default), measures `--calibration` networks (seed 101)
for the calibrated predictors and `--networks` held-out networks (seed 202, never used to fit
anything), and reports ±5%/±10% accuracy, MAPE, Spearman and the worst error of: the plain, cold
and context block sums, and the layer-wise fit with the context block table as its prior at
k = 5, 10, 20 calibration networks. Then, per setting, the end-to-end check: annealing under
`--budgets` hard budgets with the k=10 calibrated predictor, each network found measured here
(measured / budget). Every table and network set is measured in passes >= PASS_GAP_S apart, the
fastest counting, each pass kept out of slow spells by the spell guard (SPELL_GUARD). Writes the
measured networks to data/ (with the CPU model) and one predicted-vs-measured PNG.
Usage: python benchmarks/whole_network.py [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgelat.core.progress import NullProgress
from edgelat.core.spaces import get_space
from edgelat.predictors import metrics
from edgelat.predictors.architecture import ArchitecturePredictor
from edgelat.predictors.datasets import load_blocks
from edgelat.predictors.layerwise import LayerwisePredictor
from edgelat.predictors.lut import LUTPredictor
from edgelat.profiler.store import Store, host_info
from edgelat.profiler.workflow import ProfileOptions, run_profile
from edgelat.search.options import SearchOptions
from edgelat.search.problem import Budget, Problem
from edgelat.search.signals import ParamsSignal
from edgelat.search.strategies import SimulatedAnnealing
from edgelat.search.verify import device_measure, verify_loop

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "host_single_path_networks.csv"
CAL_SEED, TEST_SEED = 101, 202
KS = (5, 10, 20)
VERIFY_ROUNDS = 3
NETWORK_PASSES = 5  # the truth: the fastest of 5 passes (of 3, one network in 20 still met a slow episode)
PASS_GAP_S = 20.0  # passes >= 20 s apart: this VM's slow spells (+10-20% on everything) mostly last seconds, and
# with 3-5 s gaps one covered every pass of a campaign (a block table 7% slow); a rare one lasts over a minute
SPELL_GUARD = 0.05  # and each pass guarded: run again when the probe read > 5% over its fastest (spell_guard.py)
GUARDED: list[dict] = []  # what the guard did in each campaign


def profile(work: Path, **kw) -> dict:
    """One host campaign of the space, its passes PASS_GAP_S apart and guarded (one probe history per run)."""
    out = run_profile(ProfileOptions(device="host", space="single-path", num_classes=10, pass_gap_s=PASS_GAP_S,
                                     spell_guard=SPELL_GUARD, probe_history=str(work / "probes.sqlite"), **kw))
    GUARDED.append({"store": Path(kw["store"]).name, **out.summary["spell_guard"]})
    return out.summary


def block_table(work: Path, res: int, dtype: str, timing: str) -> LUTPredictor:
    """Profile the space's blocks and fixed parts with one timing method; a LUT of them."""
    store = work / f"blocks-{timing}-r{res}-{dtype}.sqlite"
    out = profile(work, resolution=res, dtype=dtype, store=str(store), timing=timing, fixed_parts=True, passes=3)
    blocks = load_blocks(store, device="host")
    return LUTPredictor().fit(blocks.frame, blocks.y, fixed=out["fixed_parts_ms"][dtype])


def networks(work: Path, res: int, dtype: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Measure `n` networks (plain timing, NETWORK_PASSES passes: they are the truth); their choice
    arrays and ms."""
    store = work / f"nets-r{res}-{dtype}-s{seed}.sqlite"
    profile(work, resolution=res, dtype=dtype, store=str(store), networks=n, seed=seed, passes=NETWORK_PASSES)
    with Store(store) as s:
        rows = s.rows(networks=True, estimate="min")
    archs = np.array([[int(ch, 36) for ch in r["arch"]] for r in rows])
    return archs, np.array([r["median_ms"] for r in rows])


def scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    r = metrics.report(y, p)
    err = (p - y) / y
    return {"acc5": r["acc5"], "acc10": r["acc10"], "mape": r["mape"], "spearman": r["spearman"],
            "worst_pct": float(100 * err[np.argmax(np.abs(err))]), "median_err_pct": float(100 * np.median(err))}


def one_config(work: Path, res: int, dtype: str, n_test: int, n_cal: int, budgets: int = 5) -> dict:
    space = get_space("single-path", res, num_classes=10)
    context = block_table(work, res, dtype, "context")
    cal_a, cal_y = networks(work, res, dtype, n_cal, CAL_SEED)
    if not n_test:  # --budget-only: the search check alone
        model = LayerwisePredictor("single-path", prior=context, resolution=res, dtype=dtype).fit(cal_a[:10],
                                                                                                   cal_y[:10])
        return {"n_test": 0, "scores": {}, "budgets": budget_check(work, space, res, dtype, model, budgets)}
    plain, cold = block_table(work, res, dtype, "plain"), block_table(work, res, dtype, "cold")
    test_a, test_y = networks(work, res, dtype, n_test, TEST_SEED)
    keep = ~(test_a[:, None, :] == cal_a[None]).all(-1).any(1)  # held out: never a calibration network
    test_a, test_y = test_a[keep], test_y[keep]
    preds = {"plain block sum": ArchitecturePredictor(space, plain, dtype).predict(test_a),
             "cold block sum": ArchitecturePredictor(space, cold, dtype).predict(test_a),
             "context block sum": ArchitecturePredictor(space, context, dtype).predict(test_a)}
    for k in KS:
        if k <= len(cal_y):
            model = LayerwisePredictor("single-path", prior=context, resolution=res, dtype=dtype)
            preds[f"calibrated k={k}"] = model.fit(cal_a[:k], cal_y[:k]).predict(test_a)
    if budgets:
        checks = budget_check(work, space, res, dtype, LayerwisePredictor(
            "single-path", prior=context, resolution=res, dtype=dtype).fit(cal_a[:10], cal_y[:10]), budgets)
    else:
        checks = []
    rows = [{"resolution": res, "dtype": dtype, "arch": "".join(np.base_repr(v, 36).lower() for v in a),
             "measured_ms": y, "split": "test"} for a, y in zip(test_a, test_y, strict=True)]
    rows += [{"resolution": res, "dtype": dtype, "arch": "".join(np.base_repr(v, 36).lower() for v in a),
              "measured_ms": y, "split": "calibration"} for a, y in zip(cal_a, cal_y, strict=True)]
    return {"n_test": int(len(test_y)), "n_cal": int(len(cal_y)), "measured": test_y.tolist(),
            "predicted": {k: v.tolist() for k, v in preds.items()},
            "scores": {k: scores(test_y, v) for k, v in preds.items()}, "rows": rows, "budgets": checks}


def budget_check(work: Path, space, res: int, dtype: str, model: LayerwisePredictor, n: int) -> list[dict]:
    """The end-to-end check: `n` hard budgets (10th..90th percentile of the calibrated prediction
    over random networks); annealing maximises parameters (so it presses against the budget) with
    the calibrated predictor; the network found is built, converted and measured here (round 1, the
    slower of two sittings), and `search --verify 3` rescales and searches again while it breaks the budget."""
    budgets = np.percentile(model.predict(space.random(4000, seed=7)), np.linspace(10, 90, n))
    opts = SearchOptions(space="single-path", device="host", resolution=res, dtype=dtype)
    measure = device_measure(opts, work / f"budgets-r{res}-{dtype}", 10, NullProgress())
    anneal = lambda: SimulatedAnnealing(steps=300, chains=8, seed=0)  # noqa: E731
    found = []
    for b in budgets:
        problem = Problem(space, model, ParamsSignal(space), Budget(float(b)))
        _, chosen, check = verify_loop(problem, anneal().run(problem), lambda p, _f: anneal().run(p), measure,
                                       VERIFY_ROUNDS, NullProgress())
        first, last = check.rounds[0], next(r for r in check.rounds if r["arch"] == space.encode(chosen.arch))
        found.append({"budget_ms": float(b), "arch": first["arch"], "predicted_ms": first["predicted_ms"],
                      "measured_ms": first["measured_ms"], "measured_over_budget": first["measured_ms"] / b,
                      "verified_arch": last["arch"], "verified_rounds": len(check.rounds),
                      "verified_measured_ms": last["measured_ms"], "verified_sittings_ms": last["sittings_ms"],
                      "verified_over_budget": last["measured_ms"] / b, "verified_factor": check.factor})
    recheck = remeasure(work / f"recheck-r{res}-{dtype}.sqlite", res, dtype, [f["verified_arch"] for f in found])
    for f in found:  # the loop stops at a measurement under the budget: judge it on a fresh one
        f["rechecked_ms"] = recheck[f["verified_arch"].split(":", 1)[1]]
        f["rechecked_over_budget"] = f["rechecked_ms"] / f["budget_ms"]
    return found


def remeasure(store: Path, res: int, dtype: str, archs: list[str]) -> dict[str, float]:
    """The networks measured again in a campaign of their own (5 passes, PASS_GAP_S apart, the fastest counts)."""
    profile(store.parent, resolution=res, dtype=dtype, store=str(store), archs=tuple(dict.fromkeys(archs)),
            passes=NETWORK_PASSES)
    with Store(store) as s:
        return {r["arch"]: r["median_ms"] for r in s.rows(networks=True, estimate="min")}


def ship(results: dict, cpu: str) -> None:
    """The measured networks into data/ (with the CPU), replacing the settings run here only."""
    ran = {(str(r["resolution"]), r["dtype"]) for v in results.values() for r in v["rows"]}
    with SHIPPED.open() as fh:
        kept = [r for r in csv.DictReader(fh) if (r["resolution"], r["dtype"]) not in ran]
    with SHIPPED.open("w", newline="") as fh:
        w = csv.DictWriter(fh, ["resolution", "dtype", "split", "arch", "measured_ms", "cpu", "threads"])
        w.writeheader()
        w.writerows(kept)
        for r in results.values():
            w.writerows({**row, "cpu": cpu, "threads": 1} for row in r["rows"])


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 4.2), squeeze=False)
    for ax, (name, r) in zip(axes[0], results.items(), strict=True):
        y = np.array(r["measured"])
        for label, p in r["predicted"].items():
            if label in ("plain block sum", "context block sum", "calibrated k=10"):
                ax.scatter(y, p, s=12, label=label)
        lo, hi = y.min() * 0.5, y.max() * 1.5
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="grey", alpha=0.2, label="±10%")
        ax.set(xscale="log", yscale="log", xlabel="measured ms", ylabel="predicted ms", title=name)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", type=int, default=20, help="held-out networks per resolution x dtype")
    ap.add_argument("--calibration", type=int, default=20, help="calibration networks per resolution x dtype")
    ap.add_argument("--budgets", type=int, default=5, help="hard budgets searched, deployed and measured")
    ap.add_argument("--resolutions", default="64,128")
    ap.add_argument("--dtypes", default="fp32,int8")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "whole_network_host.png")
    ap.add_argument("--budget-only", action="store_true",
                    help="only the search check (block table, 10 calibration networks, budgets); ships nothing")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.budget_only:
        args.networks = 0
    work = args.work or Path(tempfile.mkdtemp(prefix="edgelat-whole-"))
    results = {}
    for res in map(int, args.resolutions.split(",")):
        for dtype in args.dtypes.split(","):
            results[f"{res} px {dtype}"] = one_config(work, res, dtype, args.networks, args.calibration, args.budgets)
            print(f"{res} px {dtype} done", file=sys.stderr, flush=True)
    cpu = host_info()["cpu"]
    if not args.budget_only:
        ship(results, cpu)
        plot(results, args.plot)
    summary = {"cpu": cpu, "work": str(work), "spell_guard": GUARDED,
               **{k: {"n_test": v["n_test"], "scores": v["scores"], "budgets": v["budgets"]}
                  for k, v in results.items()}}
    if args.json:
        print(json.dumps(summary))
        return
    print(f"CPU: {cpu}")
    total = lambda key: sum(len(g[key]) for g in GUARDED)  # noqa: E731
    print(f"spell guard (probe > {SPELL_GUARD:.0%} over its fastest): {len(GUARDED)} campaigns, "
          f"{sum(g['probes'] for g in GUARDED)} probe readings, waited {sum(g['waited_s'] for g in GUARDED):.0f} s, "
          f"passes run again {total('passes_run_again')}, kept in a spell {total('unprotected_passes')}, "
          f"worst probe {max(g['worst_ratio'] for g in GUARDED):.3f}")
    for name, r in results.items():
        print(f"\n{name}: {r['n_test']} held-out networks")
        print(f"{'predictor':<20} {'±5%':>6} {'±10%':>6} {'MAPE':>7} {'Spearman':>9} {'median err':>11} {'worst':>8}")
        for label, s in r["scores"].items():
            print(f"{label:<20} {s['acc5']:>6.0%} {s['acc10']:>6.0%} {s['mape']:>7.1%} {s['spearman']:>9.3f} "
                  f"{s['median_err_pct']:>+10.1f}% {s['worst_pct']:>+7.1f}%")
        for b in r["budgets"]:
            print(f"  search under {b['budget_ms']:.3f} ms (calibrated k=10): predicted {b['predicted_ms']:.3f} ms, "
                  f"measured {b['measured_ms']:.3f} ms = {b['measured_over_budget']:.3f} x budget; with --verify "
                  f"{VERIFY_ROUNDS}: {b['verified_over_budget']:.3f} x budget after {b['verified_rounds']} round(s) "
                  f"(factor {b['verified_factor']:.3f}), measured again {b['rechecked_over_budget']:.3f} x budget")
        if r["budgets"]:
            worst = max(b["rechecked_over_budget"] for b in r["budgets"])
            print(f"  worst measured again / budget: {worst:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
