"""Pareto fronts, exact hypervolume, and fleet searches on NAS-Bench-Macro's measured accuracies."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edgelat.core.spaces import get_space
from edgelat.devices.catalog import get_device
from edgelat.errors import SearchError
from edgelat.predictors.layerwise import LayerwisePredictor
from edgelat.predictors.mcu import McuPredictor
from edgelat.search.accuracy_table import TableSignal
from edgelat.search.fleet import DeviceTarget, FleetProblem
from edgelat.search.front_search import FRONT_SEARCHES
from edgelat.search.pareto import hypervolume, nondominated
from edgelat.search.problem import Constraint

from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent


def test_nondominated_keeps_exactly_the_points_nothing_beats():
    F = np.random.default_rng(0).integers(0, 6, (200, 3)).astype(float)
    keep = nondominated(F)
    for i, row in enumerate(F):
        beaten = np.any(np.all(F <= row, axis=1) & np.any(F < row, axis=1))
        assert keep[i] == (not beaten and not any(np.array_equal(F[j], row) for j in range(i) if keep[j]))


def test_hypervolume_by_hand_and_against_pymoo():
    assert hypervolume(np.array([[1, 3], [2, 2], [3, 1]]), np.array([4, 4])) == pytest.approx(6.0)
    assert hypervolume(np.array([[1, 1, 1]]), np.array([2, 3, 4])) == pytest.approx(1 * 2 * 3)
    assert hypervolume(np.array([[5, 0]]), np.array([4, 4])) == 0.0  # outside the box adds nothing
    hv = pytest.importorskip("pymoo.indicators.hv")
    rng = np.random.default_rng(1)
    for d in (2, 3, 4):
        X = rng.random((400, d))
        F = X / np.linalg.norm(X, axis=1, keepdims=True)
        F = F[nondominated(F)][:120]
        ref = np.full(d, 1.1)
        assert hypervolume(F, ref) == pytest.approx(hv.HV(ref_point=ref)(F), rel=1e-9)


@pytest.fixture(scope="module")
def nb_macro():
    space = get_space("nb-macro")
    table = pd.read_csv(ROOT / "data" / "nb_macro_host_latency.csv", dtype={"arch": str})
    archs = np.array([[int(c) for c in a] for a in table["arch"]])
    host = LayerwisePredictor(space="nb-macro").fit(archs, table["latency_ms"].to_numpy())
    return space, TableSignal(space), host, McuPredictor(space, get_device("stm32f746"))


def _fleet(nb_macro, budgets=(None, None)):
    space, signal, host, mcu = nb_macro
    sram = float(get_device("stm32f746").memory["sram"])
    return FleetProblem(space, signal, [DeviceTarget("host", host, budgets[0]), DeviceTarget("mcu", mcu, budgets[1])],
                        [Constraint("peak SRAM", mcu.sram, sram, " B")])


@pytest.mark.parametrize("name", ["random", "sweep-guided", "sweep-anneal", "optuna-nsga2", "pymoo-nsga2"])
def test_each_front_search_spends_its_evaluations_and_returns_a_feasible_front(nb_macro, name):
    if name.startswith(("optuna", "pymoo")):
        pytest.importorskip(name.split("-")[0])
    fleet = _fleet(nb_macro)
    FRONT_SEARCHES.get(name)(fleet, 40, seed=0)
    assert fleet.evaluations == 40
    archs, F = fleet.front()
    assert len(archs) >= 3 and fleet.feasible(archs).all() and nondominated(F).all()
    assert np.allclose(F[:, 1:], fleet.latencies(archs)) and np.all(np.diff(F[:, 1]) >= 0)  # fastest first
    assert fleet.evaluations == 40  # reading the front scores nothing new


def test_a_fleet_network_holds_every_budget_and_the_sram_limit(nb_macro):
    space, _, host, mcu = nb_macro
    every = space.random(3000, seed=0)
    b_host, b_mcu = (float(np.percentile(m.predict(every), 40)) for m in (host, mcu))
    fleet = _fleet(nb_macro, (b_host, b_mcu))
    ok = fleet.feasible(every)
    sram = get_device("stm32f746").memory["sram"]
    assert np.array_equal(ok, (host.predict(every) <= b_host) & (mcu.predict(every) <= b_mcu)
                          & (mcu.sram(every) <= sram))
    FRONT_SEARCHES.get("sweep-guided")(fleet, 30, seed=1)
    best = fleet.best()
    assert best is not None and fleet.feasible(best[0][None])[0]
    with pytest.raises(SearchError, match="budget must be a positive"):
        DeviceTarget("host", host, -1.0)


def test_a_fleet_file_names_what_is_wrong(tmp_path):
    from edgelat.errors import OptionError
    from edgelat.search.fleet_file import load_fleet

    cases = {"[[device]]\nname = 'pixel1'\ncolour = 'red'\n": "device 1: unknown field 'colour'",
             "[[device]]\nname = 'pixel1'\ntarget_ms = -3\n": "target_ms must be a positive",
             "[[device]]\nname = 'pixel1'\ntarget_ms = 'fast'\n": "field 'target_ms' has the wrong type",
             "[[device]]\npredictor = 'p.json'\n": "exactly one of name",
             "devices = 1\n": "unknown key 'devices'", "[[device\n": "not valid TOML"}
    for i, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"fleet{i}.toml"
        path.write_text(text)
        with pytest.raises(OptionError, match=message):
            load_fleet(path)
    path = tmp_path / "ok.toml"
    path.write_text("[[device]]\nname = 'pixel1'\npredictor = 'm/p1.json'\ntarget_ms = 60\n")
    (row,) = load_fleet(path)
    assert row.predictor == str(tmp_path / "m" / "p1.json") and row.target_ms == 60.0


@pytest.fixture(scope="module")
def host_predictor(tmp_path_factory):
    """The host's nb-macro model, fitted by the CLI from the shipped whole-network table."""
    folder = tmp_path_factory.mktemp("fleet")
    res = run_cli("fit", "--table", str(ROOT / "data" / "nb_macro_host_latency.csv"), "--kind", "lut",
                  "--space", "nb-macro", "-o", str(folder / "host.json"))  # encodings in an arch column
    assert res.returncode == 0, res.stderr
    (folder / "fleet.toml").write_text('[[device]]\nname = "stm32f746"\ntarget_ms = 200\n')
    return folder


