"""Predictions a user can trust: priors chosen by CV, scales that cannot invert a ranking,
on HW-NAS-Bench's FBNet networks (data/fbnet_5000_networks.csv)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from edgelat.core.spaces import get_space
from edgelat.errors import EdgelatError
from edgelat.predictors import metrics, persistence
from edgelat.predictors.basis import PHYSICAL_TERMS
from edgelat.predictors.datasets import load_networks
from edgelat.predictors.layerwise import LayerwisePredictor
from edgelat.predictors.selection import TIE
from edgelat.predictors.workflow import fit, prior_candidates

from conftest import run_cli

FBNET = Path(__file__).resolve().parent.parent / "data" / "fbnet_5000_networks.csv"


@pytest.fixture(scope="module")
def nets():
    space = get_space("fbnet")
    return {col: load_networks(FBNET, space, col) for col in ("samsung_s7_ms", "raspi4_ms", "pixel3_ms")}


def split(n_train: int, seed: int, n: int = 5000):
    idx = np.random.default_rng(seed).permutation(n)
    return idx[:n_train], idx[n_train:]


def weak_pi_prior(nets) -> LayerwisePredictor:
    """A Raspberry Pi model fitted on 100 networks without a prior: a poor prior for a phone."""
    i = np.random.default_rng(101).permutation(5000)[:100]
    return LayerwisePredictor(space="fbnet").fit(nets["raspi4_ms"].archs[i], nets["raspi4_ms"].y[i])


def test_a_prior_model_never_inverts_the_ranking_with_10_networks(nets):
    """Before the scale was constrained, this draw fitted scale -1.28 and ranked the rest at Spearman -0.47."""
    s7 = nets["samsung_s7_ms"]
    train, test = split(10, seed=1)
    model = LayerwisePredictor(space="fbnet", prior=weak_pi_prior(nets)).fit(s7.archs[train], s7.y[train])
    assert model.scale_ >= 0
    assert metrics.report(s7.y[test], model.predict(s7.archs[test]))["spearman"] > 0


def test_fit_chooses_the_prior_by_cv_and_reports_every_candidate(nets, tmp_path):
    prior_file = tmp_path / "pi-weak.json"
    persistence.save(weak_pi_prior(nets), prior_file)
    s7 = nets["samsung_s7_ms"]
    table = pd.read_csv(FBNET)
    train, test = split(10, seed=1)
    table.iloc[train].to_csv(tmp_path / "ten.csv", index=False)
    r = fit(str(tmp_path / "ten.csv"), "lut", str(tmp_path / "m.json"), space="fbnet", target="samsung_s7_ms",
            prior=["auto", str(prior_file)])
    choice = r["prior_choice"]
    assert set(choice["candidates"]) >= {"none", "flops", "params", "physics", "physics+models"}
    assert str(prior_file) not in choice["candidates"]  # a given model joins the basis's stack, not alone
    assert choice["folds"] == 10
    best = max(choice["candidates"].values(), key=lambda c: c["spearman"])["spearman"]
    assert choice["candidates"][choice["chosen"]]["spearman"] >= best - TIE  # the simplest within a tie
    assert "chosen by leave-one-out" in r["notes"][0]
    model = persistence.load(tmp_path / "m.json")
    held = metrics.report(s7.y[test], model.predict(s7.archs[test]))["spearman"]
    assert held > 0.6  # FLOPs alone ranks this phone's networks at about 0.70; the default used to give 0.1
    assert json.loads((tmp_path / "m.json").read_text())["metadata"]["prior_choice"]["chosen"] == choice["chosen"]


@pytest.mark.slow
def test_one_prior_forces_it_and_the_cli_shows_the_candidates(tmp_path):
    assert prior_candidates(["flops"]) is None and prior_candidates(["none"]) is None
    assert list(prior_candidates([])) == ["none", "flops", "params", "physics"]
    pd.read_csv(FBNET).iloc[:12].to_csv(tmp_path / "t.csv", index=False)
    base = ["fit", "--table", str(tmp_path / "t.csv"), "--space", "fbnet", "--target", "raspi4_ms",
            "--kind", "lut", "-o", str(tmp_path / "m.json")]
    forced = run_cli(*base, "--prior", "params", "--json")
    assert forced.returncode == 0, forced.stderr
    assert "prior_choice" not in json.loads(forced.stdout)
    auto = run_cli(*base)
    assert auto.returncode == 0 and "prior candidates" in auto.stdout and "(chosen)" in auto.stdout
    pd.read_csv(FBNET).iloc[:3].to_csv(tmp_path / "three.csv", index=False)
    few = run_cli(*base[:2], str(tmp_path / "three.csv"), *base[3:])
    assert few.returncode == 2 and "too few to choose a prior" in few.stderr and "--prior flops" in few.stderr


def test_a_forced_prior_against_inverted_latencies_keeps_its_ranking_scaled_only(nets):
    """Latencies that fall as FLOPs rise: a forced FLOPs prior is never given a negative scale, nor
    collapsed to a constant (which ranks nothing): it is kept as it ranks, only scaled."""
    pi = nets["raspi4_ms"]
    train, _ = split(40, seed=3)
    flops = get_space("fbnet").choice_matrix(lambda layer, c: layer.macs(c))
    macs = np.nan_to_num(flops)[np.arange(pi.archs.shape[1]), pi.archs[train]].sum(axis=1)
    inverted = 200.0 - macs / macs.max() * 100.0
    model = LayerwisePredictor(space="fbnet", prior="flops", corrections=False).fit(pi.archs[train], inverted)
    assert model.scale_ > 0 and model.scaled_only_ and model.intercept_ == 0
    assert spearmanr(model.predict(pi.archs[train]), macs)[0] == pytest.approx(1.0)
    assert np.exp(np.mean(np.log(model.predict(pi.archs[train]) / inverted))) == pytest.approx(1.0)


def test_transfer_reaches_95_percent_with_10_samples_on_every_draw():
    """Pixel 1's table (gbdt) to Pixel 4 and back, the shrinkage chosen by leave-one-out CV."""
    from edgelat.predictors.datasets import load_blocks
    from edgelat.predictors.gbdt import GBDTPredictor
    from edgelat.predictors.transfer import SLOPE_PRIORS, TransferPredictor

    data = Path(__file__).resolve().parent.parent / "data"
    p1, p4 = load_blocks(data / "pixel1_mbconv.csv"), load_blocks(data / "pixel4_mbconv.csv")
    for source, target in ((p1, p4), (p4, p1)):
        model = GBDTPredictor().fit(source.frame, source.y)
        for seed in range(5):
            train, test = split(10, seed, n=len(target.y))
            t = TransferPredictor(source=model).fit(target.frame.iloc[train], target.y[train])
            assert t.slope_prior_ in SLOPE_PRIORS and t.slope_ >= 0
            assert metrics.report(target.y[test], t.predict(target.frame.iloc[test]))["acc10"] >= 0.95
        inverted = TransferPredictor(source=model).fit(target.frame.iloc[:10], 1.0 / target.y[:10])
        assert inverted.slope_ == 0.0  # a source that ranks backwards is not turned upside down


