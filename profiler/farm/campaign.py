"""The farm campaign's driver: one shared queue of blocks, every unit of a device model pulling from it.

Each unit has at most `depth` blocks in flight, so a fast unit comes back for work sooner and
takes more of it. Conversions run as Ray tasks spread over the cluster's CPUs, a little ahead of
the measurements, and land in the driver's cache too (conversions.py). Only the
driver writes the store, one row per result, and a (block, unit) result is stored at most once:
a result that arrives again after a retry or a requeue is dropped. A lost unit (its node died)
has its in-flight blocks requeued; a unit that keeps failing is quarantined with a message. Each
unit has an interference detector: a disturbed measurement is kept flagged and measured again later.
`replicate` blocks are measured on every unit, for the unit-to-unit spread in `edgelat report`.
With `passes` > 1 every block measured in pass 1 is queued again, pass after pass, each pass starting
>= `pass_gap_s` after the last (devices/passes.py): a replicated block on its own unit, any other on
whichever unit is free (units of one model are meant to be alike; `--replicate` measures how alike).
What an earlier, cut-short campaign stored with fewer passes gets the passes it misses.
The unit lifecycle is in units.py.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

from edgelat.core.blockspec import BlockSpec
from edgelat.core.progress import NullProgress, Progress
from edgelat.devices.passes import wait_pass_gap
from edgelat.devices.policy import BLOCK_POLICY, MeasurementPolicy
from edgelat.errors import DeviceError
from edgelat.profiler.cache import TFLiteCache
from edgelat.profiler.campaign import report_block, report_start
from edgelat.profiler.farm.conversions import FarmConversions
from edgelat.profiler.farm.ray_support import connect, ray_error_reason
from edgelat.profiler.farm.units import FarmResult, FarmTask, FarmUnits
from edgelat.profiler.interference import InterferenceDetector
from edgelat.profiler.store import Store


class FarmCampaign(FarmUnits):
    """Run once with `run()`; the Ray connection is made by `connect(cluster)` beforehand."""

    def __init__(self, ray: Any, device_model: str, specs: Sequence[BlockSpec], store: Store, cache: TFLiteCache, *,
                 threads: int | None, policy: MeasurementPolicy = BLOCK_POLICY, replicate: int = 0,
                 depth: int = 2, max_failures: int = 3, progress: Progress | None = None, cold: bool = False,
                 detector: Callable[[], InterferenceDetector] = InterferenceDetector) -> None:
        self.ray, self.device_model, self.store, self.cache = ray, device_model, store, cache
        self.new_detector, self.detectors = detector, {}  # one per unit: each unit has its own usual spread
        self.specs = list(dict.fromkeys(specs))
        self.threads, self.settings = threads, (policy, cold)  # what each unit's worker measures with
        self.replicate, self.depth, self.max_failures = replicate, depth, max_failures
        self.passes, self.pass_gap_s = policy.passes, policy.pass_gap_s
        self.measured: list[tuple[BlockSpec, str | None]] = []  # pass 1's blocks (and pinned unit), for later passes
        self.later_done: set[tuple[str, str | None, int]] = set()  # (key, pinned unit, pass) stored in passes 2..
        self.progress = progress or NullProgress()
        self.actors: dict[str, Any] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, int] = {}
        self.inflight: dict[Any, tuple[FarmTask, str]] = {}
        self.result = FarmResult()
        self.conversions = FarmConversions(ray, cache, self.result)

    def _plan(self) -> list[FarmTask]:
        cold = self.settings[1]
        blocks = [r for r in self.store.rows(device=self.device_model, latest=False)
                  if r["threads"] == self.threads and (r["timing"] or "plain").startswith("cold") == cold]
        nets = [r for r in self.store.rows(device=self.device_model, latest=False, networks=True)
                if r["threads"] == self.threads]
        keyed = [(r["block_key"], r["unit"]) for r in blocks] + [(r["net_key"], r["unit"]) for r in nets]
        done = {k for k, _ in keyed}
        self.done_pairs = set(keyed)
        self.done = done
        self.short = self._short_of_passes(keyed)
        replicated = self.specs[: self.replicate]
        tasks = [FarmTask(s, u) for s in replicated for u in self.actors if (s.key, u) not in self.done_pairs]
        tasks += [FarmTask(s) for s in self.specs[self.replicate :] if s.key not in done]
        self.result.requested = len(self.specs)
        self.result.already_done = sum(s.key in done for s in self.specs[self.replicate :]) + sum(
            all((s.key, u) in self.done_pairs for u in self.actors) for s in replicated)
        return tasks

    def _next_for(self, uid: str) -> FarmTask | None:
        for i, task in enumerate(self.queue):
            if task.unit in (uid, None) and uid not in task.avoid:
                del self.queue[i]
                return task
        return None

    def _dispatch(self) -> None:
        lookahead = 2 * self.depth * max(1, len(self.actors))
        for task in list(self.queue)[:lookahead]:
            self.conversions.ref(task.spec)
        for uid, actor in list(self.actors.items()):
            while sum(u == uid for _, u in self.inflight.values()) < self.depth:
                task = self._next_for(uid)
                if task is None:
                    break
                task.attempts += 1
                conv = self.conversions.ref(task.spec)
                ref = actor.measure.remote(task.id, task.spec.key, [conv], self.settings)
                self.inflight[ref] = (task, uid)

    def _handle(self, ref: Any) -> None:
        task, uid = self.inflight.pop(ref)
        try:
            out = self.ray.get(ref)
        except self.ray.exceptions.RayActorError as exc:
            self.inflight[ref] = (task, uid)  # requeued with the rest of the unit's blocks
            self._drop_unit(uid, f"its node or process went away ({type(exc).__name__})", quarantine=False)
            return
        except Exception as exc:  # noqa: BLE001 - the unit raised (e.g. its transport gave up)
            task.avoid.add(uid)
            self._unit_failed(uid, ray_error_reason(exc))
            self._requeue(task)
            return
        self._record(task, uid, out)
        pending = [t.spec for t in self.queue] + [t.spec for t, _ in self.inflight.values()]
        self.conversions.release(task.spec.key, pending)

    def _record(self, task: FarmTask, uid: str, out: dict[str, Any]) -> None:
        key, m = out["key"], out["measurement"]
        pinned = task.unit is not None
        if task.pass_no > 1:
            self._record_later_pass(task, uid, out)
            return
        if (key, uid) in self.done_pairs if pinned else key in self.done:
            self.result.duplicates_dropped += 1  # a retried or requeued result: stored once already
            return
        if self._disturbed(task, uid, out):
            return
        self.store.add(self.device_model, task.spec, m, out["runtime"] or "unknown",
                       out["runtime_version"] or "unknown", uid)
        if m.ok:
            self.done.add(key)
            self.done_pairs.add((key, uid))
            self.measured.append((task.spec, task.unit))
            self.result.measured += 1
            self.result.units[uid] = self.result.units.get(uid, 0) + 1
            self.result.measure_s += out.get("measure_s", 0.0)
            self.failures[uid] = 0
        elif out["conversion_error"]:
            self.result.failures.append((key, m.error or "conversion failed"))
            self._warn(f"{key}: {m.error}")
        else:
            self._warn(f"{key}: measurement failed on {uid}: {m.error}")
            task.avoid.add(uid)
            self._unit_failed(uid, m.error or "unknown error")
            if task.attempts < 3 and not pinned and set(self.actors) - task.avoid:
                self._requeue(task)  # maybe the unit's fault: try it on another unit
            else:
                self.result.failures.append((key, m.error or "unknown error"))
        if m.ok or key not in {t.spec.key for t in self.queue}:
            self.blocks_done += 1
            report_block(self.progress, self.blocks_done, self.blocks_total, task.spec, m)

    def _record_later_pass(self, task: FarmTask, uid: str, out: dict[str, Any]) -> None:
        """Store a pass-2.. row once (as a local campaign does, flagged but never measured a third time);
        a failed one is tried on another unit."""
        key, m = out["key"], out["measurement"]
        if (key, task.unit, task.pass_no) in self.later_done:
            self.result.duplicates_dropped += 1
            return
        self._disturbed(task, uid, out)  # annotates only: a later pass is a re-measurement already
        self.store.add(self.device_model, task.spec, m, out["runtime"] or "unknown",
                       out["runtime_version"] or "unknown", uid)
        if m.ok:
            self.later_done.add((key, task.unit, task.pass_no))
        else:
            self._warn(f"{key}: pass {task.pass_no} failed on {uid}: {m.error}")
            if task.attempts < 3 and task.unit is None and set(self.actors) - (task.avoid | {uid}):
                task.avoid.add(uid)
                self._requeue(task)
                return
        self.blocks_done += 1
        report_block(self.progress, self.blocks_done, self.blocks_total, task.spec, m)

    def _disturbed(self, task: FarmTask, uid: str, out: dict[str, Any]) -> bool:
        """As a local campaign does (profiler/interference.py): a first measurement the unit's detector finds
        disturbed is stored flagged (a failed row, not done) and the block queued again, behind the rest; a
        second one is kept whatever it looks like, flagged. Whether this one was stored flagged."""
        m = out["measurement"]
        if uid not in self.detectors:
            self.detectors[uid] = self.new_detector()
        verdict = self.detectors[uid].after(task.spec.key, m)
        why = None if verdict.keep else verdict.reason
        if task.remeasure_of is not None:
            m.info["remeasure_of"] = task.remeasure_of
        if why is not None:
            m.info["interference"] = why
        if why is None or task.remeasure_of is not None:
            return False
        self.store.add(self.device_model, task.spec, m, out["runtime"] or "unknown",
                       out["runtime_version"] or "unknown", uid, disturbed=True)
        self.result.remeasured.append((task.spec.key, why))
        task.remeasure_of = why
        self.queue.append(task)
        return True

    def _short_of_passes(self, keyed: list[tuple[str, str | None]]) -> list[tuple[BlockSpec, str | None, int]]:
        """(spec, pinned unit, passes stored) of what an earlier, cut-short campaign measured in fewer than
        `passes` passes: those get the passes they miss (a replicated block per unit, any other anywhere)."""
        per_key = Counter(k for k, _ in keyed)
        per_pair = Counter(keyed)
        short: list[tuple[BlockSpec, str | None, int]] = []
        for i, spec in enumerate(self.specs):
            if i < self.replicate:
                short += [(spec, u, per_pair[(spec.key, u)]) for u in self.actors
                          if 0 < per_pair[(spec.key, u)] < self.passes]
            elif 0 < per_key[spec.key] < self.passes:
                short.append((spec, None, per_key[spec.key]))
        return short

    def _later_pass(self, n: int) -> list[FarmTask]:
        """Pass n's tasks: every block this campaign measured in pass 1, and those stored with fewer than n."""
        tasks = [FarmTask(spec, unit, remeasure_of=f"pass {n}", pass_no=n) for spec, unit in self.measured]
        return tasks + [FarmTask(spec, unit, remeasure_of=f"pass {n}", pass_no=n)
                        for spec, unit, stored in self.short if stored < n]

    def run(self) -> FarmResult:
        start = time.perf_counter()
        self.start_units()
        self.queue: deque[FarmTask] = deque(self._plan())
        self.blocks_done, self.blocks_total = 0, len(self.queue)
        report_start(self.progress, self.blocks_total, self.result.already_done)
        try:
            pass_start = time.perf_counter()
            self._drain()
            if self.short:
                self.progress.note(f"resuming: {len(self.short)} measured in fewer than {self.passes} passes; "
                                   "measuring the passes they miss")
            for n in range(2, self.passes + 1):
                if not (later := self._later_pass(n)):
                    continue
                pass_start = wait_pass_gap(pass_start, self.pass_gap_s)
                self.queue.extend(later)
                self.blocks_done, self.blocks_total = 0, len(self.queue)
                self.progress.phase(f"profiling, pass {n}/{self.passes}", self.blocks_total)
                self._drain()
        finally:
            self.close()
        self.result.wall_s = time.perf_counter() - start
        return self.result

    def _drain(self) -> None:
        """Dispatch and collect until the queue is empty (or no remaining unit may take what is left)."""
        while self.queue or self.inflight:
            if not self.actors:
                lost = ", ".join(self.result.lost) or "-"
                raise DeviceError(f"no unit of {self.device_model!r} left (lost: {lost}; "
                                   f"quarantined: {', '.join(self.result.quarantined) or '-'}); "
                                   f"{len(self.queue)} block(s) not measured; re-run the same command to resume")
            self._dispatch()
            if not self.inflight:  # only tasks no remaining unit may take: they failed on all of them
                for task in self.queue:
                    self.result.failures.append((task.spec.key, f"failed on {', '.join(sorted(task.avoid))}"))
                self.queue.clear()
                return
            ready, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=1.0)
            for ref in ready:
                self._handle(ref)
            self.conversions.collect()

def run_farm_campaign(cluster: str, device_model: str, specs: Sequence[BlockSpec], store: Store, cache: TFLiteCache,
                      **kw: Any) -> FarmResult:
    """Measure every block of `specs` not yet in `store` on all units of `device_model` in the cluster."""
    with contextlib.redirect_stdout(sys.stderr):  # Ray's own notices ("(raylet) ...") stay off stdout
        ray = connect(cluster)
        try:
            return FarmCampaign(ray, device_model, specs, store, cache, **kw).run()
        finally:
            ray.shutdown()

