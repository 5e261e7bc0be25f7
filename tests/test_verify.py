"""`search --verify`: the network found is measured on the host; while it breaks the budget the
latency model is rescaled by the measured error and the search runs again."""

import numpy as np
import pytest

from edgelat.core.progress import NullProgress
from edgelat.core.spaces import get_space
from edgelat.profiler.store import Store
from edgelat.search.options import SearchOptions
from edgelat.search.problem import Budget, Problem
from edgelat.search.signals import ParamsSignal
from edgelat.search.strategies import SimulatedAnnealing
from edgelat.search.verify import ScaledLatency, SittingsMeasurement, device_measure, verify_loop


class MacsLatency:
    """A MACs-proportional latency model (a FLOPs proxy) with a given ms per MMAC."""

    def __init__(self, space, ms_per_mmac: float):
        self.macs = np.nan_to_num(space.choice_matrix(lambda layer, c: layer.macs(c)))
        self.rows, self.ms_per_mmac = np.arange(len(space.layers)), ms_per_mmac

    def predict(self, archs):
        return self.macs[self.rows, np.asarray(archs)].sum(axis=1) / 1e6 * self.ms_per_mmac


@pytest.mark.slow
def test_an_optimistic_model_is_rescaled_by_the_measured_error_until_the_budget_holds(tmp_path):
    # 96 px, where latency follows MACs; at 32 px a network of 0.07 ms is mostly per-op overhead, and
    # one of 3x the MACs may measure no slower on a busy machine
    opts = SearchOptions(space="single-path", device="host", resolution=96, width=0.35, dtype="fp32",
                         out=str(tmp_path))
    space = get_space("single-path", 96, 0.35, num_classes=10)
    measure = device_measure(opts, tmp_path, 10, NullProgress(), pass_gap_s=0.0)  # passes back to back: a test
    mid = space.random(64, seed=5)[0]
    truth = MacsLatency(space, 1.0)
    mid_ms = measure(mid).ms
    # a model 3x too optimistic at `mid`; the budget is what `mid` measured, so round 1 must break it
    model = MacsLatency(space, mid_ms / float(truth.predict(mid[None])[0]) / 3)
    problem = Problem(space, model, ParamsSignal(space), Budget(mid_ms))
    anneal = lambda: SimulatedAnnealing(steps=80, chains=4, seed=0)  # noqa: E731
    first = anneal().run(problem)
    factors = []

    def again(p, factor):
        factors.append(factor)
        assert isinstance(p.latency, ScaledLatency) and p.latency.factor == factor
        return anneal().run(p)

    final_problem, chosen, check = verify_loop(problem, first, again, measure, 3, NullProgress())
    rounds = check.rounds
    assert rounds[0]["factor"] == 1.0 and rounds[0]["measured_ms"] > mid_ms  # 3x optimism broke the budget
    assert len(rounds) >= 2 and factors[0] == pytest.approx(rounds[0]["measured_ms"] / rounds[0]["predicted_ms"])
    for r in rounds[1:]:  # later rounds search under the rescaled model, which only grows
        assert r["predicted_ms"] <= mid_ms and r["factor"] >= rounds[0]["measured_ms"] / rounds[0]["predicted_ms"]
    within = [r for r in rounds if r["measured_ms"] <= mid_ms]
    assert check.met_budget == bool(within)
    if within:  # it stops at the first network that holds, and keeps it
        assert rounds[-1] is within[0] and space.encode(chosen.arch) == within[0]["arch"]
        assert final_problem.latency.predict(chosen.arch[None])[0] == pytest.approx(within[0]["predicted_ms"])
    else:
        assert len(rounds) == 3 and space.encode(chosen.arch) == rounds[-1]["arch"]
    for r in rounds:  # judged on the slower of two sittings
        assert len(r["sittings_ms"]) == 2 and r["measured_ms"] == max(r["sittings_ms"])
    for sitting in ("verify.sqlite", "verify-2.sqlite"):  # every measured network is kept, in each sitting's store
        with Store(tmp_path / sitting) as s:
            measured = {r["arch"] for r in s.rows(networks=True, estimate="min")}
        assert {r["arch"].split(":", 1)[1] for r in rounds} <= measured


def test_a_network_must_hold_its_budget_in_every_sitting():
    # the device's answers are given (a fast sitting and a slow one); the loop's rule is under test
    space = get_space("single-path", 96, 0.35, num_classes=10)
    model = MacsLatency(space, 1.0)
    first = SimulatedAnnealing(steps=40, chains=2, seed=0).run(
        Problem(space, model, ParamsSignal(space), Budget(1e9)))
    budget_ms = float(model.predict(first.arch[None])[0])
    problem = Problem(space, model, ParamsSignal(space), Budget(budget_ms))
    answers = iter([SittingsMeasurement((0.95 * budget_ms, 1.02 * budget_ms)),
                    SittingsMeasurement((0.97 * budget_ms, 0.99 * budget_ms))])
    factors = []

    def again(p, factor):
        factors.append(factor)
        return SimulatedAnnealing(steps=40, chains=2, seed=1).run(p)

    _, chosen, check = verify_loop(problem, first, again, lambda arch: next(answers), 3, NullProgress())
    assert [r["measured_ms"] for r in check.rounds] == [1.02 * budget_ms, 0.99 * budget_ms]
    assert factors == [pytest.approx(1.02)]  # the slower sitting over the prediction, not the faster one
    assert check.met_budget and space.encode(chosen.arch) == check.rounds[1]["arch"]