def test_conformal_factors_follow_the_finite_sample_ranks():
    from edgelat.predictors.intervals import conformal

    measured = np.linspace(0.8, 1.2, 99)  # ratios measured / predicted, predicted = 1
    iv = conformal(measured, np.ones(99), level=0.9)
    # ranks floor(100 * 0.05) = 5 and ceil(100 * 0.95) = 95 of the sorted ratios
    assert (iv.low, iv.high, iv.capped) == (pytest.approx(measured[4]), pytest.approx(measured[94]), False)
    assert conformal(measured[:10], np.ones(10)).capped  # 10 residuals cannot give 90% with finite-sample validity
    assert iv.covers([0.5, 1.0, 1.5], [1.0, 1.0, 1.0]).tolist() == [False, True, False]


@pytest.mark.slow
def test_fit_stores_an_interval_that_predict_prints_and_evaluate_checks(tmp_path):
    table = pd.read_csv(FBNET.parent / "pixel1_mbconv.csv")
    train, test = split(int(0.3 * len(table)), seed=0, n=len(table))
    table.iloc[train].to_csv(tmp_path / "train.csv", index=False)
    table.iloc[test].to_csv(tmp_path / "test.csv", index=False)
    model = tmp_path / "m.json"
    fitted = run_cli("fit", "--table", str(tmp_path / "train.csv"), "--kind", "linear", "-o", str(model))
    assert fitted.returncode == 0, fitted.stderr
    res = run_cli("predict", "--predictor", str(model), "--block", "mbconv-i28-c24-o40-e6-k5-s2-se0-relu6-fp32")
    assert res.returncode == 0 and "90% interval" in res.stdout
    r = json.loads(run_cli("predict", "--predictor", str(model), "--block",
                           "mbconv-i28-c24-o40-e6-k5-s2-se0-relu6-fp32", "--json").stdout)
    assert r["interval_ms"][0] < r["latency_ms"] < r["interval_ms"][1] and r["interval_level"] == 0.9
    ev = json.loads(run_cli("evaluate", "--predictor", str(model), "--table", str(tmp_path / "test.csv"),
                            "--json").stdout)
    assert 0.85 <= ev["interval_coverage"] <= 0.95 and 0 < ev["interval_width"] < 0.3  # on 1,252 unseen blocks
    no_cv = run_cli("fit", "--table", str(tmp_path / "train.csv"), "--kind", "linear", "--cv", "0",
                    "-o", str(tmp_path / "n.json"))
    assert "no interval" in no_cv.stderr
    bare = run_cli("predict", "--predictor", str(tmp_path / "n.json"), "--block",
                   "mbconv-i28-c24-o40-e6-k5-s2-se0-relu6-fp32", "--json")
    assert "interval_ms" not in json.loads(bare.stdout) and "no interval" in bare.stdout


