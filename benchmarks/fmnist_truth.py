"""A Fashion-MNIST ground truth for the single-path space: stand-alone accuracies of networks spread
over the space's cost range, two seeds each, so that the seed-to-seed agreement is the noise ceiling
no accuracy signal can beat.

Networks: single-path at width 0.35 and 32 px (Fashion-MNIST padded to 32). `--networks N` are the
networks nearest N evenly spaced MAC counts over the range of 5,000 random networks (seed 0); MACs
stand in for latency, since this script times nothing. Protocol: `--train-images` stratified training images (default
15,000), `--epochs` (default 8) of Adam with a cosine decay, batch 64, BatchNorm recalibrated; top-1
on the 6,000 fixed validation images and on the 10,000 test images.

Resumable, one training at a time: each finished (network, seed) is appended to `--out`
(runs/fmnist_truth.csv), and a re-run skips what is there. `--ship` copies it to
data/fmnist_single_path_truth.csv (the explicit step that refreshes shipped data) and prints the
seed-to-seed Kendall tau and Spearman of what is complete. A run whose `--out` does not exist yet
starts from the shipped table, so a fresh clone extends it instead of training it all again.
Usage: python benchmarks/fmnist_truth.py [--networks 40] [--seeds 0 1] [--limit N] [--ship]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "runs" / "fmnist_truth.csv"
SHIPPED = ROOT / "data" / "fmnist_single_path_truth.csv"
COLUMNS = ["arch", "seed", "macs", "val_top1", "test_top1", "train_images", "epochs", "train_s", "cpu", "tensorflow"]


def networks(n: int) -> tuple[object, np.ndarray, np.ndarray]:
    """The space, and `n` distinct networks spread evenly over the MACs of random ones, with their MACs."""
    from edgelat.core.spaces import get_space

    space = get_space("single-path", 32, 0.35, num_classes=10)
    pool = np.unique(space.canonical(space.random(5000, seed=0)), axis=0)
    macs = np.array([sum(layer.macs(layer.choices[c]) for layer, c in zip(space.layers, a, strict=True))
                     for a in pool])
    picks: list[int] = []
    for target in np.linspace(macs.min(), macs.max(), n):  # evenly over the range, not its crowded middle
        free = np.setdiff1d(np.arange(len(pool)), picks)
        picks.append(int(free[np.argmin(np.abs(macs[free] - target))]))
    picks = list(np.asarray(picks)[np.random.default_rng(0).permutation(n)])  # a partial table spans the range
    return space, pool[picks], macs[picks]


def done(path: Path) -> set[tuple[str, int]]:
    if not path.is_file():
        return set()
    with path.open(newline="") as fh:
        return {(r["arch"], int(r["seed"])) for r in csv.DictReader(fh)}


def train_one(space, arch, seed: int, data, epochs: int) -> tuple[float, float, float]:
    """(validation top-1, test top-1, seconds) of one stand-alone training."""
    from edgelat.search.signals import short_train
    from edgelat.search.weights import top1

    start = time.perf_counter()
    model, val = short_train(space, arch, data, epochs, seed, split="val")
    return val, top1(model, data.x_test, data.y_test), time.perf_counter() - start


def start_from(out: Path, shipped: Path) -> bool:
    """Seed a missing `out` with the `shipped` table's rows (a fresh clone extends it); whether it did."""
    if out.is_file() or not shipped.is_file():
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped, out)
    return True


def append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file()
    with path.open("a", newline="") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        if new:
            w.writeheader()
        w.writerow(row)
        fh.flush()


def agreement(path: Path) -> str:
    """Seed-to-seed Kendall tau and Spearman over the networks with both seeds done."""
    from scipy.stats import kendalltau, spearmanr

    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    by = {}
    for r in rows:
        by.setdefault(r["arch"], {})[int(r["seed"])] = float(r["val_top1"])
    seeds = sorted({s for v in by.values() for s in v})[:2]
    pairs = np.array([[v[s] for s in seeds] for v in by.values() if all(s in v for s in seeds)])
    if len(pairs) < 3:
        return f"{len(pairs)} networks with two seeds: too few for a noise ceiling"
    return (f"{len(pairs)} networks with seeds {seeds}: seed-to-seed Kendall {kendalltau(*pairs.T)[0]:.3f}, "
            f"Spearman {spearmanr(*pairs.T)[0]:.3f}; val top-1 {pairs.min():.3f}-{pairs.max():.3f}")


def main(args: argparse.Namespace) -> None:
    if args.ship:
        shutil.copyfile(args.out, args.shipped)
        print(f"wrote {args.shipped}: {agreement(args.shipped)}")
        return
    from edgelat.profiler.store import host_info
    from edgelat.search.fashion_mnist import load_fashion_mnist

    space, archs, macs = networks(args.networks)
    data = load_fashion_mnist(32, 0, train_images=args.train_images)
    import tensorflow as tf

    if start_from(args.out, args.shipped):
        print(f"{args.out}: started from {args.shipped} ({len(done(args.out))} trainings)", file=sys.stderr)
    have, left = done(args.out), args.limit
    for arch, m in zip(archs, macs, strict=True):
        for seed in args.seeds:
            key = space.encode(arch)
            if (key, seed) in have or left == 0:
                continue
            val, test, secs = train_one(space, arch, seed, data, args.epochs)
            append(args.out, {"arch": key, "seed": seed, "macs": int(m), "val_top1": f"{val:.4f}",
                              "test_top1": f"{test:.4f}", "train_images": args.train_images, "epochs": args.epochs,
                              "train_s": f"{secs:.1f}", "cpu": host_info()["cpu"], "tensorflow": tf.__version__})
            left -= 1
            print(f"{key} seed {seed}: val {val:.4f}, test {test:.4f} ({secs:.0f} s)", file=sys.stderr, flush=True)
    print(agreement(args.out))


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", type=int, default=40)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--train-images", type=int, default=15000)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--limit", type=int, default=-1, help="stop after this many trainings (-1: all)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--ship", action="store_true")
    ap.add_argument("--shipped", type=Path, default=SHIPPED, help="the table a missing --out starts from")
    ap.add_argument("--smoke", action="store_true",
                    help="3 networks x 2 seeds, 600 images, 1 epoch, into runs/fmnist_truth_smoke.csv unless --out "
                         "(never mixed into the truth table)")
    args = ap.parse_args()
    if args.smoke:
        args.networks, args.train_images, args.epochs, args.shipped = 3, 600, 1, Path("/nonexistent")
        args.out = OUT.with_name("fmnist_truth_smoke.csv") if args.out == OUT else args.out
    return args


if __name__ == "__main__":
    main(parse())
