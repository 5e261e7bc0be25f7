"""The block table CSV: the shipped nn-Meter tables parse, and bad rows name the line."""

from pathlib import Path

import pytest

from edgelat.errors import DataError
from edgelat.profiler.table import read_block_csv, write_block_csv

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize("name", ["pixel1_mbconv.csv", "pixel4_mbconv.csv"])
def test_shipped_phone_tables_parse(name):
    rows = read_block_csv(DATA / name)
    assert len(rows) == 1788
    assert {r.spec.act for r in rows} == {"hswish"}
    assert all(r.latency_ms > 0 for r in rows)
    assert len({r.spec.key for r in rows}) == 1788


def test_round_trip(tmp_path):
    rows = read_block_csv(DATA / "pixel1_mbconv.csv")[:20]
    out = tmp_path / "t.csv"
    write_block_csv(({**r.spec.to_dict(), "latency_ms": r.latency_ms} for r in rows), out)
    back = read_block_csv(out)
    assert [(r.spec, r.latency_ms) for r in back] == [(r.spec, r.latency_ms) for r in rows]


HEADER = "input_hw,cin,cout,expand,kernel,stride,se,act,latency_ms\n"


@pytest.mark.parametrize(
    "body, needle",
    [
        ("14,16,16,6,4,1,0,relu6,1.0\n", "line 2: kernel"),
        ("14,16,16,6,3,1,0,relu6,abc\n", "line 2: field 'latency_ms': not a number"),
        ("14,16,16,6,3,1,0,relu6,1.0\n14,16,16,6,3,1,0,relu6,0\n", "line 3: field 'latency_ms': must be a positive"),
        ("14,16,16,6,3,1,0,relu6,1.0,extra\n", "line 2: more fields"),
        ("14,,16,6,3,1,0,relu6,1.0\n", "line 2: missing field 'cin'"),
    ],
)
def test_bad_rows_name_the_line(tmp_path, body, needle):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + body)
    with pytest.raises(DataError, match=needle):
        read_block_csv(path)


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("input_hw,cin,cout,expand,kernel,latency_ms\n14,16,16,6,3,1.0\n")
    with pytest.raises(DataError, match="missing column.*stride"):
        read_block_csv(path)
