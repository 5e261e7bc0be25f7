"""Zero-cost proxies against real accuracy: every accuracy signal edgelat offers (params, flops,
synflow, naswot, nasgraph) on a reproducible sample of distinct NAS-Bench-Macro networks, ranked
against the benchmark's mean CIFAR-10 test accuracy (Spearman and Kendall), plus rank averages
of proxy pairs and triples (the best one is offered as `--accuracy rankavg`-style combinations
only if it beats every single proxy).

Input data: params and flops need none; synflow is data-free (an all-ones 32x32x3 input, absolute
weights); naswot and nasgraph run an untrained supernet with the candidate's path: naswot on a
minibatch of 32 images of the embedded digits resized to 32x32x3 (CIFAR-10 is not available
offline here), nasgraph on unit inputs (data-free).
Usage: python benchmarks/zero_cost_proxies.py [--networks 1000] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np
from scipy import stats

from edgelat.core.spaces import get_space
from edgelat.search.accuracy_table import TableSignal
from edgelat.search.data import load_digits
from edgelat.search.signals import FlopsSignal, NasgraphSignal, NaswotSignal, ParamsSignal, SynflowSignal

PROXIES = ("params", "flops", "synflow", "naswot", "nasgraph")


def sample(space, n: int, seed: int) -> np.ndarray:
    """`n` distinct canonical networks of the space, drawn uniformly among the distinct ones."""
    keys = np.array([[int(c) for c in np.base_repr(i, 3).zfill(8)] for i in range(3**8)])
    distinct = np.unique(space.canonical(keys), axis=0)
    pick = np.random.default_rng(seed).choice(len(distinct), size=min(n, len(distinct)), replace=False)
    return distinct[np.sort(pick)]


def proxy_scores(space, archs: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Each proxy's score of every network, and its cost per network in ms."""
    x = load_digits(resolution=space.resolution, seed=0).x_train
    makers = {"params": lambda: ParamsSignal(space), "flops": lambda: FlopsSignal(space),
              "synflow": lambda: SynflowSignal(space, x), "naswot": lambda: NaswotSignal(space, x),
              "nasgraph": lambda: NasgraphSignal(space, x)}
    scores, cost_ms = {}, {}
    for name in PROXIES:
        signal = makers[name]()
        t0 = time.perf_counter()
        scores[name] = np.asarray(signal.evaluate(archs), np.float64)
        cost_ms[name] = 1000 * (time.perf_counter() - t0) / len(archs)
    return scores, cost_ms


def correlations(scores: dict[str, np.ndarray], acc: np.ndarray) -> dict[str, dict[str, float]]:
    """Spearman and Kendall of each single proxy and of every rank average of 2-3 proxies."""
    ranks = {k: stats.rankdata(np.nan_to_num(v, neginf=-1e300)) for k, v in scores.items()}
    out = {}
    for r in (1, 2, 3):
        for combo in itertools.combinations(PROXIES, r):
            s = np.mean([ranks[k] for k in combo], axis=0)
            out["+".join(combo)] = {"spearman": float(stats.spearmanr(s, acc).statistic),
                                    "kendall": float(stats.kendalltau(s, acc).statistic)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    space = get_space("nb-macro")
    archs = sample(space, args.networks, args.seed)
    acc = TableSignal(space).evaluate(archs)
    scores, cost_ms = proxy_scores(space, archs)
    corr = correlations(scores, acc)
    best_single = max(PROXIES, key=lambda k: corr[k]["spearman"])
    best_combo = max((k for k in corr if "+" in k), key=lambda k: corr[k]["spearman"])
    doc = {"networks": len(archs), "seed": args.seed, "cost_ms_per_network": cost_ms, "correlations": corr,
           "best_single": best_single, "best_combination": best_combo}
    if args.json:
        print(json.dumps(doc))
        return
    print(f"{len(archs)} distinct NAS-Bench-Macro networks (seed {args.seed}), against mean CIFAR-10 test accuracy")
    print(f"{'signal':<26} {'Spearman':>9} {'Kendall':>8} {'ms/network':>11}")
    for name in PROXIES:
        print(f"{name:<26} {corr[name]['spearman']:>+9.3f} {corr[name]['kendall']:>+8.3f} {cost_ms[name]:>11.1f}")
    ranked = sorted((k for k in corr if "+" in k), key=lambda k: -corr[k]["spearman"])[:5]
    for name in ranked:
        print(f"{'rank avg ' + name:<26} {corr[name]['spearman']:>+9.3f} {corr[name]['kendall']:>+8.3f}")
    print(f"best single proxy {best_single} ({corr[best_single]['spearman']:+.3f}); best rank average "
          f"{best_combo} ({corr[best_combo]['spearman']:+.3f})")


if __name__ == "__main__":
    main()
