"""A block table calibrated by a few whole networks: the layer-wise fit with the block model as its
prior uses only its k networks, corrects a distortion the block sum cannot see, and round-trips
through JSON."""

from pathlib import Path

import numpy as np
import pytest

from edgelat.core.spaces import get_space
from edgelat.predictors import persistence
from edgelat.predictors.architecture import ArchitecturePredictor
from edgelat.predictors.datasets import load_blocks
from edgelat.predictors.layerwise import LayerwisePredictor
from edgelat.predictors.lut import LUTPredictor

from conftest import run_cli

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def pixel1_lut():
    table = load_blocks(DATA / "pixel1_proxylessnas_lut.yaml")
    return LUTPredictor().fit(table.frame, table.y, fixed=table.fixed)


def whole(space, lut, archs, rng):
    """'Measured' networks: the real Pixel 1 block sums, 1.4x slower plus 2 ms, with 1% noise
    (the shape of the gap whole networks show against isolated blocks)."""
    block_sum = ArchitecturePredictor(space, lut).predict(archs)
    return (1.4 * block_sum + 2.0) * rng.normal(1.0, 0.01, len(archs))


def test_five_networks_calibrate_the_block_table(pixel1_lut):
    space, rng = get_space("single-path"), np.random.default_rng(0)
    cal, test = space.random(5, seed=1), space.random(200, seed=2)
    y_cal, y_test = whole(space, pixel1_lut, cal, rng), whole(space, pixel1_lut, test, rng)
    model = LayerwisePredictor("single-path", prior=pixel1_lut).fit(cal, y_cal)
    assert model.n_train_ == 5
    err = np.abs(model.predict(test) - y_test) / y_test
    plain = np.abs(ArchitecturePredictor(space, pixel1_lut).predict(test) - y_test) / y_test
    assert np.mean(err <= 0.10) >= 0.95 and np.median(plain) > 0.25  # the block sum alone is 25%+ off


def test_calibrated_model_round_trips_through_json_and_prices_a_search(tmp_path, pixel1_lut):
    space, rng = get_space("single-path"), np.random.default_rng(3)
    cal = space.random(10, seed=4)
    model = LayerwisePredictor("single-path", prior=pixel1_lut).fit(cal, whole(space, pixel1_lut, cal, rng))
    path = persistence.save(model, tmp_path / "calibrated.json")
    loaded = persistence.load(path)
    probe = space.random(50, seed=5)
    assert np.allclose(loaded.predict(probe), model.predict(probe))
    assert np.allclose(ArchitecturePredictor(space, loaded).predict(probe), model.predict(probe))


@pytest.mark.slow
def test_cli_fits_a_network_table_with_a_block_model_prior(tmp_path, pixel1_lut):
    space, rng = get_space("single-path"), np.random.default_rng(6)
    cal = space.random(8, seed=7)
    y = whole(space, pixel1_lut, cal, rng)
    table = tmp_path / "nets.csv"
    table.write_text(",".join(f"op{i}" for i in range(len(space.layers))) + ",latency_ms\n" + "".join(
        ",".join(map(str, a)) + f",{v}\n" for a, v in zip(cal, y, strict=True)))
    lut_path = persistence.save(pixel1_lut, tmp_path / "p1.json")
    res = run_cli("fit", "--table", str(table), "--space", "single-path", "--kind", "lut", "--prior",
                  str(lut_path), "--cv", "0", "-o", str(tmp_path / "cal.json"), "--json")
    assert res.returncode == 0, res.stderr
    model = persistence.load(tmp_path / "cal.json")
    assert isinstance(model, LayerwisePredictor) and isinstance(model.prior, LUTPredictor)
    assert 1.2 < model.scale_ < 1.6


def test_below_50_networks_a_block_prior_is_calibrated_by_one_factor_above_by_more(pixel1_lut):
    """Few networks: one factor (no constant, no per-layer corrections to chase noise). Many: the
    constant the synthetic whole networks have is found, and the fit beats the factor alone."""
    space, rng = get_space("single-path"), np.random.default_rng(8)
    few, many, test = space.random(20, seed=9), space.random(80, seed=10), space.random(300, seed=11)
    y_few, y_many, y_test = (whole(space, pixel1_lut, a, rng) for a in (few, many, test))
    one = LayerwisePredictor("single-path", prior=pixel1_lut).fit(few, y_few)
    block_sum = ArchitecturePredictor(space, pixel1_lut).predict(test)
    assert one.alpha_ is None and np.allclose(one.predict(test), one.scale_ * block_sum)
    more = LayerwisePredictor("single-path", prior=pixel1_lut).fit(many, y_many)
    assert more.alpha_ is not None and 1.3 < more.scale_ < 1.5  # 1.4x + 2 ms: the factor is found
    err = lambda m: np.median(np.abs(m.predict(test) - y_test) / y_test)  # noqa: E731
    assert err(more) < err(one)
