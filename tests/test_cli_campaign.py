"""End-to-end campaigns through the real `edgelat` command: resume, SIGKILL, export, bad input."""

import json
import sqlite3

import pytest

from edgelat.profiler.table import read_block_csv

from conftest import kill_group, query, run_cli, start_cli, wait_for

pytestmark = pytest.mark.slow  # profiles on the host: converts and times


def profile_args(store, ranges, cache, n=6, runs=20, dtype="fp32", extra=()):
    return ["profile", "--sample", "random", "--ranges", str(ranges), "--n", str(n), "--dtype", dtype,
            "--store", str(store), "--cache-dir", str(cache), "--runs", str(runs), "--warmup", "2", "--json", *extra]


def ok_rows(store):
    return query(store, "SELECT block_key, id FROM measurements WHERE status='ok' ORDER BY id")


def test_profile_resume_and_export(tmp_path, tiny_ranges, cache_dir):
    store = tmp_path / "host.sqlite"
    first = run_cli(*profile_args(store, tiny_ranges, cache_dir, n=5, dtype="both"))
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["blocks"] == 10 and summary["measured"] == 10 and summary["failed"] == 0
    # Same command again: nothing left to do.
    again = json.loads(run_cli(*profile_args(store, tiny_ranges, cache_dir, n=5, dtype="both")).stdout)
    assert again["already_done"] == 10 and again["measured"] == 0
    # A larger sample with the same seed contains the first one: only the new blocks are measured.
    more = json.loads(run_cli(*profile_args(store, tiny_ranges, cache_dir, n=8, dtype="both")).stdout)
    assert more["already_done"] == 10 and more["measured"] == 6
    assert len(ok_rows(store)) == 16

    csv_path = tmp_path / "blocks.csv"
    res = run_cli("export", str(store), "-o", str(csv_path))
    assert res.returncode == 0, res.stderr
    rows = read_block_csv(csv_path)
    assert len(rows) == 16 and {r.spec.dtype for r in rows} == {"fp32", "int8"}
    assert {r.spec.key for r in rows} == {k for k, _ in ok_rows(store)}
    assert all(r.extra["device"] == "host" and float(r.extra["p95_ms"]) >= r.latency_ms for r in rows)

    model = tmp_path / "host.json"
    fit = run_cli("fit", "--table", str(store), "--kind", "linear", "--cv", "0", "-o", str(model))
    assert fit.returncode == 0, fit.stderr
    meta = json.loads(model.read_text())["metadata"]
    assert meta["device"] == "host" and meta["runtime"].startswith("ai_edge_litert") and meta["training_size"] == 16


def test_sigkill_mid_campaign_loses_nothing_and_resume_completes(tmp_path, tiny_ranges):
    store, cache = tmp_path / "kill.sqlite", tmp_path / "cache"
    ranges = tmp_path / "mid.toml"  # blocks big enough that timing takes a while
    ranges.write_text("input_hw = [28, 56]\ncin = [24, 32]\ncout = [24, 32]\nexpand = [3, 6]\nkernel = [3, 5]\n"
                      "stride = [1]\nse = [0]\nact = ['relu6']\n")
    args = profile_args(store, ranges, cache, n=12, runs=400)

    # Kill 1: while converting, before any measurement.
    proc = start_cli(args)
    wait_for(lambda: store.exists() and (cache).exists(), proc)
    kill_group(proc)
    assert sqlite3.connect(store).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # Kill 2: in the middle of timing.
    proc = start_cli(args)
    wait_for(lambda: store.exists() and len(ok_rows(store)) >= 3, proc)
    kill_group(proc)
    db = sqlite3.connect(store)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    before = ok_rows(store)
    assert 3 <= len(before) < 12
    assert not list(cache.rglob("*.tmp"))  # no half-written model left behind

    # Re-run: measures only what is missing, and the earlier rows are untouched.
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["already_done"] == len(before) and summary["measured"] == 12 - len(before)
    after = ok_rows(store)
    keys = [k for k, _ in after]
    assert len(keys) == 12 and len(set(keys)) == 12  # every block exactly once
    assert after[: len(before)] == before


