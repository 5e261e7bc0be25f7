"""Every accuracy signal against the Fashion-MNIST truth table (data/fmnist_single_path_truth.csv,
built by fmnist_truth.py): Kendall tau and Spearman against the networks' stand-alone validation
top-1 (the mean of their seeds), beside the noise ceiling (seed 0 against seed 1 of the same table),
with each signal's cost per network.

Signals: params, flops, synflow and naswot (zero-cost, on 32 training images), the supernet
(`supernet_for` as `search` trains it, `--supernet-epochs`, on `--train-images`; with and without
BatchNorm recalibration, on all 6,000 validation images; its training time is spread over the
networks) and short stand-alone training (`train1`, `train2`, `train4`: 1, 2, 4 epochs, seed 0).
Only networks with every seed in the table are judged. The ceiling compares one training with
another; a signal is compared with the mean of two, so it can read slightly above the ceiling.
Usage: python benchmarks/fmnist_signals.py [--signals params flops synflow naswot supernet train1 ...]
       [--truth CSV] [--train-images 15000] [--supernet-epochs 30] [--json]
(zero-cost signals: a minute; the supernet about 30 min; train1+train2+train4: ~7 x 17 s per network,
on 2 cores of an Intel Xeon, 2026-12-05)
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

ROOT = Path(__file__).resolve().parent.parent
TRUTH = ROOT / "data" / "fmnist_single_path_truth.csv"
ZERO_COST = ("params", "flops", "synflow", "naswot")
ALL = (*ZERO_COST, "supernet", "train1", "train2", "train4")


def read_truth(path: Path) -> tuple[list[str], np.ndarray]:
    """Networks with every seed present, and their validation top-1 per seed (networks x seeds)."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    seeds = sorted({int(r["seed"]) for r in rows})
    by: dict[str, dict[int, float]] = {}
    for r in rows:
        by.setdefault(r["arch"], {})[int(r["seed"])] = float(r["val_top1"])
    archs = [a for a, v in by.items() if all(s in v for s in seeds)]
    return archs, np.array([[by[a][s] for s in seeds] for a in archs])


def ranks_against(truth: np.ndarray, score: np.ndarray) -> dict[str, float]:
    return {"kendall": float(kendalltau(truth, score)[0]), "spearman": float(spearmanr(truth, score)[0])}


def score_signals(names: list[str], space, archs: np.ndarray, args) -> dict[str, tuple[np.ndarray, float]]:
    """Each signal's scores of `archs` and its cost in seconds per network."""
    from edgelat.core.progress import NullProgress
    from edgelat.search.data import load_dataset
    from edgelat.search.signals import FlopsSignal, NaswotSignal, ParamsSignal, SynflowSignal, short_train

    data = load_dataset("fashion-mnist", space.resolution, 0, args.train_images)
    makers = {"params": lambda: ParamsSignal(space), "flops": lambda: FlopsSignal(space),
              "synflow": lambda: SynflowSignal(space, data.x_train[:32]),
              "naswot": lambda: NaswotSignal(space, data.x_train[:32])}
    out: dict[str, tuple[np.ndarray, float]] = {}
    for name in names:
        t0 = time.perf_counter()
        if name in makers:
            scores = np.asarray(makers[name]().evaluate(archs), np.float64)
        elif name.startswith("train"):
            scores = np.array([short_train(space, a, data, int(name[5:]), 0, split="val")[1] for a in archs])
        else:
            continue
        out[name] = (scores, (time.perf_counter() - t0) / len(archs))
        print(f"{name}: {out[name][1]:.2f} s per network", file=sys.stderr, flush=True)
    if "supernet" in names:
        from edgelat.search.workflow import supernet_for

        t0 = time.perf_counter()
        net = supernet_for(space, data, args.supernet_epochs, 0, NullProgress())
        train_s = time.perf_counter() - t0
        out |= supernet_scores(space, net, data, archs, train_s)
    return out


def supernet_scores(space, net, data, archs: np.ndarray, train_s: float) -> dict[str, tuple[np.ndarray, float]]:
    """Inherited-weight validation top-1, with and without BatchNorm recalibration."""
    from edgelat.core.builders import build_network
    from edgelat.search.weights import inherit_weights, recalibrate_bn, top1

    plain, recal, t0 = [], [], time.perf_counter()
    for a in archs:
        model = build_network(space, a, seed=0)
        inherit_weights(model, net, a)
        plain.append(top1(model, data.x_val, data.y_val))
        recalibrate_bn(model, data.x_train)
        recal.append(top1(model, data.x_val, data.y_val))
    each_s = (train_s + time.perf_counter() - t0) / len(archs)
    return {"supernet, BN recalibrated": (np.array(recal), each_s),
            "supernet, no recalibration": (np.array(plain), each_s)}


def main(args: argparse.Namespace) -> dict:
    from edgelat.core.spaces import get_space

    names, acc = read_truth(args.truth)
    if len(names) < 4:
        raise SystemExit(f"{args.truth}: {len(names)} networks with every seed; at least 4 are needed")
    space = get_space("single-path", 32, 0.35, num_classes=10)
    archs = np.array([space.decode(n) for n in names])
    mean = acc.mean(axis=1)
    doc = {"truth": str(args.truth), "networks": len(names), "val_top1_range": [float(mean.min()), float(mean.max())],
           "noise_ceiling": ranks_against(acc[:, 0], acc[:, 1]), "signals": {}}
    for name, (scores, cost_s) in score_signals(args.signals, space, archs, args).items():
        doc["signals"][name] = ranks_against(mean, scores) | {"cost_s_per_network": round(cost_s, 3)}
    return doc


def report(doc: dict) -> str:
    ceil = doc["noise_ceiling"]
    lines = [f"{doc['networks']} networks of {doc['truth']} (val top-1 {doc['val_top1_range'][0]:.3f}-"
             f"{doc['val_top1_range'][1]:.3f}); noise ceiling (seed against seed): Kendall {ceil['kendall']:.3f}, "
             f"Spearman {ceil['spearman']:.3f}",
             f"{'signal':28s} {'Kendall':>8s} {'of ceiling':>10s} {'Spearman':>9s} {'s/network':>10s}"]
    for name, s in doc["signals"].items():
        share = f"{s['kendall'] / ceil['kendall']:.0%}" if ceil["kendall"] > 0 else "n/a"  # no ceiling to share
        lines.append(f"{name:28s} {s['kendall']:8.3f} {share:>10s} {s['spearman']:9.3f} "
                     f"{s['cost_s_per_network']:10.2f}")
    return "\n".join(lines)


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--truth", type=Path, default=TRUTH)
    ap.add_argument("--signals", nargs="+", choices=ALL, default=list(ZERO_COST))
    ap.add_argument("--train-images", type=int, default=15000, help="the truth table's protocol")
    ap.add_argument("--supernet-epochs", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    return ap.parse_args()


if __name__ == "__main__":
    ns = parse()
    result = main(ns)
    print(json.dumps(result, indent=1) if ns.json else report(result))