@pytest.mark.slow
def test_suggest_then_profile_the_suggestions(tmp_path):
    """From 12 measured NAS-Bench-Macro networks to the next 2, measured on this machine."""
    host = pd.read_csv(FBNET.parent / "nb_macro_host_latency.csv", dtype={"arch": str}).iloc[:12]
    table = pd.DataFrame([[int(c) for c in a] for a in host["arch"]], columns=[f"op{i}" for i in range(8)])
    table["latency_ms"] = host["latency_ms"]
    table.to_csv(tmp_path / "measured.csv", index=False)
    model = tmp_path / "m.json"
    assert run_cli("fit", "--table", str(tmp_path / "measured.csv"), "--space", "nb-macro", "--kind", "lut",
                   "-o", str(model)).returncode == 0
    res = run_cli("suggest", "--predictor", str(model), "--n", "2", "--pool", "300", "-o", str(tmp_path / "s.txt"),
                  "--json")
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    picked = [s["arch"] for s in r["suggestions"]]
    assert r["trained_on"] == 12 and len(set(picked)) == 2 and (tmp_path / "s.txt").read_text().split() == picked
    assert not {a.split(":")[1] for a in picked} & set(host["arch"])  # never one already measured
    scores = [s["uncertainty"] for s in r["suggestions"]]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1
    prof = run_cli("profile", "--space", "nb-macro", "--from-suggestions", str(tmp_path / "s.txt"), "--passes", "1",
                   "--store", str(tmp_path / "st.sqlite"), "--cache-dir", str(tmp_path / "c"), "--runs", "10",
                   "--warmup", "1", "--min-time-ms", "0", "--json")
    assert prof.returncode == 0 and json.loads(prof.stdout)["measured"] == 2, prof.stderr
    blocks = run_cli("suggest", "--predictor", str(FBNET.parent / "nope.json"))
    assert blocks.returncode == 2 and "nope.json" in blocks.stderr


