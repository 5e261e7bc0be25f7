"""devices/policy.py and devices/guards.py: one measurement policy for every verb, one guard interface,
rows that record the policy, and passes that resume part of the way through."""

import json

import click
import pytest

from edgelat.cli import cli
from edgelat.devices.backends import open_backend
from edgelat.devices.catalog import get_device
from edgelat.devices.guards import KEEP, Guard, Verdict, wait, wait_until_ready
from edgelat.devices.measurement import Measurement
from edgelat.devices.policy import BLOCK_POLICY, DEFAULT_POLICY, MeasurementPolicy
from edgelat.errors import OptionError
from edgelat.profiler.cache import TFLiteCache
from edgelat.profiler.campaign import run_campaign
from edgelat.profiler.conversion_pool import ConversionPool
from edgelat.profiler.interference import InterferenceDetector
from edgelat.profiler.options import ProfileOptions
from edgelat.profiler.sampling import BlockRanges, random_blocks
from edgelat.profiler.store import Store

from conftest import TINY_RANGES


def _cli_defaults(command: str) -> dict[str, object]:
    params = cli.commands[command].params
    return {p.name: p.default for p in params if isinstance(p, click.Option)}


def test_profile_and_deploy_measure_networks_alike_by_default():
    """The defaults live in one policy: deploy's, profile --networks' and the CLI's are the same."""
    deploy = _cli_defaults("deploy")
    assert MeasurementPolicy(**{k: deploy[k] for k in ("warmup", "runs", "min_time_ms", "passes", "pass_gap_s")}
                             ) == DEFAULT_POLICY
    profile = _cli_defaults("profile")
    assert ProfileOptions(networks=5).policy() == DEFAULT_POLICY
    assert ProfileOptions(archs=("00000000",), passes=profile["passes"]).policy() == DEFAULT_POLICY
    assert ProfileOptions().policy() == BLOCK_POLICY and BLOCK_POLICY.passes == 1
    assert ProfileOptions(passes=4, pass_gap_s=0.0, runs=7).policy() == MeasurementPolicy(
        runs=7, passes=4, pass_gap_s=0.0)


@pytest.mark.parametrize(("changes", "named"), [({"runs": 0}, "--runs"), ({"warmup": -1}, "--warmup"),
                                                ({"min_time_ms": float("nan")}, "--min-time-ms"),
                                                ({"passes": 0}, "--passes"), ({"pass_gap_s": -1.0}, "--pass-gap-s"),
                                                ({"estimate": "mean"}, "estimate")])
def test_a_bad_policy_is_refused_naming_the_option(changes, named):
    with pytest.raises(OptionError, match=named):
        MeasurementPolicy(**changes)


class Scripted(Guard):
    """A guard that says WAIT a given number of times, then KEEP."""

    name = "scripted"

    def __init__(self, waits: int, wait_s: float):
        self.waits, self.wait_s, self.asked = waits, wait_s, 0

    def before(self, label):
        self.asked += 1
        return wait(f"{label}: not ready", self.wait_s) if self.asked <= self.waits else KEEP


def test_waiting_for_a_guard_stops_when_it_is_ready_or_the_time_is_up():
    slept, said = [], []
    decision, used_s = wait_until_ready(Scripted(2, 1.5), "pass 1", 10.0, sleep=slept.append, on_wait=said.append)
    assert decision.keep and slept == [1.5, 1.5] and used_s == 3.0 and len(said) == 2
    slept.clear()
    decision, used_s = wait_until_ready(Scripted(99, 2.0), "pass 1", 5.0, sleep=slept.append)
    assert decision.verdict is Verdict.WAIT and "not ready" in decision.reason
    assert slept == [2.0, 2.0, 1.0] and used_s == 5.0  # the last wait is cut to the budget
    with pytest.raises(ValueError, match="> 0 s"):
        wait("never ready", 0.0)  # would be asked again forever without sleeping


def test_interference_speaks_the_guard_interface():
    d = InterferenceDetector(default_cv=0.1)
    disturbed = Measurement(ok=True, stats={"median_ms": 1.0, "cv": 0.4, "drift": 0.0}, runs=50)
    verdict = d.after("blk", disturbed)
    assert verdict.verdict is Verdict.AGAIN and "cv 0.400" in verdict.reason
    assert d.after("blk", Measurement(ok=True, stats={"median_ms": 1.0, "cv": 0.01}, runs=50)).keep
    assert d.before("blk").keep and d.after("pass 2", None).keep


@pytest.mark.slow  # times blocks
def test_passes_resume_part_of_the_way_and_rows_record_their_policy(tmp_path, cache_dir):
    """A campaign cut short after pass 1 (here: one run with 1 pass) is completed by a run with 3: every
    block gets passes 2 and 3, and nothing more on a third run."""
    (tmp_path / "r.toml").write_text(TINY_RANGES)
    specs = random_blocks(BlockRanges.from_file(tmp_path / "r.toml"), 3, seed=11, dtypes=("fp32",))
    device, quick = get_device("host"), MeasurementPolicy(warmup=1, runs=5, min_time_ms=0.0, pass_gap_s=0.0)
    with Store(tmp_path / "s.sqlite") as store, open_backend(device) as backend, \
            ConversionPool(TFLiteCache(cache_dir), 1) as pool:
        def campaign(passes):
            return run_campaign(device, specs, store, backend, pool, policy=quick.with_changes(passes=passes),
                                detector=InterferenceDetector(default_cv=float("inf"), drift_limit=float("inf")))

        first = campaign(1)
        assert first.measured == 3 and set(store.done_counts("host", 1).values()) == {1}
        resumed = campaign(3)
        assert resumed.already_done == 3 and resumed.measured == 0
        assert store.done_counts("host", 1) == {s.key: 3 for s in specs}
        campaign(3)
        assert store.done_counts("host", 1) == {s.key: 3 for s in specs}  # nothing left to measure
        rows = store.rows(latest=False)
    policies = [json.loads(r["info"])["policy"] for r in rows]
    assert [p["passes"] for p in policies] == [1] * 3 + [3] * 6
    assert all(p["runs"] == 5 and p["warmup"] == 1 and p["estimate"] == "fastest" for p in policies)
