"""A search's final evaluation is a choice that fits the signal, shows its progress under --json,
and a search killed mid-way continues from its journal when run again. (`--final-eval train` is
tested with --cluster in test_search_cluster.py.)"""

import json
from pathlib import Path

import numpy as np
import pytest

from edgelat.core.spaces import get_space
from edgelat.errors import SearchError
from edgelat.predictors.architecture import ArchitecturePredictor
from edgelat.predictors.datasets import load_blocks
from edgelat.predictors.lut import LUTPredictor
from edgelat.search.journal import ScoreJournal
from edgelat.search.problem import Budget, Problem
from edgelat.search.signals import ParamsSignal
from edgelat.search.strategies import SimulatedAnnealing

from conftest import kill_group, run_cli, start_cli, wait_for

pytestmark = pytest.mark.slow  # searches and trains

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def linear_model(tmp_path_factory) -> Path:
    model = tmp_path_factory.mktemp("model") / "lin.json"
    assert run_cli("fit", "--table", str(DATA / "pixel1_mbconv.csv"), "--kind", "linear", "--cv", "0",
                   "-o", str(model)).returncode == 0
    return model


def search_args(model: Path, out: Path, *extra: str) -> list[str]:
    return ["search", "--space", "single-path", "--device", "pixel1", "--predictor", str(model), "--target-ms", "3",
            "--resolution", "32", "--width", "0.35", "--out", str(out), "--seed", "3", *extra]


def test_a_zero_cost_search_trains_nothing_by_default_and_reports_progress_on_stderr(tmp_path, linear_model):
    res = run_cli(*search_args(linear_model, tmp_path / "o", "--accuracy", "params", "--evaluations", "50",
                               "--ri-samples", "4", "--json"))
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads(res.stdout)  # stdout is the JSON document alone
    ri = doc["relative_improvement"]
    assert ri["evaluation"] == "none: the signal's values" and ri["method"] == doc["accuracy"]
    assert len(ri["random_sampling"]) == 4 and "ri_vs_random_search" in ri
    assert doc["weights"].startswith("untrained") and Path(doc["files"]["int8"]).is_file()
    assert "final evaluation (none) of 6 networks ..." in res.stderr
    assert "final evaluation (none) of 6 networks: 6/6 (100%)" in res.stderr
    bad = run_cli(*search_args(linear_model, tmp_path / "p", "--accuracy", "params", "--final-eval", "table"))
    assert bad.returncode == 2 and "--final-eval table: needs --accuracy table" in bad.stderr


def journal_lines(out: Path) -> list[str]:
    path = out / "evaluations.jsonl"
    return path.read_text().splitlines() if path.is_file() else []


def test_a_killed_search_continues_where_it_stopped(tmp_path, linear_model):
    env = {"EDGELAT_CACHE_DIR": str(tmp_path / "cache")}
    common = ("--accuracy", "supernet", "--supernet-epochs", "2", "--evaluations", "24", "--ri-samples", "1",
              "--final-eval", "none", "--no-export", "--json")
    whole = run_cli(*search_args(linear_model, tmp_path / "whole", *common), env=env)  # also caches the supernet
    assert whole.returncode == 0, whole.stderr[-3000:]
    proc = start_cli(search_args(linear_model, tmp_path / "cut", *common), env=env)
    wait_for(lambda: len(journal_lines(tmp_path / "cut")) >= 10, proc)
    kill_group(proc)
    before = journal_lines(tmp_path / "cut")
    assert 10 <= len(before) < len(journal_lines(tmp_path / "whole"))
    resumed = run_cli(*search_args(linear_model, tmp_path / "cut", *common), env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming: {len(before) - 1} networks already scored" in resumed.stderr
    after = journal_lines(tmp_path / "cut")
    # nothing scored twice, the stopped run's lines kept, and the same search as the uninterrupted one
    assert after[: len(before)] == before and sorted(after) == sorted(journal_lines(tmp_path / "whole"))
    assert json.loads(resumed.stdout)["arch"] == json.loads(whole.stdout)["arch"]


def test_a_journal_of_another_search_is_refused_and_a_cut_last_line_dropped(tmp_path):
    space = get_space("single-path", 32, 0.35, num_classes=10)
    path = tmp_path / "evaluations.jsonl"
    journal = ScoreJournal(path, "aaaa")
    table = load_blocks(DATA / "pixel1_proxylessnas_lut.yaml")
    lut = LUTPredictor().fit(table.frame, table.y, fixed=table.fixed)
    ap = ArchitecturePredictor(get_space("single-path", 224, num_classes=10), lut)
    problem = Problem(space, ap, ParamsSignal(space), Budget(80.0), journal=journal)
    first = SimulatedAnnealing(steps=20, chains=4, seed=1).run(problem)
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + problem.evaluations
    path.write_text("\n".join(lines) + "\n" + lines[-1][:10])  # a run killed while writing
    again = Problem(space, ap, ParamsSignal(space), Budget(80.0), journal=ScoreJournal(path, "aaaa"))
    assert path.read_text().splitlines() == lines  # the cut line is gone
    second = SimulatedAnnealing(steps=20, chains=4, seed=1).run(again)
    assert np.array_equal(first.arch, second.arch) and second.evaluations == first.evaluations
    assert path.read_text().splitlines() == lines  # every score came from the journal
    with pytest.raises(SearchError, match="holds the evaluations of another search"):
        ScoreJournal(path, "bbbb")
