"""The append-only SQLite store."""

import json
import sqlite3

import pytest

from edgelat.core.blockspec import BlockSpec
from edgelat.devices.measurement import Measurement
from edgelat.errors import StoreError
from edgelat.profiler.store import Store, open_existing

STATS = dict(median_ms=1.0, mean_ms=1.1, std_ms=0.1, p5_ms=0.9, p95_ms=1.3, min_ms=0.8, max_ms=1.5, cv=0.09)


def ok(median=1.0):
    return Measurement(ok=True, stats={**STATS, "median_ms": median}, runs=10, warmup=2, threads=1)


def test_append_done_keys_and_latest(tmp_path):
    a, b = BlockSpec(8, 8, 8, 1, 3, 1), BlockSpec(8, 8, 8, 3, 3, 1)
    with Store(tmp_path / "s.sqlite") as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.add("host", a, ok(1.0), "ai_edge_litert", "2.3.0")
        store.add("host", b, Measurement.failed("boom", "raw text", threads=1), "ai_edge_litert", "2.3.0")
        assert store.done_keys("host", 1) == {a.key}
        assert store.done_keys("host", 2) == set() and store.done_keys("pixel1", 1) == set()
        store.add("host", a, ok(2.0), "ai_edge_litert", "2.3.0")
        latest = store.rows(device="host")
        assert [(r["block_key"], r["median_ms"]) for r in latest] == [(a.key, 2.0)]
        failed = store.rows(status="failed")
        assert failed[0]["raw_output"] == "raw text" and failed[0]["median_ms"] is None
        assert store.count() == 3 and store.integrity_ok()
        with pytest.raises(StoreError, match="estimate='min'"):  # never silently the latest instead
            store.rows(status=None, estimate="min")


def test_store_refuses_an_ok_row_without_a_latency(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(StoreError, match="cannot write"):
            store.add("host", BlockSpec(8, 8, 8, 1, 3, 1), ok(0.0), "rt", "1")
        assert store.count() == 0


def test_not_a_store(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable edgelat store"):
        Store(junk)
    with pytest.raises(StoreError, match="no such store"):
        open_existing(tmp_path / "missing.sqlite")
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)


def test_rows_written_are_visible_to_another_connection(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.add("host", BlockSpec(8, 8, 8, 1, 3, 1), ok(), "rt", "1")
        other = sqlite3.connect(path)
        assert other.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 1
        other.close()


def test_memory_throttle_and_device_info_are_stored(tmp_path):
    m = Measurement(ok=True, stats=STATS, runs=10, warmup=2, threads=1,
                    info={"peak_sram_bytes": 123456, "flash_bytes": 654321, "throttled": True,
                          "temps_before": {"cpu": 41.0}})
    with Store(tmp_path / "s.sqlite") as store:
        store.add("stm32f746", BlockSpec(8, 8, 8, 1, 3, 1, dtype="int8"), m, "tflite-micro", "0")
        row = store.rows()[0]
    assert (row["peak_sram_bytes"], row["flash_bytes"], row["throttled"]) == (123456, 654321, 1)
    assert '"temps_before": {"cpu": 41.0}' in row["info"]


def test_a_version_1_store_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    with Store(path) as store:
        store.add("host", BlockSpec(8, 8, 8, 1, 3, 1), ok(1.0), "rt", "1")
    db = sqlite3.connect(path)  # make it look like a schema-1 file: no v2 columns, version 1
    for col in ("peak_sram_bytes", "flash_bytes", "throttled", "info"):
        db.execute(f"ALTER TABLE measurements DROP COLUMN {col}")
    db.execute("DROP TABLE networks")
    db.execute("DROP TABLE kernels")
    db.execute("ALTER TABLE fixed_parts DROP COLUMN policy")
    db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "5"
        store.add("host", BlockSpec(8, 8, 8, 3, 3, 1), ok(2.0), "rt", "1")
        assert [r["median_ms"] for r in store.rows()] == [1.0, 2.0]
        assert store.rows(networks=True) == []  # the v3 networks table was created in place
        assert store.rows(kernels=True) == []  # and the v4 kernels table
        store.add_fixed_parts("host", 1, "nb-macro r32 w1 c10", "fp32", {"stem": 0.5}, "plain", {"passes": 3})
        (policy,) = store.db.execute("SELECT policy FROM fixed_parts").fetchone()  # and the v5 policy column
        assert json.loads(policy) == {"passes": 3}


def test_networks_are_stored_beside_blocks_with_their_own_keys(tmp_path):
    from edgelat.core.netspec import NetworkSpec

    net = NetworkSpec("single-path", 64, 1.0, 10, "0" * 22, "int8")
    assert NetworkSpec.from_key(net.key) == net
    with Store(tmp_path / "s.sqlite") as store:
        store.add("host", BlockSpec(8, 8, 8, 1, 3, 1), ok(1.0), "rt", "1")
        store.add("host", net, ok(3.0), "rt", "1")
        assert store.done_keys("host", 1) == {BlockSpec(8, 8, 8, 1, 3, 1).key, net.key}
        (row,) = store.rows(networks=True)
        assert (row["space"], row["arch"], row["resolution"], row["dtype"], row["median_ms"]) == \
            ("single-path", "0" * 22, 64, "int8", 3.0)
        assert [r["block_key"] for r in store.rows()] == [BlockSpec(8, 8, 8, 1, 3, 1).key]


def test_fixed_parts_are_stored_and_reach_a_fitted_table(tmp_path):
    """`profile --fixed-parts` records stem, head and strided skips; `fit` on the store finds them."""
    from edgelat.predictors.datasets import load_blocks

    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.add("host", BlockSpec(8, 8, 8, 3, 3, 1), ok(1.0), "rt", "1")
        store.add_fixed_parts("host", 1, "nb-macro r32 w1 c10", "int8", {"stem": 9.0}, "cold")
        store.add_fixed_parts("host", 1, "nb-macro r32 w1 c10", "fp32", {"stem": 0.5, "skipconv-i8-c8-o16-s2": 0.1},
                              "cold")
        assert store.fixed_parts("host", "fp32") == ("nb-macro r32 w1 c10 fp32",
                                                     {"stem": 0.5, "skipconv-i8-c8-o16-s2": 0.1})
        assert store.fixed_parts("pixel1", "fp32") == (None, {})
    blocks = load_blocks(path)
    assert blocks.fixed == {"stem": 0.5, "skipconv-i8-c8-o16-s2": 0.1}  # the blocks are fp32: fp32 parts
    assert any("fixed parts of nb-macro r32 w1 c10 fp32" in n for n in blocks.notes)
