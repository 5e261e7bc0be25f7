"""Importers of the forms users bring: nn-Meter JSON, ProxylessNAS/OFA YAML, stores, network CSVs."""

from pathlib import Path

import numpy as np
import pytest

from edgelat.core.spaces import get_space
from edgelat.errors import DataError
from edgelat.predictors.datasets import load_blocks, load_networks
from edgelat.predictors.lut import LUTPredictor, frame_keys

DATA = Path(__file__).resolve().parent.parent / "data"


def test_nnmeter_json_equals_the_csv_table():
    js, csv = load_blocks(DATA / "pixel4_lut_nnmeter_format.json"), load_blocks(DATA / "pixel4_mbconv.csv")
    assert len(js.y) == len(csv.y) == 1788
    a, b = dict(zip(frame_keys(js.frame), js.y, strict=True)), dict(zip(frame_keys(csv.frame), csv.y, strict=True))
    assert a.keys() == b.keys() and max(abs(a[k] - b[k]) for k in a) < 1e-6
    assert any("transds" in n for n in js.notes) and any("firstconv" in n for n in js.notes)


def test_proxylessnas_yaml_covers_the_single_path_space():
    data = load_blocks(DATA / "pixel1_proxylessnas_lut.yaml")
    assert set(data.fixed) == {"stem", "head", "classifier"}
    lut = LUTPredictor().fit(data.frame, data.y, fixed=data.fixed)
    space = get_space("single-path")
    for layer in space.layers:
        for choice in layer.choices:
            if not choice.skip:
                assert lut.predict([layer.block(choice)])[0] > 0
    # all-k3-e3 sums to 78 ms on the Pixel 1 (the table's authors' figure)
    k3e3 = sum(lut.predict([layer.block(layer.choices[0])])[0] for layer in space.layers) + lut.fixed_ms
    assert k3e3 == pytest.approx(78, abs=1.0)


OFA = """\
expanded_conv-input:56x56x24-output:28x28x40-expand:144-kernel:5-stride:2-idskip:0:
  count: 10
  mean: 1.5
  std: 0.1
expanded_conv-input:28x28x40-output:28x28x40-expand:120-kernel:3-stride:1-idskip:1:
  count: 10
  mean: 0.7
  std: 0.05
"""


def test_ofa_yaml_expand_is_channels(tmp_path):
    path = tmp_path / "ofa.yaml"
    path.write_text(OFA)
    data = load_blocks(path)
    assert list(data.frame["expand"]) == [6, 3]
    assert list(data.frame["cin"]) == [24, 40]


@pytest.mark.parametrize(
    "name, text, needle",
    [
        ("bad.json", '{"conv_14_16_16_6_1_relu6_3": 1.0}', "conv_14_16_16_6_1_relu6_3"),
        ("bad.json", '{"conv_14_16_16_6_1_relu6_4_se": 1.0}', "kernel"),
        ("bad.json", '{"conv_14_16_16_6_1_relu6_3_se": "fast"}', "not a number"),
        ("bad.json", "[1, 2", "not JSON"),
        ("bad.yaml", "expanded_conv-input:14x14x16-output:7x7x16-expand:3-kernel:3-stride:2-idskip:1:\n  mean: 1\n",
         "idskip"),
        ("bad.yaml", "expanded_conv-input:14x14x16-output:7x7x16-expand:3-kernel:3-stride:2:\n  count: 3\n", "'mean'"),
        ("bad.yaml", "expanded_conv-input:14x14x16-oops:\n  mean: 1\n", "not of the form"),
        ("bad.yaml", "a: [b\n", "not valid YAML"),
        ("bad.xlsx", "", "unknown table type"),
    ],
)
def test_malformed_tables_name_the_key(tmp_path, name, text, needle):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match=needle) as info:
        load_blocks(path)
    assert str(path) in str(info.value)


def test_network_table_by_index_and_by_name(tmp_path):
    space = get_space("fbnet")
    archs = space.random(5, seed=1)
    rows = ["op" + ",op".join(map(str, range(22))) + ",latency_ms"]
    for i, a in enumerate(archs):
        names = [space.layers[j].choices[c].name if i % 2 else str(c) for j, c in enumerate(a)]
        rows.append(",".join(names) + f",{10 + i}")
    path = tmp_path / "nets.csv"
    path.write_text("\n".join(rows) + "\n")
    nets = load_networks(path, space)
    assert (nets.archs == archs).all() and list(nets.y) == [10, 11, 12, 13, 14]
    with pytest.raises(DataError, match="no column 'pixel9_ms'"):
        load_networks(path, space, "pixel9_ms")
    lines = path.read_text().splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], "99," + lines[1].split(",", 1)[1], *lines[2:]]) + "\n")
    with pytest.raises(DataError, match="data row 0, layer 0: choice 99 is out of range"):
        load_networks(bad, space)
    named = tmp_path / "named.csv"
    named.write_text("\n".join([lines[0], lines[1], "k9_e9," + lines[2].split(",", 1)[1]]) + "\n")
    with pytest.raises(DataError, match="line 3: op0: unknown choice 'k9_e9'"):
        load_networks(named, space)


def test_fbnet_space_matches_hw_nas_bench():
    space = get_space("fbnet")
    assert len(space.layers) == 22 and space.max_choices == 9
    assert [space.layers[i].cout for i in (0, 1, 5, 9, 13, 17, 21)] == [16, 24, 32, 64, 112, 184, 352]
    assert [space.layers[i].stride for i in (0, 1, 5, 9, 13, 17, 21)] == [1, 1, 2, 2, 1, 2, 1]
    assert space.layers[-1].output_hw == 4
    enc = space.encode(space.random(1, seed=2)[0])
    assert enc.startswith("fbnet:") and len(enc) == 6 + 22
    assert (space.decode(enc) == space.random(1, seed=2)[0]).all()
    with pytest.raises(Exception, match="out of range"):
        space.decode("fbnet:" + "9" * 22)
    np.testing.assert_array_equal(space.choice_matrix(lambda la, c: 1.0).shape, (22, 9))
