"""Predictor accuracy and speed on the shipped real tables; prints the README's tables.

Every figure is a mean over 5 random splits, beside three baselines fitted on the same
split: FLOPs only (log-log fit on MACs), params only, and plain xgboost on log latency.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from edgelat.core.spaces import get_space
from edgelat.predictors import metrics
from edgelat.predictors.architecture import ArchitecturePredictor
from edgelat.predictors.base import LatencyPredictor
from edgelat.predictors.datasets import load_blocks, load_networks
from edgelat.predictors.evaluation import plot_predictions
from edgelat.predictors.features import params, total_macs
from edgelat.predictors.gbdt import GBDTPredictor
from edgelat.predictors.layerwise import LayerwisePredictor, prior_costs
from edgelat.predictors.linear import LinearPredictor
from edgelat.predictors.lut import LUTPredictor
from edgelat.predictors.transfer import TransferPredictor

DATA = Path(__file__).resolve().parent.parent / "data"
SPLITS = 5


class OneFeature(LatencyPredictor):
    """Baseline: log latency linear in the log of one size measure (FLOPs or params)."""

    kind = "one-feature"

    def __init__(self, measure=None):
        self.measure = measure

    def fit(self, X, y):
        self.coef_ = np.polyfit(np.log(self.measure(X) + 1), np.log(y), 1)
        self.n_train_ = len(y)
        return self

    def predict(self, X):
        return np.exp(np.polyval(self.coef_, np.log(self.measure(X) + 1)))


def _net_measure(kind):
    space = get_space("fbnet")
    table = np.nan_to_num(prior_costs(space, kind))
    return lambda A: table[np.arange(A.shape[1]), A].sum(axis=1)


class OneHotXGB(LatencyPredictor):
    kind = "onehot-xgb"

    def fit(self, A, y):
        import xgboost

        self.m_ = xgboost.XGBRegressor(n_estimators=300, max_depth=4, learning_rate=0.05, n_jobs=1)
        self.m_.fit(self._x(A), np.log(y))
        self.n_train_ = len(y)
        return self

    def _x(self, A):
        out = np.zeros((len(A), A.shape[1] * 9))
        out[np.arange(len(A))[:, None], np.arange(A.shape[1]) * 9 + A] = 1
        return out

    def predict(self, A):
        return np.exp(self.m_.predict(self._x(A)))


def take(X, idx):
    return X.iloc[idx] if hasattr(X, "iloc") else X[idx]


def evaluate(make, X, y, n_train, seed, X_test=None, y_test=None):
    idx = np.random.default_rng(seed).permutation(len(y))
    tr, te = idx[:n_train], idx[n_train:]
    model = make().fit(take(X, tr), y[tr])
    return metrics.report(y[te], model.predict(take(X, te))), model, te


def row(name, makes, X, y, n_train):
    cells = []
    for make in makes:
        reps = [evaluate(make, X, y, n_train, s)[0] for s in range(SPLITS)]
        cells.append((np.mean([r["acc10"] for r in reps]), np.mean([r["spearman"] for r in reps])))
    return name, cells


def print_table(title, header, rows, fmt):
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, cells in rows:
        print(f"| {name} | " + " | ".join(fmt(c) for c in cells) + " |")


def block_tables(plot_dir: Path | None) -> None:
    makes = [GBDTPredictor, LinearPredictor, lambda: OneFeature(lambda X: total_macs(X)),
             lambda: OneFeature(lambda X: params(X)), lambda: GBDTPredictor(base=None)]
    header = ["device, train share", "edgelat gbdt (hybrid)", "edgelat linear", "FLOPs only", "params only",
              "plain xgboost"]
    for frac in (0.1, 0.7):
        rows = []
        for dev in ("pixel1", "pixel4"):
            d = load_blocks(DATA / f"{dev}_mbconv.csv")
            rows.append(row(f"{dev}, {frac:.0%} train", makes, d.frame, d.y, int(frac * len(d.y))))
            if plot_dir and frac == 0.1:
                rep, model, te = evaluate(GBDTPredictor, d.frame, d.y, int(frac * len(d.y)), 0)
                plot_predictions(d.y[te], model.predict(d.frame.iloc[te]), plot_dir / f"blocks_{dev}_10pct.png",
                                 f"{dev}: hybrid gbdt trained on 10% of 1,788 blocks")
        print_table(f"Blocks: ±10% accuracy, {frac:.0%} train / {1 - frac:.0%} test (mean of {SPLITS} splits)",
                    header, rows, lambda c: f"{c[0]:.1%}")


def transfer_table() -> None:
    rows = []
    for src, tgt in (("pixel1", "pixel4"), ("pixel4", "pixel1")):
        s, t = load_blocks(DATA / f"{src}_mbconv.csv"), load_blocks(DATA / f"{tgt}_mbconv.csv")
        source = GBDTPredictor().fit(s.frame, s.y)
        makes = [lambda source=source: TransferPredictor(source=source),
                 lambda source=source: TransferPredictor(source=source, slope_prior=1e9),
                 lambda: OneFeature(lambda X: total_macs(X)), lambda: OneFeature(lambda X: params(X)),
                 lambda: GBDTPredictor(base=None)]
        rows.append(row(f"{src} → {tgt}, k = 10", makes, t.frame, t.y, 10))
    print_table(f"Transfer: full source table + k = 10 target blocks, ±10% accuracy on the rest (mean of {SPLITS})",
                ["source → target", "edgelat transfer", "scale only", "FLOPs only (k)", "params only (k)",
                 "plain xgboost (k)"], rows, lambda c: f"{c[0]:.1%}")


def network_table() -> None:
    space = get_space("fbnet")
    p3 = LayerwisePredictor(space="fbnet").fit(*_net(space, "pixel3_ms"))
    rows = []
    for target in ("essential_ph_1_ms", "samsung_s7_ms"):
        A, y = _net(space, target)
        ceiling = metrics.report(y, LayerwisePredictor(space="fbnet", alpha=1e-3).fit(A, y).predict(A))
        for n in (10, 100, 1000):
            makes = [lambda: LayerwisePredictor(space="fbnet", prior="flops"),
                     lambda: LayerwisePredictor(space="fbnet", prior=p3),
                     lambda: OneFeature(_net_measure("flops")), lambda: OneFeature(_net_measure("params")),
                     OneHotXGB]
            rows.append(row(f"{target.removesuffix('_ms')}, n = {n}", makes, A, y, n))
        rows.append((f"{target.removesuffix('_ms')}: additive model fitted in-sample on all 5,000",
                     [(ceiling["acc10"], ceiling["spearman"])] + [(np.nan, np.nan)] * 4))
    print_table(f"Whole networks (FBNet space): Spearman / ±10% accuracy on the held-out rest (mean of {SPLITS})",
                ["target, training networks", "edgelat layer-wise LUT, FLOPs prior",
                 "edgelat layer-wise LUT, Pixel 3 table prior", "FLOPs only", "params only", "plain xgboost"],
                rows, lambda c: "–" if np.isnan(c[0]) else f"{c[1]:.3f} / {c[0]:.1%}")


def _net(space, target):
    nets = load_networks(DATA / "fbnet_5000_networks.csv", space, target)
    return nets.archs, nets.y


def speed_table(n: int) -> None:
    space = get_space("single-path")
    archs = space.random(n, seed=0)
    lut_data = load_blocks(DATA / "pixel1_proxylessnas_lut.yaml")
    lut = LUTPredictor().fit(lut_data.frame, lut_data.y, fixed=lut_data.fixed)
    blocks = load_blocks(DATA / "pixel1_mbconv.csv")
    models = {"lut (ProxylessNAS Pixel 1 table)": lut, "linear": LinearPredictor().fit(blocks.frame, blocks.y),
              "gbdt": GBDTPredictor().fit(blocks.frame, blocks.y)}
    print(f"\n### Speed: batch prediction of {n:,} random Single-Path architectures (22 layers)\n")
    print("| predictor | cost-table build | architectures / s |")
    print("|---|---|---|")
    for name, model in models.items():
        t0 = time.perf_counter()
        ap = ArchitecturePredictor(space, model)
        build = time.perf_counter() - t0
        ap.predict(archs[:1000])
        t0 = time.perf_counter()
        lat = ap.predict(archs)
        rate = n / (time.perf_counter() - t0)
        assert np.all(np.isfinite(lat)) and np.all(lat > 0)
        print(f"| {name} | {build * 1e3:.1f} ms | {rate:,.0f} |")
    sp_lut = ArchitecturePredictor(space, lut)
    k3e3 = sp_lut.predict(np.zeros((1, len(space.layers)), dtype=int))[0]
    print(f"\nProxylessNAS Pixel 1 table: the all-k3-e3 Single-Path network sums to {k3e3:.1f} ms.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plots", type=Path, default=Path("benchmarks/out"), help="where to write PNGs")
    ap.add_argument("--speed-n", type=int, default=1_000_000)
    ap.add_argument("--only", choices=["blocks", "transfer", "networks", "speed"])
    args = ap.parse_args()
    pd.set_option("display.width", 200)
    if args.only in (None, "blocks"):
        block_tables(args.plots)
    if args.only in (None, "transfer"):
        transfer_table()
    if args.only in (None, "networks"):
        network_table()
    if args.only in (None, "speed"):
        speed_table(args.speed_n)


if __name__ == "__main__":
    main()
