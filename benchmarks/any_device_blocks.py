"""Blocks of a phone never seen, from k measured blocks: the physical basis fitted on them, alone and
stacked with another phone's table, beside edgelat's few-shot transfer, leaving one phone out.

Uses the shipped nn-Meter block tables (Pixel 1 and Pixel 4, the same 1,788 blocks). For each phone held
out, k random blocks are "measured" (5 draws); the rest are the test. Prints Spearman and the ±10%
share for: the basis alone (no other device), the basis stacked with the other phone's latencies, and
`TransferPredictor` from a gbdt fitted on the other phone. `--smoke`: 1 draw.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from edgelat.predictors import metrics
from edgelat.predictors.basis import block_terms, fit_stack
from edgelat.predictors.datasets import load_blocks
from edgelat.predictors.gbdt import GBDTPredictor
from edgelat.predictors.transfer import TransferPredictor

DATA = Path(__file__).resolve().parent.parent / "data"
PHONES = {"pixel1": DATA / "pixel1_mbconv.csv", "pixel4": DATA / "pixel4_mbconv.csv"}


def predict_stack(columns: np.ndarray, y: np.ndarray, train: np.ndarray) -> np.ndarray:
    coef, const = fit_stack(columns[train], y[train])
    return columns @ coef + const


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    draws = 1 if args.smoke else args.draws
    tables = {name: load_blocks(path) for name, path in PHONES.items()}
    terms = block_terms(tables["pixel1"].frame)
    print(f"k = {args.k} measured blocks of the held-out phone, {draws} draws: Spearman / ±10% (mean)")
    for held, other in (("pixel4", "pixel1"), ("pixel1", "pixel4")):
        y, y_other = tables[held].y, tables[other].y
        source = GBDTPredictor().fit(tables[other].frame, y_other)
        scores: dict[str, list] = {"basis alone": [], "basis + other phone": [], "transfer (gbdt source)": []}
        for draw in range(draws):
            idx = np.random.default_rng(draw).permutation(len(y))
            train, test = idx[:args.k], idx[args.k:]
            preds = {"basis alone": predict_stack(terms, y, train),
                     "basis + other phone": predict_stack(np.column_stack([terms, y_other]), y, train)}
            transfer = TransferPredictor(source=source).fit(tables[held].frame.iloc[train], y[train])
            preds["transfer (gbdt source)"] = transfer.predict(tables[held].frame)
            for name, pred in preds.items():
                r = metrics.report(y[test], pred[test])
                scores[name].append((r["spearman"], r["acc10"]))
        cells = ", ".join(f"{n} {np.mean([s for s, _ in v]):.3f} / {np.mean([a for _, a in v]):.0%}"
                          for n, v in scores.items())
        print(f"{held} (other: {other}): {cells}")


if __name__ == "__main__":
    main()