def test_selection_never_picks_a_candidate_that_does_not_rank_while_another_does(nets):
    from edgelat.predictors.selection import Candidate, _pick

    prior = LayerwisePredictor(space="fbnet").fit(nets["pixel3_ms"].archs[:200], nets["pixel3_ms"].y[:200])
    cands = [Candidate("params", "params"), Candidate("physics", "physics", corrections=False),
             Candidate("pixel3.json", prior, corrections=False)]

    def reports(*spearmans):
        return {c.label: {"spearman": s, "acc10": 0.5} for c, s in zip(cands, spearmans, strict=True)}

    assert _pick(cands, reports(-0.265, 0.004, -0.1)).label == "physics, kept (scaled only)"
    assert _pick(cands, reports(0.80, 0.795, 0.60)).label == "physics, kept (scaled only)"  # a tie: the simpler
    assert _pick(cands, reports(0.80, 0.70, 0.60)).label == "params"
    # nothing ranks these ten networks: the device's own model is kept as it ranks, not 'params' at -0.265
    assert _pick(cands, reports(-0.265, -0.3, float("nan"))).label == "pixel3.json, kept (scaled only)"


def test_the_physics_prior_is_a_non_negative_mix_fitted_on_ten_networks(nets):
    pi = nets["raspi4_ms"]
    train, test = split(10, seed=5)
    model = LayerwisePredictor(space="fbnet", prior="physics", corrections=False).fit(pi.archs[train], pi.y[train])
    assert set(model.stack_) == set(PHYSICAL_TERMS)
    assert all(v >= 0 for v in model.stack_.values()) and any(v > 0 for v in model.stack_.values())
    assert metrics.report(pi.y[test], model.predict(pi.archs[test]))["spearman"] > 0.8
    again = persistence.from_document(persistence.to_document(model))
    assert np.allclose(again.predict(pi.archs[test]), model.predict(pi.archs[test]))
    stacked = LayerwisePredictor(space="fbnet", prior="physics", corrections=False,
                                 basis_models=[weak_pi_prior(nets)]).fit(pi.archs[train], pi.y[train])
    assert set(stacked.stack_) == {*PHYSICAL_TERMS, "model0"}
    again = persistence.from_document(persistence.to_document(stacked))
    assert np.allclose(again.predict(pi.archs[test]), stacked.predict(pi.archs[test]))


@pytest.mark.slow
def test_suggest_new_device_lists_networks_that_spread_the_physical_terms(tmp_path):
    out = tmp_path / "first.txt"
    res = run_cli("suggest", "--new-device", "--space", "fbnet", "--n", "10", "-o", str(out), "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)["suggestions"]
    space = get_space("fbnet")
    archs = [space.decode(line) for line in out.read_text().split()]
    assert len(rows) == 10 and len({tuple(a) for a in archs}) == 10
    pool = space.random(2000, seed=0)
    from edgelat.predictors.basis import network_sums, physical_tables

    spread = lambda a: np.log(network_sums(list(physical_tables(space).values()), np.array(a))).std(axis=0)  # noqa: E731
    assert np.all(spread(archs) > 0.5 * spread(pool))  # not ten look-alikes
    assert run_cli("suggest", "--n", "3").returncode == 2


@pytest.mark.slow
def test_a_folder_of_priors_and_the_shipped_tables_join_the_candidates(tmp_path, nets):
    folder = tmp_path / "priors"
    folder.mkdir()
    for name in ("pixel3_ms", "samsung_s7_ms"):
        persistence.save(LayerwisePredictor(space="fbnet").fit(nets[name].archs[:300], nets[name].y[:300]),
                         folder / f"{name}.json")
    cands = prior_candidates([str(folder)], "fbnet")
    assert {str(folder / "pixel3_ms.json"), str(folder / "samsung_s7_ms.json"), "physics"} <= set(cands)
    shipped = prior_candidates(["shipped"], "fbnet")
    assert {"shipped:raspi4_ms", "shipped:pixel3_ms"} <= set(shipped)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EdgelatError, match="holds no model JSON"):
        prior_candidates([str(empty)], "fbnet")
