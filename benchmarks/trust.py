"""Predictions a user can trust (issue #16): default fits, intervals, transfer draws, suggested samples.

1. `fit`'s default on HW-NAS-Bench's FBNet networks (Essential Ph-1, Samsung S7, Pixel 3, Raspberry
   Pi 4) at n = 10, 100, 1,000: held-out Spearman and ±10%, the prior each run chose, beside the old
   default (no prior) and the default given another device's full model as a candidate prior.
2. Coverage and width of the stored 90% interval on held-out rows: blocks (Pixel 1/4, gbdt and
   linear, 10% and 70% training), networks (the default fit), transfer (k = 10).
3. Transfer from the shipped Pixel 1 / Pixel 4 tables with 10 target blocks: 5 draws, mean and worst.
4. ±10% accuracy as networks are added 10 at a time, suggested (edgelat suggest) vs random.

Usage: python benchmarks/trust.py [--draws 5] [--only fits|intervals|transfer|suggest] [--plots benchmarks/out]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from edgelat.core.spaces import get_space
from edgelat.predictors import metrics
from edgelat.predictors.datasets import load_blocks, load_networks
from edgelat.predictors.evaluation import out_of_fold
from edgelat.predictors.gbdt import GBDTPredictor
from edgelat.predictors.intervals import conformal
from edgelat.predictors.layerwise import LayerwisePredictor
from edgelat.predictors.linear import LinearPredictor
from edgelat.predictors.selection import choose_layerwise, default_priors
from edgelat.predictors.suggest import suggest
from edgelat.predictors.transfer import TransferPredictor

DATA = Path(__file__).resolve().parent.parent / "data"
TARGETS = {"essential_ph_1_ms": "samsung_s7_ms", "samsung_s7_ms": "essential_ph_1_ms", "pixel3_ms": "raspi4_ms",
           "raspi4_ms": "pixel3_ms"}  # target -> the other device whose full model is offered as a prior


def split(n_train: int, seed: int, n: int):
    idx = np.random.default_rng(seed).permutation(n)
    return idx[:n_train], idx[n_train:]


def fit_default(A, y, models=None):
    """What `edgelat fit --space fbnet` does (with --prior auto --prior OTHER.json when `models`)."""
    choice = choose_layerwise("fbnet", A, y, default_priors(models))
    c = choice.chosen
    make = lambda: LayerwisePredictor(space="fbnet", prior=c.prior, corrections=c.corrections)  # noqa: E731
    interval = conformal(y, out_of_fold(make, A, y, 5)) if len(y) >= 10 else None
    return make().fit(A, y), c.label, interval


def fmt(cells: list[tuple[float, float]]) -> str:
    """'mean Spearman / mean ±10% (worst Spearman)' of (Spearman, ±10%) pairs."""
    rho = [a for a, _ in cells]
    return f"{np.mean(rho):.3f} / {np.mean([b for _, b in cells]):.1%} (worst {min(rho):.3f})"


def networks(draws: int) -> dict:
    space = get_space("fbnet")
    nets = {col: load_networks(DATA / "fbnet_5000_networks.csv", space, col) for col in TARGETS}
    full = {col: LayerwisePredictor(space="fbnet").fit(n.archs, n.y) for col, n in nets.items()}
    print("\n1) fit's default on FBNet networks: held-out Spearman / ±10% (mean of draws; worst Spearman)\n")
    print("| target, n | old default (no prior) | default (chosen prior) | default + other device's model | "
          "priors chosen | 90% interval: coverage, width |")
    print("|---|---|---|---|---|---|")
    coverage = {}
    for col, other in TARGETS.items():
        A, y = nets[col].archs, nets[col].y
        for n in (10, 100, 1000):
            cells = {"old": [], "auto": [], "other": []}
            chosen, cov = Counter(), []
            for seed in range(draws if n < 1000 else min(draws, 3)):
                tr, te = split(n, seed, len(y))
                old = LayerwisePredictor(space="fbnet").fit(A[tr], y[tr])
                auto, label, interval = fit_default(A[tr], y[tr])
                with_other, _, _ = fit_default(A[tr], y[tr], {other.removesuffix("_ms"): full[other]})
                for key, m in (("old", old), ("auto", auto), ("other", with_other)):
                    r = metrics.report(y[te], m.predict(A[te]))
                    cells[key].append((r["spearman"], r["acc10"]))
                chosen[label] += 1
                if interval is not None:
                    cov.append((interval.covers(y[te], auto.predict(A[te])).mean(), interval.width, interval.capped))
            cv_text = (f"{np.mean([c for c, _, _ in cov]):.1%}, ±{np.mean([w for _, w, _ in cov]) / 2:.1%}"
                       + (" (capped: few rows)" if any(cap for *_, cap in cov) else "")) if cov else "–"
            coverage[(col, n)] = cov
            print(f"| {col.removesuffix('_ms')}, {n} | {fmt(cells['old'])} | {fmt(cells['auto'])} | "
                  f"{fmt(cells['other'])} | {', '.join(f'{k} ×{v}' for k, v in chosen.items() if v)} | {cv_text} |")
    return coverage


def block_intervals(draws: int) -> None:
    print("\n2) 90% intervals of block predictors on held-out blocks: coverage (min–max over draws), width ±\n")
    print("| table, training share | gbdt | linear |")
    print("|---|---|---|")
    for dev in ("pixel1", "pixel4"):
        d = load_blocks(DATA / f"{dev}_mbconv.csv")
        for frac in (0.1, 0.7):
            cells = []
            for kind in (GBDTPredictor, LinearPredictor):
                cov = []
                for seed in range(draws):
                    tr, te = split(int(frac * len(d.y)), seed, len(d.y))
                    X, y = d.frame.iloc[tr], d.y[tr]
                    iv = conformal(y, out_of_fold(kind, X, y, 5))
                    cov.append((iv.covers(d.y[te], kind().fit(X, y).predict(d.frame.iloc[te])).mean(), iv.width))
                c = [a for a, _ in cov]
                cells.append(f"{np.mean(c):.1%} ({min(c):.1%}–{max(c):.1%}), ±{np.mean([w for _, w in cov]) / 2:.1%}")
            print(f"| {dev}, {frac:.0%} | " + " | ".join(cells) + " |")


def transfer(draws: int) -> None:
    print("\n3) transfer with 10 target blocks: ±10% on the rest, per draw; 90% interval coverage\n")
    print("| source → target | shrinkage chosen by CV: mean (worst) | fixed shrinkage 3: mean (worst) | "
          "interval coverage, width ± |")
    print("|---|---|---|---|")
    p1, p4 = load_blocks(DATA / "pixel1_mbconv.csv"), load_blocks(DATA / "pixel4_mbconv.csv")
    for (sname, s), (tname, t) in ((("pixel1", p1), ("pixel4", p4)), (("pixel4", p4), ("pixel1", p1))):
        source = GBDTPredictor().fit(s.frame, s.y)
        acc = {"auto": [], "fixed": []}
        cov = []
        for seed in range(draws):
            tr, te = split(10, seed, len(t.y))
            for key, sp in (("auto", None), ("fixed", 3.0)):
                m = TransferPredictor(source=source, slope_prior=sp).fit(t.frame.iloc[tr], t.y[tr])
                acc[key].append(metrics.acc_within(t.y[te], m.predict(t.frame.iloc[te]), 0.1))
            make = lambda source=source: TransferPredictor(source=source)  # noqa: E731
            iv = conformal(t.y[tr], out_of_fold(make, t.frame.iloc[tr], t.y[tr], 5))
            m = make().fit(t.frame.iloc[tr], t.y[tr])
            cov.append((iv.covers(t.y[te], m.predict(t.frame.iloc[te])).mean(), iv.width))
        print(f"| {sname} → {tname} | {np.mean(acc['auto']):.1%} ({min(acc['auto']):.1%}) | "
              f"{np.mean(acc['fixed']):.1%} ({min(acc['fixed']):.1%}) | "
              f"{np.mean([c for c, _ in cov]):.1%}, ±{np.mean([w for _, w in cov]) / 2:.1%} |")


def suggested_vs_random(draws: int, plots: Path | None, top: int = 60, step: int = 10) -> None:
    """From 10 random networks to `top`: `step` more at a time, random or suggested from a pool of 2,000."""
    print(f"\n4) ±10% on the rest as networks are added {step} at a time (mean of {draws} draws), default fit\n")
    means = {}
    space = get_space("fbnet")
    curves = {}
    for col in TARGETS:
        nets = load_networks(DATA / "fbnet_5000_networks.csv", space, col)
        A, y = nets.archs, nets.y
        for how in ("random", "suggested"):
            runs = []
            for seed in range(draws):
                idx = list(split(10, seed, len(y))[0])
                rng, curve = np.random.default_rng(100 + seed), []
                while True:
                    model, _, _ = fit_default(A[idx], y[idx])
                    rest = np.setdiff1d(np.arange(len(y)), idx)
                    curve.append(metrics.acc_within(y[rest], model.predict(A[rest]), 0.1))
                    if len(idx) >= top:
                        break
                    if how == "random":
                        idx += list(rng.choice(rest, step, replace=False))
                    else:
                        pool = np.random.default_rng(7 + len(idx) + 1000 * seed).choice(rest, 2000, replace=False)
                        picked, _ = suggest(model, A[idx], A[pool], step)
                        idx += list(pool[picked])
                runs.append(curve)
            curves[(col, how)] = np.mean(runs, axis=0)
            means[(col, how)] = float(np.mean(np.array(runs)[:, 1:]))
        sizes = list(range(10, top + 1, step))
        print(f"{col.removesuffix('_ms'):<16} n      " + " ".join(f"{s:>6}" for s in sizes))
        for how in ("random", "suggested"):
            print(f"{'':<16} {how:<9}" + " ".join(f"{v:>6.1%}" for v in curves[(col, how)])
                  + f"   mean over {sizes[1]}-{top}: {means[(col, how)]:.2%}")
    if plots:
        _plot(curves, plots / "suggested_vs_random.png", top, step)


def _plot(curves, path: Path, top: int, step: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TARGETS), figsize=(14, 3.4), dpi=110)
    sizes = list(range(10, top + 1, step))
    for ax, col in zip(axes, TARGETS, strict=True):
        for how, style in (("random", "--"), ("suggested", "-")):
            ax.plot(sizes, curves[(col, how)] * 100, style, marker="o", ms=3, label=how)
        ax.set(title=col.removesuffix("_ms"), xlabel="measured networks", ylabel="±10% accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--suggest-draws", type=int, default=8, help="draws of part 4 (its differences are small)")
    ap.add_argument("--only", choices=["fits", "intervals", "transfer", "suggest"])
    ap.add_argument("--plots", type=Path, default=Path("benchmarks/out"))
    args = ap.parse_args()
    if args.only in (None, "fits"):
        networks(args.draws)
    if args.only in (None, "intervals"):
        block_intervals(args.draws)
    if args.only in (None, "transfer"):
        transfer(args.draws)
    if args.only in (None, "suggest"):
        suggested_vs_random(args.suggest_draws, args.plots)


if __name__ == "__main__":
    main()
