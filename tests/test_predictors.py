"""Predictors on the shipped real phone tables: fit, predict, save/load, schema checks, metrics."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edgelat.core.blockspec import BlockSpec
from edgelat.core.channels import round_channels
from edgelat.predictors import metrics, persistence
from edgelat.predictors.base import NotFittedError, PredictorError
from edgelat.predictors.datasets import load_blocks
from edgelat.predictors.features import COST_FEATURES, _round_channels_vec, block_features, schema_hash
from edgelat.predictors.gbdt import GBDTPredictor
from edgelat.predictors.linear import LinearPredictor
from edgelat.predictors.lut import LUTPredictor
from edgelat.predictors.transfer import TransferPredictor

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def pixel1():
    return load_blocks(DATA / "pixel1_mbconv.csv")


@pytest.fixture(scope="module")
def pixel4():
    return load_blocks(DATA / "pixel4_mbconv.csv")


def split(n, frac, seed=0):
    idx = np.random.default_rng(seed).permutation(n)
    k = int(frac * n)
    return idx[:k], idx[k:]


def test_metrics_against_hand_computed_values():
    y, p = [1.0, 2.0, 4.0, 10.0], [1.04, 2.3, 3.7, 10.0]
    r = metrics.report(y, p)
    assert r["n"] == 4
    assert r["rmse_ms"] == pytest.approx(np.sqrt((0.04**2 + 0.3**2 + 0.3**2 + 0) / 4))
    assert r["mape"] == pytest.approx((0.04 + 0.15 + 0.075 + 0) / 4)
    assert r["acc5"] == pytest.approx(0.5)  # 4% and 0% are within 5%; 15% and 7.5% are not
    assert r["acc10"] == pytest.approx(0.75)
    assert r["spearman"] == pytest.approx(1.0) and r["kendall"] == pytest.approx(1.0)
    swapped = metrics.report([1, 2, 3], [1, 3, 2])
    assert swapped["spearman"] == pytest.approx(0.5) and swapped["kendall"] == pytest.approx(1 / 3)


def test_features_are_physical():
    spec = BlockSpec(28, 40, 40, 6, 5, 1, 1, "hswish")
    f = block_features(pd.DataFrame([spec.to_dict()])).iloc[0]
    assert f["macs_expand"] == 28 * 28 * 40 * 240
    assert f["macs_dw"] == 28 * 28 * 240 * 25
    assert f["macs_project"] == 28 * 28 * 240 * 40
    assert f["elems_residual"] == 28 * 28 * 40 and f["elems_act_hswish"] == f["elems_act"] > 0
    no_exp = block_features(pd.DataFrame([BlockSpec(28, 40, 80, 1, 3, 2).to_dict()])).iloc[0]
    assert no_exp["macs_expand"] == 0 and no_exp["elems_residual"] == 0 and no_exp["output_hw"] == 14
    v = np.arange(1, 400, 0.5)
    assert list(_round_channels_vec(v)) == [round_channels(x) for x in v]


@pytest.mark.parametrize("make", [LinearPredictor, GBDTPredictor])
def test_fit_predict_save_load_round_trip(make, pixel1, tmp_path):
    train, test = split(len(pixel1.y), 0.3)
    model = make().fit(pixel1.frame.iloc[train], pixel1.y[train])
    pred = model.predict(pixel1.frame.iloc[test])
    assert metrics.acc_within(pixel1.y[test], pred, 0.10) > 0.85
    assert model.score(pixel1.frame.iloc[test], pixel1.y[test]) == metrics.acc_within(pixel1.y[test], pred, 0.10)
    path = persistence.save(model, tmp_path / "m.json", {"device": "pixel1"})
    doc = json.loads(path.read_text())
    assert doc["schema"]["hash"] == schema_hash() and doc["metadata"]["device"] == "pixel1"
    assert "pickle" not in path.read_text()
    loaded = persistence.load(path)
    np.testing.assert_allclose(loaded.predict(pixel1.frame.iloc[test]), pred, rtol=1e-6)


def test_linear_coefficients_are_named_and_nonnegative(pixel1):
    coefs = LinearPredictor().fit(pixel1.frame, pixel1.y).coefficients()
    assert list(coefs) == [*COST_FEATURES, "intercept"]
    assert all(v >= 0 for v in coefs.values())
    assert coefs["macs_dw"] > 0  # depthwise MACs cost time on a phone CPU


def test_monotone_constraints_only_on_the_plain_trees(pixel1):
    with pytest.raises(PredictorError, match="monotone=True needs base=None"):
        GBDTPredictor(monotone=True).fit(pixel1.frame, pixel1.y)
    plain = GBDTPredictor(base=None, monotone=True, n_estimators=100).fit(pixel1.frame, pixel1.y)
    grow = pixel1.frame.iloc[[0]].copy()
    sizes = pd.concat([grow.assign(input_hw=hw) for hw in (16, 32, 64, 128)])
    assert np.all(np.diff(plain.predict(sizes)) >= 0)  # more pixels never predicted faster


def test_not_fitted_and_bad_targets(pixel1):
    with pytest.raises(NotFittedError, match="not fitted"):
        LinearPredictor().predict(pixel1.frame)
    with pytest.raises(PredictorError, match="positive"):
        LinearPredictor().fit(pixel1.frame.iloc[:3], [1.0, 0.0, 2.0])


def test_lut_lookup_and_missing_key(pixel1):
    lut = LUTPredictor().fit(pixel1.frame, pixel1.y)
    np.testing.assert_allclose(lut.predict(pixel1.frame.iloc[:50]), pixel1.y[:50])
    unknown = BlockSpec(224, 3, 16, 6, 3, 2, 0, "relu6")
    with pytest.raises(PredictorError, match=unknown.key):
        lut.predict([unknown])
    with_fallback = LUTPredictor(fallback=LinearPredictor().fit(pixel1.frame, pixel1.y)).fit(pixel1.frame, pixel1.y)
    assert with_fallback.predict([unknown])[0] > 0


def test_lut_with_fixed_parts_and_fallback_round_trips(pixel1, tmp_path):
    lut = LUTPredictor(fallback=LinearPredictor().fit(pixel1.frame, pixel1.y))
    lut.fit(pixel1.frame.iloc[:100], pixel1.y[:100], fixed={"stem": 1.5, "head": 2.0})
    loaded = persistence.load(persistence.save(lut, tmp_path / "lut.json"))
    assert loaded.fixed_ms == 3.5 and isinstance(loaded.fallback, LinearPredictor)
    np.testing.assert_allclose(loaded.predict(pixel1.frame), lut.predict(pixel1.frame))


def test_transfer_from_pixel1_to_pixel4_with_10_samples(pixel1, pixel4, tmp_path):
    source = GBDTPredictor().fit(pixel1.frame, pixel1.y)
    k, rest = split(len(pixel4.y), 10 / len(pixel4.y), seed=3)
    adapted = TransferPredictor(source=source).fit(pixel4.frame.iloc[k], pixel4.y[k])
    acc = metrics.acc_within(pixel4.y[rest], adapted.predict(pixel4.frame.iloc[rest]), 0.10)
    plain = metrics.acc_within(pixel4.y[rest], source.predict(pixel4.frame.iloc[rest]), 0.10)
    assert acc > 0.9 and plain < 0.05  # uncalibrated Pixel 1 figures are 2x too slow for a Pixel 4
    loaded = persistence.load(persistence.save(adapted, tmp_path / "t.json"))
    np.testing.assert_allclose(loaded.predict(pixel4.frame.iloc[rest]), adapted.predict(pixel4.frame.iloc[rest]))


def test_schema_mismatch_is_refused(pixel1, tmp_path):
    path = persistence.save(LinearPredictor().fit(pixel1.frame, pixel1.y), tmp_path / "m.json")
    doc = json.loads(path.read_text())
    doc["schema"] = {"version": 0, "hash": "0123456789abcdef"}
    path.write_text(json.dumps(doc))
    with pytest.raises(PredictorError, match="feature schema v0.*refit"):
        persistence.load(path)
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(PredictorError, match="not an edgelat predictor"):
        persistence.load(path)
