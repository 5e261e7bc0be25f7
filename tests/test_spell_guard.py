"""The spell guard: a probe timed before and after each pass keeps passes out of slow spells. The
spells are made by giving the guard a yardstick no machine reaches (a reading of 1 µs on record), so
every real reading of the real probe on the real host runner counts as slow."""

import json
import time

import pytest

from edgelat.devices.backends import open_backend
from edgelat.devices.catalog import get_device
from edgelat.profiler.cache import TFLiteCache
from edgelat.profiler.spell_guard import PROBE, SpellGuard, probe_path
from edgelat.profiler.store import Store

from conftest import query, run_cli

pytestmark = pytest.mark.slow  # times passes and waits out spells


class Said:
    """A Progress that keeps what the guard says."""

    def __init__(self):
        self.notes, self.warnings = [], []

    def phase(self, name, total):
        pass

    def advance(self, done, total, extra=None):
        pass

    def note(self, message):
        self.notes.append(message)

    def warn(self, message):
        self.warnings.append(message)


def unreachable_yardstick(path, threads=1):
    with Store(path) as s:
        s.add_probe("host", threads, 0.001, 1.0, "test: a reading no machine reaches")


def probes(path):
    return query(path, "SELECT label, median_ms, ratio FROM probes ORDER BY id")


def test_the_guard_waits_for_a_spell_to_pass_then_says_it_did_not(tmp_path, cache_dir):
    history = tmp_path / "history.sqlite"
    unreachable_yardstick(history)
    said = Said()
    guard = SpellGuard(probe_path(TFLiteCache(cache_dir)), history, "host", wait_s=1.0, max_wait_s=10.0,
                       progress=said)
    assert TFLiteCache(cache_dir).get(PROBE) is not None  # converted once, into the cache
    with open_backend(get_device("host"), 1) as backend:
        t0 = time.perf_counter()
        guard.settle(backend, "pass 1")
        took = time.perf_counter() - t0
    readings = probes(history)[1:]
    assert len(readings) >= 2 and len(readings) == len(said.notes) + 1  # a wait between readings
    assert all(label == "pass 1 start" and ratio > 100 and ms > 0.01 for label, ms, ratio in readings)
    assert took < 10.0 + 30.0 and guard.waited_s <= took + 0.1
    assert len(said.warnings) == 1 and "still" in said.warnings[0] and "10 s" in said.warnings[0]


def test_profile_runs_slow_passes_again_and_shares_one_yardstick(tmp_path, cache_dir):
    base = ["profile", "--space", "nb-macro", "--arch", "00000000", "--cache-dir", str(cache_dir), "--runs", "20",
            "--warmup", "2", "--min-time-ms", "0", "--passes", "2", "--pass-gap-s", "0", "--json"]
    # A quiet enough machine (only a doubling counts as slow): 2 passes, 4 probe readings, in the store.
    quiet = tmp_path / "quiet.sqlite"
    res = run_cli(*base, "--store", str(quiet), "--spell-guard", "1.0")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)["spell_guard"]
    assert summary["passes_run_again"] == [] and summary["probes"] == 4 and summary["worst_ratio"] <= 2.0
    assert [label for label, _, _ in probes(quiet)] == ["pass 1 start", "pass 1 end", "pass 2 start", "pass 2 end"]
    # A spell that never ends: passes 1-3 are run again (the most allowed), passes 4 and 5 are kept, said.
    history, spell = tmp_path / "history.sqlite", tmp_path / "spell.sqlite"
    unreachable_yardstick(history)
    res = run_cli(*base, "--store", str(spell), "--spell-guard", "0.05", "--probe-history", str(history),
                  "--spell-wait-s", "0")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)["spell_guard"]
    assert summary["passes_run_again"] == ["pass 1", "pass 2", "pass 3"]
    assert summary["unprotected_passes"] == ["pass 4", "pass 5"] and summary["worst_ratio"] > 100
    assert "spell guard: pass 5 ran in a slow spell" in res.stderr
    with Store(spell) as s:
        assert len(s.rows(networks=True, latest=False)) == 5  # every pass is kept; the fastest counts
    assert probes(spell) == [] and len(probes(history)) == 1 + 10  # the readings went to --probe-history


def test_spell_guard_options_are_checked(tmp_path):
    base = ["profile", "--space", "nb-macro", "--arch", "00000000", "--store", str(tmp_path / "s.sqlite")]
    for extra, named in ((["--spell-guard", "2"], "--spell-guard"),
                         (["--probe-history", str(tmp_path / "h.sqlite")], "--probe-history"),
                         (["--spell-guard", "0.05", "--spell-wait-s", "-1"], "--spell-wait-s")):
        res = run_cli(*base, *extra)
        assert res.returncode == 2 and named in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (tmp_path / "s.sqlite").exists()
