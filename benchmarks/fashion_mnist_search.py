"""Training-based search on Fashion-MNIST: how faithful the supernet is, and whether the
weight-sharing search beats random search at equal cost (issue: training-based search).

Space: single-path at width 0.35, trained at 32 px (Fashion-MNIST padded to 32) and priced at 32 px
on this CPU: the smallest single-path networks train in seconds on 2 cores, and the space keeps its
22 searchable layers. `nb-macro` networks are 10-50x costlier to train here.
1. Fidelity: the supernet (trained with its defaults) against stand-alone training (one fixed short
   protocol) on `--archs` networks spread over the latency range: Kendall tau and Spearman of
   validation top-1, with and without BatchNorm recalibration, on 1,000 or all 6,000 validation
   images; and the zero-cost proxies against the same stand-alone accuracies.
2. Search quality: under the median predicted latency as a hard budget, single-path, anneal and
   guided with the supernet signal and random search with the same signal and evaluations; each
   chosen network trained stand-alone the same way (test top-1), for `--seeds` seeds; RI against
   random search and against the mean of `--ri-samples` random feasible networks.
Usage: python benchmarks/fashion_mnist_search.py [--train-images 4000] [--epochs 3] [--seeds 3] [--json]
(63 min on a 2-core AMD EPYC with these defaults).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from edgelat.core.progress import NullProgress
from edgelat.core.spaces import get_space
from edgelat.predictors import persistence
from edgelat.predictors.architecture import ArchitecturePredictor
from edgelat.predictors.datasets import load_blocks
from edgelat.predictors.lut import LUTPredictor
from edgelat.profiler.workflow import ProfileOptions, run_profile
from edgelat.search.data import load_dataset
from edgelat.search.signals import FlopsSignal, NaswotSignal, ParamsSignal, SynflowSignal, short_train
from edgelat.search.workflow import SearchOptions, run_search, supernet_for

WIDTH, RES, SUPERNET_EPOCHS = 0.35, 32, 30


def host_model(work: Path) -> Path:
    """The space's blocks and fixed parts profiled on this CPU; a lookup table of them."""
    store = work / "host-blocks.sqlite"
    out = run_profile(ProfileOptions(device="host", space="single-path", resolution=RES, width=WIDTH, num_classes=10,
                                     store=str(store), fixed_parts=True))
    blocks = load_blocks(store, device="host")
    lut = LUTPredictor().fit(blocks.frame, blocks.y, fixed=out.summary["fixed_parts_ms"]["fp32"])
    return persistence.save(lut, work / "host-lut.json", {"device": "host", "training_size": int(len(blocks.y))})


def spread(space, predictor, n: int, seed: int = 11) -> np.ndarray:
    """`n` networks at evenly spaced quantiles of the predicted latency of 2,000 random ones."""
    pool = space.random(2000, seed=seed)
    order = np.argsort(predictor.predict(pool))
    return pool[order[np.linspace(0, len(pool) - 1, n).round().astype(int)]]


