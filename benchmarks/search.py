"""Search benchmark: annealing throughput, the demo's search wall time, RI over random,
predicted-vs-measured on this CPU, and each proxy's rank correlation with short training.

    python benchmarks/search.py [--skip-demo] [--skip-proxies] [--proxy-archs 12]

Targets (issue 5): >= 10,000 annealing candidates/s with the LUT predictor; the demo's
single-path search on digits <= 10 min on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

DATA = Path(__file__).resolve().parent.parent / "data"


def throughput() -> None:
    from edgelat.core.spaces import get_space
    from edgelat.predictors.architecture import ArchitecturePredictor
    from edgelat.predictors.datasets import load_blocks
    from edgelat.predictors.lut import LUTPredictor
    from edgelat.search.problem import Budget, Problem
    from edgelat.search.signals import ParamsSignal
    from edgelat.search.strategies import RandomSearch, SimulatedAnnealing

    table = load_blocks(DATA / "pixel1_proxylessnas_lut.yaml")
    space = get_space("single-path", 224, num_classes=1000)
    ap = ArchitecturePredictor(space, LUTPredictor().fit(table.frame, table.y, fixed=table.fixed))
    for chains in (8, 64):
        problem = Problem(space, ap, ParamsSignal(space), Budget(80.0))
        t0 = time.perf_counter()
        res = SimulatedAnnealing(steps=2000, chains=chains, seed=0).run(problem)
        dt = time.perf_counter() - t0
        print(f"anneal, {chains:>2} chains x 2000 steps: {problem.candidates:,} candidates in {dt:.2f} s = "
              f"{problem.candidates / dt:,.0f} candidates/s (target >= 10,000); best {res.latency_ms:.2f} ms")
    problem = Problem(space, ap, ParamsSignal(space), Budget(80.0))
    t0 = time.perf_counter()
    RandomSearch(evaluations=20000, seed=0).run(problem)
    dt = time.perf_counter() - t0
    print(f"random: {problem.candidates:,} candidates in {dt:.2f} s = {problem.candidates / dt:,.0f}/s")


def demo() -> None:
    """The demo, with a cold supernet cache, so its wall time includes training the supernet."""
    from edgelat.core.progress import NullProgress
    from edgelat.demo import run_demo

    cache = tempfile.mkdtemp(prefix="edgelat-bench-cache-")
    os.environ["EDGELAT_CACHE_DIR"] = cache
    out = Path(tempfile.mkdtemp(prefix="edgelat-bench-demo-"))

    class Times(NullProgress):
        def __init__(self):
            self.t = {}
            self.name = None
            self.start = time.perf_counter()

        def note(self, message):
            print(message, flush=True)

        def phase(self, name, total):
            now = time.perf_counter()
            if self.name:
                self.t[self.name] = self.t.get(self.name, 0.0) + now - self.start
            self.name, self.start = name, now

    rep = Times()
    t0 = time.perf_counter()
    res = run_demo(out / "demo", out / "demo.sqlite", rep)
    rep.phase("end", 0)
    total = time.perf_counter() - t0
    host, p1 = res["host"], res["pixel1"]
    train = sum(v for k, v in rep.t.items() if k.startswith("training the supernet"))
    sp = sum(v for k, v in rep.t.items() if k.startswith("single-path search"))
    print(f"\ndemo total {total:.0f} s; supernet training {train:.0f} s + single-path search {sp:.0f} s = "
          f"{train + sp:.0f} s for the demo's single-path search on digits (target <= 600 s); "
          f"host leg run_search {host['wall_s']:.0f} s, Pixel 1 leg {p1['wall_s']:.0f} s")
    for name, doc in (("host single-path", host), ("Pixel 1 anneal", p1)):
        ri = doc["relative_improvement"]
        print(f"{name}: {doc['arch']} {doc['predicted_ms']:.3f} ms predicted; test top-1 {ri['method']:.4f}; "
              f"random search {ri.get('random_search', float('nan')):.4f} (RI {ri.get('ri_vs_random_search', 0):+.2f}%)"
              f"; random sampling mean {ri.get('random_sampling_mean', float('nan')):.4f} "
              f"(RI {ri.get('ri_vs_random_sampling', 0):+.2f}%)")
    print(f"host: exported int8 predicted {host['predicted_ms']:.3f} ms, measured {host['measured_ms']:.3f} ms, "
          f"error {host['error_pct']:+.1f}%")
    c = host["export_check"]
    print(f"host export: int8 top-1 {c['int8_top1']:.3f}, agreement with Keras {c['int8_agreement_with_keras']:.3f}; "
          f"Pixel 1 export (224 px, fine-tuned 1 epoch): int8 top-1 {p1['export_check']['int8_top1']:.3f}, "
          f"agreement {p1['export_check']['int8_agreement_with_keras']:.3f}")


def proxies(n_archs: int, epochs: int) -> None:
    """Spearman and Kendall of each signal against short-trained test accuracy."""
    from edgelat.core.progress import NullProgress
    from edgelat.core.spaces import get_space
    from edgelat.search import signals as sig
    from edgelat.search.data import load_digits
    from edgelat.search.workflow import supernet_for

    data = load_digits(32)
    space = get_space("single-path", 32, num_classes=10)
    archs = space.random(n_archs, seed=11)
    t0 = time.perf_counter()
    truth = np.array([sig.short_train(space, a, data, epochs, seed=0, split="test")[1] for a in archs])
    print(f"\nshort training ({epochs} epochs) of {n_archs} random architectures: {time.perf_counter() - t0:.0f} s, "
          f"test top-1 {truth.min():.3f}-{truth.max():.3f}")
    net = supernet_for(space, data, 30, 0, NullProgress())
    signals = {"params": sig.ParamsSignal(space), "flops": sig.FlopsSignal(space),
               "synflow": sig.SynflowSignal(space, data.x_train), "naswot": sig.NaswotSignal(space, data.x_train),
               "nasgraph": sig.NasgraphSignal(space, data.x_train),
               "supernet": sig.SupernetSignal(net, data.x_val, data.y_val)}
    for name, s in signals.items():
        t0 = time.perf_counter()
        scores = s.evaluate(archs)
        dt = (time.perf_counter() - t0) / n_archs
        rho, tau = spearmanr(scores, truth)[0], kendalltau(scores, truth)[0]
        print(f"{name:>9}: Spearman {rho:+.3f}, Kendall {tau:+.3f} ({dt * 1000:.0f} ms per architecture)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument("--skip-proxies", action="store_true")
    ap.add_argument("--proxy-archs", type=int, default=12)
    ap.add_argument("--proxy-epochs", type=int, default=8)
    args = ap.parse_args()
    throughput()
    if not args.skip_demo:
        demo()
    if not args.skip_proxies:
        proxies(args.proxy_archs, args.proxy_epochs)


if __name__ == "__main__":
    main()
