"""The signals-against-truth benchmark's bookkeeping: only networks with every seed are judged, the
noise ceiling is seed against seed, and the report puts each signal beside it."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "fmnist_signals.py"
COLUMNS = "arch,seed,macs,val_top1,test_top1,train_images,epochs,train_s,cpu,tensorflow\n"


def _module():
    spec = importlib.util.spec_from_file_location("fmnist_signals", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_only_networks_with_every_seed_are_judged_and_the_ceiling_is_seed_against_seed(tmp_path):
    signals = _module()
    truth = tmp_path / "truth.csv"
    rows = [("a", 0, 0.70), ("a", 1, 0.72), ("b", 0, 0.80), ("b", 1, 0.79), ("c", 0, 0.75), ("c", 1, 0.70),
            ("d", 0, 0.60)]  # d lacks seed 1
    truth.write_text(COLUMNS + "".join(f"{a},{s},1,{v},{v},10,1,1.0,x,y\n" for a, s, v in rows))
    archs, acc = signals.read_truth(truth)
    assert archs == ["a", "b", "c"] and acc.shape == (3, 2)
    ceiling = signals.ranks_against(acc[:, 0], acc[:, 1])
    assert abs(ceiling["kendall"] - 1 / 3) < 1e-9  # a<c<b by seed 0; a>c by seed 1: one discordant pair of three
    doc = {"truth": str(truth), "networks": 3, "val_top1_range": [0.71, 0.795], "noise_ceiling": ceiling,
           "signals": {"params": signals.ranks_against(acc.mean(axis=1), np.array([1.0, 3.0, 2.0]))
                       | {"cost_s_per_network": 0.01}}}
    text = signals.report(doc)
    assert "noise ceiling (seed against seed): Kendall 0.333" in text
    assert "params" in text and "300%" in text  # Kendall 1.0 against a 0.333 ceiling