def correlations(truth: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    return {k: {"kendall": float(kendalltau(truth, v)[0]), "spearman": float(spearmanr(truth, v)[0])}
            for k, v in scores.items()}


def fidelity(space, data, net, archs: np.ndarray, epochs: int, alone: np.ndarray | None = None) -> dict:
    """Supernet (3 variants) and zero-cost proxies against stand-alone validation top-1 (trained
    here, or `alone` from an earlier run of the same networks)."""
    from edgelat.core.builders import build_network
    from edgelat.search.weights import inherit_weights, recalibrate_bn, top1

    t0 = time.perf_counter()
    if alone is None:
        alone = np.array([short_train(space, a, data, epochs, 0, split="val")[1] for a in archs])
    train_s = time.perf_counter() - t0
    variants: dict[str, list[float]] = {k: [] for k in ("supernet, BN recalibrated, 6000 val",
                                                        "supernet, BN recalibrated, 1000 val",
                                                        "supernet, no BN recalibration, 6000 val")}
    for a in archs:
        model = build_network(space, a, seed=0)
        inherit_weights(model, net, a)
        variants["supernet, no BN recalibration, 6000 val"].append(top1(model, data.x_val, data.y_val))
        recalibrate_bn(model, data.x_train)
        variants["supernet, BN recalibrated, 6000 val"].append(top1(model, data.x_val, data.y_val))
        variants["supernet, BN recalibrated, 1000 val"].append(top1(model, data.x_val[:1000], data.y_val[:1000]))
    proxies = {"params": ParamsSignal(space), "flops": FlopsSignal(space),
               "synflow": SynflowSignal(space, data.x_train[:32]), "naswot": NaswotSignal(space, data.x_train[:32])}
    scores = {k: np.array(v) for k, v in variants.items()} | {k: p.evaluate(archs) for k, p in proxies.items()}
    return {"standalone_val": alone.tolist(), "train_s_per_network": train_s / len(archs),
            "correlations": correlations(alone, scores)}


def search_quality(args, work: Path, model: Path, budget: float, data, acc_space) -> dict:
    """Chosen networks of every strategy and seed, each trained stand-alone once (test top-1)."""
    trained: dict[str, float] = {}

    def standalone(enc: str) -> float:
        if enc not in trained:
            _, trained[enc] = short_train(acc_space, acc_space.decode(enc), data, args.epochs, 0, split="test")
        return trained[enc]

    rows = []
    for seed in range(args.seeds):
        per: dict[str, dict] = {}
        for strategy in ("single-path", "anneal", "guided"):
            t0 = time.perf_counter()
            doc = run_search(SearchOptions(
                space="single-path", device="host", predictor=str(model), target_ms=budget, strategy=strategy,
                accuracy="supernet", data="fashion-mnist", train_images=args.train_images, resolution=RES,
                width=WIDTH, evaluations=args.evaluations, ri_samples=0, final_eval="none", export=False,
                seed=seed, out=str(work / f"s{seed}-{strategy}")), NullProgress())
            per[strategy] = {"arch": doc["arch"], "search_s": time.perf_counter() - t0}
            per["random"] = {"arch": doc["random_baseline"]["arch"], "search_s": None}
        samples = feasible_samples(model, budget, args.ri_samples, seed)
        sample_acc = [standalone(e) for e in samples]
        for r in per.values():
            r["test_top1"] = standalone(r["arch"])
        rs, mean = per["random"]["test_top1"], float(np.mean(sample_acc))
        rows.append({"seed": seed, "random_mean": mean, "samples": sample_acc,
                     **{k: {**v, "ri_vs_random_search": 100 * (v["test_top1"] - rs) / rs,
                            "ri_vs_random_mean": 100 * (v["test_top1"] - mean) / mean} for k, v in per.items()}})
    return {"seeds": rows}


def feasible_samples(model: Path, budget: float, n: int, seed: int) -> list[str]:
    space = get_space("single-path", RES, WIDTH, num_classes=10)
    pool = space.random(400, seed=100 + seed)
    ok = pool[ArchitecturePredictor(space, persistence.load(model)).predict(pool) <= budget]
    return [space.encode(a) for a in ok[:n]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-images", type=int, default=4000)
    ap.add_argument("--epochs", type=int, default=3, help="the stand-alone protocol's epochs")
    ap.add_argument("--archs", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--evaluations", type=int, default=60)
    ap.add_argument("--ri-samples", type=int, default=3)
    ap.add_argument("--supernet-epochs", type=int, default=SUPERNET_EPOCHS)
    ap.add_argument("--fidelity-only", type=Path, default=None, metavar="SUMMARY",
                    help="only the supernet's fidelity, against the stand-alone top-1 of an earlier summary.json")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="edgelat-fmnist-"))
    t0 = time.perf_counter()
    model = host_model(work)
    lat_space = get_space("single-path", RES, WIDTH, num_classes=10)
    predictor = ArchitecturePredictor(lat_space, persistence.load(model))
    budget = float(np.median(predictor.predict(lat_space.random(2000, seed=3))))
    data = load_dataset("fashion-mnist", RES, 0, args.train_images)
    net = supernet_for(lat_space, data, args.supernet_epochs, 0, NullProgress())
    t_supernet = time.perf_counter() - t0
    earlier = json.loads(args.fidelity_only.read_text())["fidelity"]["standalone_val"] if args.fidelity_only else None
    fid = fidelity(lat_space, data, net, spread(lat_space, predictor, args.archs), args.epochs,
                   None if earlier is None else np.array(earlier))
    t_fid = time.perf_counter() - t0 - t_supernet
    if args.fidelity_only:
        print(json.dumps({"supernet_epochs": args.supernet_epochs, "supernet_s": t_supernet,
                          "correlations": fid["correlations"]}, indent=1))
        return
    quality = search_quality(args, work, model, budget, data, lat_space)
    summary = {"data": data.summary(), "budget_ms": budget, "profile_and_supernet_s": t_supernet,
               "fidelity_s": t_fid, "total_s": time.perf_counter() - t0, "fidelity": fid, "quality": quality}
    (work / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary) if args.json else report(summary))


def report(s: dict) -> str:
    lines = [f"{s['data']}; budget {s['budget_ms']:.3f} ms (median predicted); profile + supernet "
             f"{s['profile_and_supernet_s']:.0f} s, fidelity {s['fidelity_s']:.0f} s, total {s['total_s']:.0f} s",
             f"stand-alone protocol: {s['fidelity']['train_s_per_network']:.1f} s per network"]
    for k, c in s["fidelity"]["correlations"].items():
        lines.append(f"  {k:<40} Kendall {c['kendall']:+.3f}  Spearman {c['spearman']:+.3f}")
    names = ("single-path", "anneal", "guided", "random")
    lines.append("seed  " + "  ".join(f"{n:>12}" for n in names) + "  random mean")
    for r in s["quality"]["seeds"]:
        lines.append(f"{r['seed']:>4}  " + "  ".join(f"{r[n]['test_top1']:>12.4f}" for n in names)
                     + f"  {r['random_mean']:>11.4f}")
    for n in names[:3]:
        rs = [r[n]["ri_vs_random_search"] for r in s["quality"]["seeds"]]
        rm = [r[n]["ri_vs_random_mean"] for r in s["quality"]["seeds"]]
        acc = [r[n]["test_top1"] - r["random"]["test_top1"] for r in s["quality"]["seeds"]]
        lines.append(f"{n}: {100 * np.mean(acc):+.2f} points vs random search; RI vs random search "
                     f"{', '.join(f'{v:+.2f}%' for v in rs)}; RI vs random mean {', '.join(f'{v:+.2f}%' for v in rm)}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
