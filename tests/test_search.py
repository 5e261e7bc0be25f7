"""Search: spaces, the superkernel, signals, strategies and export, with real TF and LiteRT."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from edgelat.core.space_file import load_space_file
from edgelat.core.spaces import get_space
from edgelat.errors import EdgelatError, SearchError
from edgelat.predictors.architecture import ArchitecturePredictor
from edgelat.predictors.datasets import load_blocks
from edgelat.predictors.lut import LUTPredictor
from edgelat.search.plots import pareto_front
from edgelat.search.problem import Budget, Problem
from edgelat.search.signals import FlopsSignal, NasgraphSignal, NaswotSignal, ParamsSignal, SynflowSignal
from edgelat.search.strategies import RandomSearch, SimulatedAnnealing, SinglePathSearch
from edgelat.search.superkernel import decode_indicators, superkernel_plan
from edgelat.search.supernet import build_supernet

from conftest import run_cli

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def pixel1():
    """The ProxylessNAS Pixel 1 table priced over the Single-Path space at 224 px."""
    table = load_blocks(DATA / "pixel1_proxylessnas_lut.yaml")
    lut = LUTPredictor().fit(table.frame, table.y, fixed=table.fixed)
    space = get_space("single-path", 224, num_classes=10)
    return space, ArchitecturePredictor(space, lut)


def test_single_path_lut_anchor_figures(pixel1):
    space, ap = pixel1
    idx = {c.name: j for j, c in enumerate(space.layers[1].choices)}
    small = np.array([0] + [idx["k3_e3"]] * 20 + [0])
    big = np.array([0] + [idx["k5_e6"]] * 20 + [0])
    assert ap.predict(small[None])[0] == pytest.approx(78.3, abs=0.1)
    assert ap.predict(big[None])[0] > 130


@pytest.mark.parametrize("keep,k_big,e_big", list(itertools.product([False, True], repeat=3)))
def test_superkernel_decodes_every_indicator_combination(keep, k_big, e_big):
    space = get_space("single-path", 32, num_classes=10)
    with_skip, first = space.layers[3], space.layers[1]
    for layer in (with_skip, first):
        plan = superkernel_plan(layer)
        name = layer.choices[decode_indicators(plan, keep, k_big, e_big)].name
        if not keep and layer is with_skip:
            assert name == "skip"
        else:  # by name, so k3_e6 and k5_e3 can never be swapped
            assert name == f"k{5 if k_big else 3}_e{6 if e_big else 3}"


def test_superkernel_plan_refuses_spaces_without_the_grid():
    with pytest.raises(SearchError, match="k3_e1, k3_e1_g2"):
        superkernel_plan(get_space("fbnet").layers[0])


@pytest.mark.slow
def test_threshold_mode_computes_exactly_the_decoded_subnetwork():
    import tensorflow as tf

    space = get_space("single-path", 32, width=0.35, num_classes=10)
    net = build_supernet(space, seed=1)
    rng = np.random.default_rng(0)
    for t in net.thresholds():  # random decisions: log-norm ratios start at 0, thresholds around it
        t.assign(rng.uniform(-0.6, 0.6, 3).astype(np.float32))
    arch = net.decode()
    names = {space.layers[i].choices[j].name for i, j in enumerate(arch)}
    assert len(names) >= 3  # a mix of choices, not one everywhere
    x = tf.constant(rng.random((4, 32, 32, 3)).astype(np.float32))
    soft = net(x, threshold=True, training=False).numpy()
    net.choices.assign(arch.astype(np.int32))
    hard = net(x, training=False).numpy()
    np.testing.assert_allclose(soft, hard, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name,width", [("single-path", 0.35), ("fbnet", 0.25)])
def test_encode_decode_build_and_inherited_weights_round_trip(name, width):
    import tensorflow as tf

    from edgelat.core.builders import build_network
    from edgelat.search.weights import inherit_weights

    space = get_space(name, 32, width=width, num_classes=10)
    net = build_supernet(space, seed=2)
    archs = space.random(3, seed=5)
    if name == "fbnet":  # grouped convs and shape-changing skips must be in the sample
        archs[0, :] = 1  # k3_e1_g2 everywhere
        archs[1, :] = 8  # skip everywhere (1x1 convs where the shape changes)
    x = tf.constant(np.random.default_rng(1).random((2, 32, 32, 3)).astype(np.float32))
    for arch in archs:
        text = space.encode(arch)
        assert np.array_equal(space.decode(text), arch) and text.startswith(f"{name}:")
        model = build_network(space, arch)
        inherit_weights(model, net, arch)
        net.choices.assign(arch.astype(np.int32))
        np.testing.assert_allclose(model(x, training=False).numpy(), net(x, training=False).numpy(),
                                   rtol=1e-4, atol=1e-4)
        layer_names = {layer.name for layer in model.layers}
        assert {"stem_conv", "head_conv", "classifier"} <= layer_names
        assert all(n.startswith(("b", "stem", "head", "pool", "classifier", "input")) for n in layer_names)
    with pytest.raises(EdgelatError, match="expected"):
        space.decode("other:123")


def test_space_file_round_trip_and_errors(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("name: tiny\nresolution: 64\nnum_classes: 10\nstem: {channels: 16, stride: 2}\n"
                    "stages:\n  - {channels: 16, layers: 1, choices: [k3_e1]}\n"
                    "  - {channels: 24, layers: 3, stride: 2, choices: [k3_e3, k5_e6], skip: true}\n"
                    "head: 256\n")
    space = get_space(str(path))
    assert space.name == "tiny" and len(space.layers) == 4 and space.head_channels == 256
    assert [len(la.choices) for la in space.layers] == [1, 2, 3, 3]
    assert space.layers[1].stride == 2 and space.stem_hw == 32
    assert np.array_equal(space.decode(space.encode([0, 1, 2, 0])), [0, 1, 2, 0])
    assert load_space_file(path, resolution=96, width=0.5).layers[0].input_hw == 48
    path.write_text("name: tiny\nresolution: 64\nstem: {channels: 16}\nstages:\n  - {channels: 16, layers: 1, "
                    "choices: [k4_e1]}\nhead: 256\n")
    with pytest.raises(EdgelatError, match=r"tiny.yaml: stages\[0\]: choice 'k4_e1'"):
        get_space(str(path))
    path.write_text("name: tiny\nstem: {channels: 16}\nstages: []\nhead: 256\n")
    with pytest.raises(EdgelatError, match="tiny.yaml: top level: field 'resolution' is missing"):
        get_space(str(path))


@pytest.mark.slow
def test_proxies_score_and_rank_architectures():
    space = get_space("single-path", 32, width=0.35, num_classes=10)
    archs = space.random(4, seed=3)
    params = ParamsSignal(space).evaluate(archs)
    expected = [sum(la.params(la.choices[j]) for la, j in zip(space.layers, a, strict=True)) for a in archs]
    assert np.allclose(params, expected)
    assert (FlopsSignal(space).evaluate(archs) > 0).all()
    x = np.random.default_rng(0).random((32, 32, 32, 3)).astype(np.float32)
    for cls in (SynflowSignal, NaswotSignal, NasgraphSignal):
        scores = cls(space, x).evaluate(archs)
        assert np.isfinite(scores).all() and len(set(np.round(scores, 6))) > 1, cls.name


def test_every_strategy_respects_a_hard_budget(pixel1):
    space, ap = pixel1
    signal = ParamsSignal(space)
    for strategy in (RandomSearch(evaluations=200, seed=1), SimulatedAnnealing(steps=200, chains=16, seed=1)):
        problem = Problem(space, ap, signal, Budget(80.0))
        res = strategy.run(problem)
        assert res.latency_ms <= 80.0 and ap.predict(res.arch[None])[0] <= 80.0
        assert all(lat <= 80.0 for lat, _ in res.points), strategy.name
        assert res.score == pytest.approx(signal.evaluate(res.arch[None])[0])
    rnd = RandomSearch(evaluations=200, seed=1).run(Problem(space, ap, signal, Budget(80.0)))
    sa = SimulatedAnnealing(steps=200, chains=16, seed=1).run(Problem(space, ap, signal, Budget(80.0)))
    assert sa.score >= rnd.score  # on a smooth proxy annealing must beat uniform sampling
    with pytest.raises(SearchError, match=r"fastest architecture of the space is predicted at 31\.84 ms"):
        RandomSearch(evaluations=10).run(Problem(space, ap, signal, Budget(20.0)))
    with pytest.raises(SearchError, match="soft reward needs an accuracy signal"):
        Problem(space, ap, signal, Budget(80.0, "soft"))


@pytest.mark.slow
def test_single_path_strategy_respects_the_budget(pixel1):
    from edgelat.search.data import load_digits

    space224, ap = pixel1
    space = get_space("single-path", 32, width=0.35, num_classes=10)
    data = load_digits(32)
    net = build_supernet(space, seed=0)
    problem = Problem(get_space("single-path", 224, width=0.35, num_classes=10), ap, ParamsSignal(space), Budget(75.0))
    res = SinglePathSearch(net, data, ap.table, ap.constant, epochs=1).run(problem)
    assert res.latency_ms <= 75.0 and res.history and "lambda" in res.history[-1]
    assert any("superkernel" in line for line in res.log)


def test_pareto_front():
    pts = [(1.0, 0.5), (2.0, 0.4), (2.0, 0.7), (3.0, 0.6), (4.0, 0.9)]
    assert pareto_front(pts).tolist() == [[1.0, 0.5], [2.0, 0.7], [4.0, 0.9]]


@pytest.mark.slow
def test_search_cli_exports_int8_that_runs_in_litert(tmp_path, pixel1):
    """The whole command: supernet signal, anneal, random baseline, RI, export, LiteRT check, deploy."""
    model = tmp_path / "lin.json"
    assert run_cli("fit", "--table", str(DATA / "pixel1_mbconv.csv"), "--kind", "linear", "--cv", "0",
                   "-o", str(model)).returncode == 0
    out = tmp_path / "out"
    env = {"EDGELAT_CACHE_DIR": str(tmp_path / "cache")}
    args = ["search", "--space", "single-path", "--device", "pixel1", "--predictor", str(model), "--target-ms", "3",
            "--resolution", "32", "--width", "0.35", "--strategy", "anneal", "--supernet-epochs", "2",
            "--evaluations", "16", "--ri-samples", "2", "--out", str(out), "--seed", "3", "--json"]
    res = run_cli(*args, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads(res.stdout)
    assert {"arch", "predicted_ms", "accuracy", "accuracy_signal", "strategy", "files"} <= set(doc)
    assert doc["predicted_ms"] <= 3.0 and doc["accuracy_signal"] == "supernet" and doc["strategy"] == "anneal"
    assert doc["random_baseline"]["predicted_ms"] <= 3.0
    ri = doc["relative_improvement"]
    assert "ri_vs_random_search" in ri and "ri_vs_random_sampling" in ri
    check = doc["export_check"]
    assert check["samples"] > 100 and 0 <= check["int8_agreement_with_keras"] <= 1
    assert check["fp32_agreement_with_keras"] > 0.97  # fp32 TFLite computes what Keras computes
    for key in ("keras", "fp32", "int8", "plot", "arch", "int8_sidecar"):
        assert Path(doc["files"][key]).is_file(), key
    assert Path(doc["files"]["plot"]).read_bytes()[:4] == b"\x89PNG"
    arch = json.loads((out / "arch.json").read_text())
    assert arch["arch"] == doc["arch"] and arch["log"] and arch["constraint"]["target_ms"] == 3.0
    # Reproducible with --seed: the same command (supernet now cached) finds the same network.
    again = run_cli(*[a if a != str(out) else str(tmp_path / "again") for a in args[:-1]], "--no-export", env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((tmp_path / "again" / "arch.json").read_text())["arch"] == doc["arch"]
    # The int8 file deploys on this CPU; its sidecar has no prediction (the search priced fp32).
    dep = run_cli("deploy", doc["files"]["int8"], "--device", "host", "--json")
    assert dep.returncode == 0, dep.stderr[-2000:]
    d = json.loads(dep.stdout)
    assert d["measured_ms"] > 0 and d["predicted_ms"] is None


@pytest.mark.slow
def test_search_cli_bad_input_is_one_line(tmp_path):
    res = run_cli("search", "--target-ms", "80", "--out", str(tmp_path), "--device", "pixel1")
    assert res.returncode == 2 and "--predictor" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = run_cli("search", "--target-ms", "-1", "--out", str(tmp_path))
    assert res.returncode == 2 and "--target-ms" in res.stderr


def test_anneal_with_an_evaluation_budget_spends_exactly_it(pixel1):
    """With a costly signal annealing is compared at equal new evaluations with random search."""
    space, ap = pixel1

    class Counting(ParamsSignal):
        vectorised = False

    problem = Problem(space, ap, Counting(space), Budget(80.0))
    res = SimulatedAnnealing(steps=10, chains=4, seed=2, evaluations=60).run(problem)
    assert 60 <= res.evaluations <= 63  # the budget includes the initial chains; the last step may overshoot
    assert res.latency_ms <= 80.0 and len(res.history) > 15  # revisits made it run past 10 steps


def test_fit_model_reports_every_step_to_the_progress():
    """The heartbeat of a fine-tune at the deployment resolution (it ran minutes with no line before)."""
    import keras

    from edgelat.search.training import fit_model

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    x, y = np.random.default_rng(0).normal(size=(64, 4)).astype("float32"), np.arange(64) % 3
    seen = []
    fit_model(model, x, y, epochs=2, batch=32, lr=1e-3, seed=0, progress=lambda d, t, info: seen.append((d, t)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
