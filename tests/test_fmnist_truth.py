"""The Fashion-MNIST truth table's bookkeeping: networks spread over the space's cost range, rows
appended one training at a time, a re-run skipping what is done, and the seed-to-seed agreement."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "fmnist_truth.py"


def _module():
    spec = importlib.util.spec_from_file_location("fmnist_truth", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_networks_span_the_cost_range_and_are_distinct():
    truth = _module()
    space, archs, macs = truth.networks(12)
    assert len(archs) == 12 and len({a.tobytes() for a in space.canonical(archs)}) == 12
    gaps = np.diff(np.sort(macs))
    assert gaps.max() < 1.5 * gaps.mean()  # evenly over the range, not bunched in its crowded middle
    assert not np.all(np.diff(macs) > 0)  # shuffled: a table cut short still spans the range
    again = truth.networks(12)
    assert np.array_equal(again[1], archs)  # the same networks on every run


def test_rows_append_resume_and_give_the_noise_ceiling(tmp_path):
    truth = _module()
    out = tmp_path / "truth.csv"
    accs = {"a": (0.70, 0.71), "b": (0.80, 0.79), "c": (0.75, 0.76), "d": (0.60, 0.62)}
    for arch, pair in accs.items():
        for seed, acc in enumerate(pair):
            truth.append(out, {"arch": arch, "seed": seed, "macs": 1, "val_top1": acc, "test_top1": acc,
                               "train_images": 10, "epochs": 1, "train_s": 1.0, "cpu": "x", "tensorflow": "y"})
    assert truth.done(out) == {(a, s) for a in accs for s in (0, 1)}
    assert "4 networks with seeds [0, 1]: seed-to-seed Kendall 1.000" in truth.agreement(out)


def test_a_fresh_clone_extends_the_shipped_table_instead_of_starting_over(tmp_path):
    truth = _module()
    shipped, out = tmp_path / "data" / "truth.csv", tmp_path / "runs" / "truth.csv"
    shipped.parent.mkdir()
    truth.append(shipped, {"arch": "a", "seed": 0, "macs": 1, "val_top1": 0.7, "test_top1": 0.7,
                           "train_images": 10, "epochs": 1, "train_s": 1.0, "cpu": "x", "tensorflow": "y"})
    assert truth.start_from(out, shipped) and truth.done(out) == {("a", 0)}
    truth.append(out, {"arch": "a", "seed": 1, "macs": 1, "val_top1": 0.7, "test_top1": 0.7,
                       "train_images": 10, "epochs": 1, "train_s": 1.0, "cpu": "x", "tensorflow": "y"})
    assert not truth.start_from(out, shipped)  # an existing run is never overwritten
    assert truth.done(out) == {("a", 0), ("a", 1)} and truth.done(shipped) == {("a", 0)}