def one_line_error(res, *needles):
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("edgelat: error: ") and "Traceback" not in res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bad_input_is_one_line_exit_2(tmp_path, tiny_ranges):
    one_line_error(run_cli("profile", "--device", "pixel99", "--store", str(tmp_path / "s.sqlite")), "pixel99")
    bad_dev = tmp_path / "bad.toml"
    bad_dev.write_text('name = "x"\nkind = "host"\ntransport = "local"\nruntime = "litert"\nthreads = -1\n')
    one_line_error(run_cli("profile", "--device-file", str(bad_dev)), str(bad_dev), "'threads'")
    bad_ranges = tmp_path / "r.toml"
    bad_ranges.write_text("stride = [3]\n")
    one_line_error(run_cli("profile", "--sample", "random", "--ranges", str(bad_ranges)), str(bad_ranges), "stride")
    one_line_error(run_cli("export", str(tmp_path / "none.sqlite"), "-o", str(tmp_path / "o.csv")), "none.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database " * 100)
    one_line_error(run_cli(*profile_args(junk, tiny_ranges, tmp_path / "c")), str(junk))
    assert junk.read_text() == "not a database " * 100  # nothing lost
    one_line_error(run_cli("profile", "--device", "pixel1", "--store", str(tmp_path / "p.sqlite")),
                   "'benchmark_binary'", "--benchmark-binary")
    one_line_error(run_cli("profile", "--limit", "0", "--store", str(tmp_path / "l.sqlite")), "--limit")
    one_line_error(run_cli("profile", "--min-time-ms", "-1", "--store", str(tmp_path / "m.sqlite")), "--min-time-ms")
    res = run_cli("profile", "--dtype", "fp16")
    assert res.returncode == 2 and "fp16" in res.stderr


def test_folders_that_cannot_be_created_are_one_line_exit_2(tmp_path):
    """/proc refuses new folders even to root: the store, an export and a search's outputs."""
    one_line_error(run_cli("profile", "--device", "host", "--store", "/proc/nope/x.sqlite"), "/proc/nope", "store")
    one_line_error(run_cli("export", str(tmp_path / "none.sqlite"), "-o", "/proc/nope/o.csv"), "/proc/nope")
    res = run_cli("search", "--device", "stm32f746", "--target-ms", "10000", "--accuracy", "params",
                  "--evaluations", "4", "--no-export", "--out", "/proc/nope/out")
    one_line_error(res, "/proc/nope/out", "search's outputs")


def test_blocks_are_timed_cold_by_default_on_the_host_and_each_method_resumes_apart(tmp_path, tiny_ranges, cache_dir):
    """Each row records its timing; a block timed plainly is not done for a cold campaign."""
    store = tmp_path / "timing.sqlite"
    res = run_cli(*profile_args(store, tiny_ranges, cache_dir, n=2, runs=5))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["timing"] == "cold"  # stdout is pure JSON; progress went to stderr:
    assert "profiling: 2/2 (100%), elapsed" in res.stderr  # plain lines, since stderr is a pipe here
    res = run_cli(*profile_args(store, tiny_ranges, cache_dir, n=2, runs=5, extra=("--timing", "plain")))
    assert json.loads(res.stdout)["measured"] == 2  # not done: those were cold
    res = run_cli(*profile_args(store, tiny_ranges, cache_dir, n=2, runs=5, extra=("--timing", "cold")))
    assert json.loads(res.stdout)["already_done"] == 2
    db = sqlite3.connect(store)
    timings = sorted(t for (t,) in db.execute("SELECT timing FROM measurements"))
    assert timings[-2:] == ["plain", "plain"] and all(t.startswith("cold-") for t in timings[:2])