@pytest.mark.slow
def test_search_fleet_holds_every_budget_and_pareto_writes_the_front(host_predictor):
    folder = host_predictor
    common = ["search", "--space", "nb-macro", "--device", "host", "--predictor", str(folder / "host.json"),
              "--target-ms", "0.6", "--accuracy", "table", "--fleet", str(folder / "fleet.toml"), "--evaluations",
              "40", "--no-export"]
    res = run_cli(*common, "--out", str(folder / "one"), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads((folder / "one" / "arch.json").read_text())
    assert [d["device"] for d in doc["fleet"]] == ["host", "stm32f746"]
    assert all(d["predicted_ms"] <= d["target_ms"] for d in doc["fleet"])
    assert doc["strategy"] == "guided"  # the default where a fleet's budgets bind at once
    res = run_cli(*common, "--out", str(folder / "front"), "--pareto", "--front-search", "sweep-anneal")
    assert res.returncode == 0, res.stderr
    assert "networks on the front" in res.stdout and "front.png" in res.stdout  # results on stdout
    front = json.loads((folder / "front" / "front.json").read_text())
    F = np.array([[-p["score"], p["predicted_ms"]["host"], p["predicted_ms"]["stm32f746"]] for p in front["front"]])
    assert len(F) >= 3 and nondominated(F).all() and (F[:, 1] <= 0.6).all() and (F[:, 2] <= 200).all()
    assert (folder / "front" / "front.png").stat().st_size > 10_000


def test_a_bad_fleet_file_is_one_line_and_writes_nothing(host_predictor, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[device]]\nname = "stm32f746"\nbudget = 3\n')
    res = run_cli("search", "--space", "nb-macro", "--device", "host", "--predictor",
                  str(host_predictor / "host.json"), "--target-ms", "1", "--accuracy", "table", "--fleet", str(bad),
                  "--pareto", "--out", str(tmp_path / "out"))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "bad.toml: device 1: unknown field 'budget'" in res.stderr and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_pareto_benchmark_smoke_mode_scores_every_search(tmp_path):
    import subprocess

    script = ROOT / "benchmarks" / "pareto.py"
    res = subprocess.run([sys.executable, str(script), "--smoke", "--json"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads(res.stdout)
    ratios = doc["fronts"]["1 device"]["searches"]
    assert set(ratios) == set(FRONT_SEARCHES.names())
    assert all(0 < r["30"]["mean"] <= 1 + 1e-9 for r in ratios.values())  # never above the exact front


def test_optuna_tpe_strategy_spends_only_feasible_evaluations(nb_macro, monkeypatch):
    from edgelat.errors import OptionError
    from edgelat.search.problem import Budget, Problem
    from edgelat.search.strategies import STRATEGIES, OptunaTPE

    space, signal, host, _ = nb_macro
    budget = float(np.percentile(host.predict(space.random(2000, seed=0)), 30))
    problem = Problem(space, host, signal, Budget(budget))
    assert STRATEGIES.get("optuna-tpe") is OptunaTPE
    result = OptunaTPE(evaluations=30, seed=0).run(problem)
    assert problem.evaluations == 30 and result.latency_ms <= budget
    assert all(lat <= budget for lat, _ in problem.points)  # nothing over the budget was ever scored
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if the extra were not installed
    with pytest.raises(OptionError, match=r"pip install 'edgelat\[compare\]'"):
        OptunaTPE(evaluations=5).run(problem.sibling())


def test_a_library_strategy_without_its_library_fails_before_anything_loads(monkeypatch):
    import importlib.util

    from edgelat.search.options import SearchOptions
    from edgelat.search.workflow import _checked_device

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "optuna" else real(name, *a))
    for opts in (SearchOptions(device="host", predictor="p.json", pareto=True),
                 SearchOptions(device="host", predictor="p.json", strategy="optuna-tpe")):
        with pytest.raises(SearchError, match=r"'optuna-tpe' needs optuna: pip install 'edgelat\[compare\]'"):
            _checked_device(opts)


def test_a_network_table_may_give_encodings_in_an_arch_column(tmp_path):
    from edgelat.errors import DataError
    from edgelat.predictors.datasets import load_networks

    space = get_space("nb-macro")
    (tmp_path / "a.csv").write_text("arch,latency_ms\n00000010,1.5\nnb-macro:21000000,2.5\n")
    (tmp_path / "ops.csv").write_text("op0,op1,op2,op3,op4,op5,op6,op7,latency_ms\n0,0,0,0,0,0,1,0,1.5\n"
                                      "2,1,0,0,0,0,0,0,2.5\n")
    by_arch, by_ops = load_networks(tmp_path / "a.csv", space), load_networks(tmp_path / "ops.csv", space)
    assert np.array_equal(by_arch.archs, by_ops.archs) and np.array_equal(by_arch.y, by_ops.y)
    (tmp_path / "bad.csv").write_text("arch,latency_ms\n0000001,1.5\n")
    with pytest.raises(DataError, match="bad.csv line 2: arch:"):
        load_networks(tmp_path / "bad.csv", space)
