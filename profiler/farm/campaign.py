"""The farm campaign's driver: one shared queue of blocks, every unit of a device model pulling from it.

Each unit has at most `depth` blocks in flight, so a fast unit comes back for work sooner and
takes more of it. Conversions run as Ray tasks spread over the cluster's CPUs, a little ahead of
the measurements, and land in the driver's cache too (conversions.py). Only the
driver writes the store, one row per result, and a (block, unit) result is stored at most once:
a result that arrives again after a retry or a requeue is dropped. A lost unit (its node died)
has its in-flight blocks requeued; a unit that keeps failing is quarantined with a message. Each
unit has an interference detector: a disturbed measurement is kept flagged and measured again later.
`replicate` blocks are measured on every unit, for the unit-to-unit spread in `edgelat report`.
"""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgelat.core.blockspec import BlockSpec
from edgelat.core.progress import NullProgress, Progress
from edgelat.devices.discovery import unit_resource
from edgelat.errors import DeviceError
from edgelat.profiler.cache import TFLiteCache
from edgelat.profiler.campaign import CampaignResult, report_block, report_start
from edgelat.profiler.farm.conversions import FarmConversions
from edgelat.profiler.farm.ray_support import advertised_device_models, cluster_units, connect, ray_error_reason
from edgelat.profiler.farm.worker import UnitWorker
from edgelat.profiler.interference import InterferenceDetector
from edgelat.profiler.store import Store


@dataclass
class FarmResult(CampaignResult):
    units: dict[str, int] = field(default_factory=dict)  # unit id -> blocks it measured ok
    lost: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    requeued: int = 0
    duplicates_dropped: int = 0


@dataclass
class _Task:
    spec: BlockSpec
    unit: str | None = None  # pinned to one unit (replicated blocks); None: any unit
    attempts: int = 0
    avoid: set[str] = field(default_factory=set)  # units whose measurement of it failed
    remeasure_of: str | None = None  # why its first measurement looked disturbed, when this is the second
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


class FarmCampaign:
    """Run once with `run()`; the Ray connection is made by `connect(cluster)` beforehand."""

    def __init__(self, ray: Any, device_model: str, specs: Sequence[BlockSpec], store: Store, cache: TFLiteCache, *,
                 threads: int | None, warmup: int, runs: int, min_time_ms: float, replicate: int = 0,
                 depth: int = 2, max_failures: int = 3, progress: Progress | None = None, cold: bool = False,
                 detector: Callable[[], InterferenceDetector] = InterferenceDetector) -> None:
        self.ray, self.device_model, self.store, self.cache = ray, device_model, store, cache
        self.new_detector, self.detectors = detector, {}  # one per unit: each unit has its own usual spread
        self.specs = list(dict.fromkeys(specs))
        self.threads, self.settings = threads, (warmup, runs, min_time_ms, cold)
        self.replicate, self.depth, self.max_failures = replicate, depth, max_failures
        self.progress = progress or NullProgress()
        self.actors: dict[str, Any] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, int] = {}
        self.inflight: dict[Any, tuple[_Task, str]] = {}
        self.result = FarmResult()
        self.conversions = FarmConversions(ray, cache, self.result)

    def _warn(self, message: str) -> None:
        self.progress.warn(message)

    # -- units ---------------------------------------------------------------------------
    def start_units(self) -> None:
        uids = cluster_units(self.ray, self.device_model)
        if not uids:
            have = ", ".join(advertised_device_models(self.ray)) or "none"
            raise DeviceError(f"no unit of device {self.device_model!r} in the cluster (devices advertised: {have}); "
                               f"start its node with the resources of `edgelat farm-resources`")
        cls = self.ray.remote(UnitWorker)
        actors = {u: cls.options(resources={unit_resource(u): 1}, num_cpus=0, max_restarts=0,
                                 max_task_retries=0).remote(u, self.threads) for u in uids}
        for uid, actor in actors.items():
            try:
                self.info[uid] = self.ray.get(actor.describe.remote(), timeout=300)
                self.actors[uid] = actor
                self.failures[uid] = 0
            except Exception as exc:  # noqa: BLE001 - one unit that cannot start does not stop the farm
                self._warn(f"unit {uid} did not start, left out: {ray_error_reason(exc)}")
                self.ray.kill(actor)
        if not self.actors:
            raise DeviceError(f"none of the {len(uids)} unit(s) of {self.device_model!r} could start")
        threads = {d["device"]["threads"] for d in self.info.values()}
        if self.threads is None:
            if len(threads) > 1:
                raise DeviceError(f"units of {self.device_model!r} use different thread counts {sorted(threads)}: "
                                   f"pass --threads")
            self.threads = threads.pop()

    def _drop_unit(self, uid: str, why: str, quarantine: bool) -> None:
        actor = self.actors.pop(uid, None)
        if actor is None:
            return
        requeue = [ref for ref, (_, u) in self.inflight.items() if u == uid]
        for ref in requeue:
            task, _ = self.inflight.pop(ref)
            self._requeue(task)
        pinned = [t for t in self.queue if t.unit == uid]
        for task in pinned:
            self.queue.remove(task)
        (self.result.quarantined if quarantine else self.result.lost).append(uid)
        verb = "quarantined" if quarantine else "lost"
        left = f"; {len(pinned)} replicated block(s) left unmeasured on it (re-run to resume)" if pinned else ""
        self._warn(f"unit {uid} {verb}: {why}; {len(requeue)} in-flight block(s) requeued{left}")
        try:
            self.ray.kill(actor)
        except Exception:  # noqa: BLE001, S110 - the actor's node may be gone already
            pass

    def _requeue(self, task: _Task) -> None:
        if task.unit is not None and task.unit not in self.actors:
            self._warn(f"{task.spec.key}: not measured on {task.unit} (that unit is gone); re-run to resume")
            return
        self.result.requeued += 1
        self.queue.appendleft(task)

    # -- work ----------------------------------------------------------------------------
    def _plan(self) -> list[_Task]:
        cold = self.settings[3]
        blocks = [r for r in self.store.rows(device=self.device_model, latest=False)
                  if r["threads"] == self.threads and (r["timing"] or "plain").startswith("cold") == cold]
        nets = [r for r in self.store.rows(device=self.device_model, latest=False, networks=True)
                if r["threads"] == self.threads]
        keyed = [(r["block_key"], r["unit"]) for r in blocks] + [(r["net_key"], r["unit"]) for r in nets]
        done = {k for k, _ in keyed}
        self.done_pairs = set(keyed)
        self.done = done
        replicated = self.specs[: self.replicate]
        tasks = [_Task(s, u) for s in replicated for u in self.actors if (s.key, u) not in self.done_pairs]
        tasks += [_Task(s) for s in self.specs[self.replicate :] if s.key not in done]
        self.result.requested = len(self.specs)
        self.result.already_done = sum(s.key in done for s in self.specs[self.replicate :]) + sum(
            all((s.key, u) in self.done_pairs for u in self.actors) for s in replicated)
        return tasks

    def _next_for(self, uid: str) -> _Task | None:
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

    def _record(self, task: _Task, uid: str, out: dict[str, Any]) -> None:
        key, m = out["key"], out["measurement"]
        pinned = task.unit is not None
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

    def _disturbed(self, task: _Task, uid: str, out: dict[str, Any]) -> bool:
        """As a local campaign does (profiler/interference.py): a first measurement the unit's detector finds
        disturbed is stored flagged (a failed row, not done) and the block queued again, behind the rest; a
        second one is kept whatever it looks like, flagged. Whether this one was stored flagged."""
        m = out["measurement"]
        why = self.detectors.setdefault(uid, self.new_detector()).check(m)
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

    def _unit_failed(self, uid: str, why: str) -> None:
        if uid not in self.failures:
            return
        self.failures[uid] += 1
        if self.failures[uid] >= self.max_failures and uid in self.actors:
            self._drop_unit(uid, f"{self.failures[uid]} failures in a row, last: {why}", quarantine=True)

    def run(self) -> FarmResult:
        start = time.perf_counter()
        self.start_units()
        self.queue: deque[_Task] = deque(self._plan())
        self.blocks_done, self.blocks_total = 0, len(self.queue)
        report_start(self.progress, self.blocks_total, self.result.already_done)
        try:
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
                    break
                ready, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=1.0)
                for ref in ready:
                    self._handle(ref)
                self.conversions.collect()
        finally:
            self.close()
        self.result.wall_s = time.perf_counter() - start
        return self.result

    def close(self) -> None:
        closing = [a.close.remote() for a in self.actors.values()]
        try:
            self.ray.wait(closing, num_returns=len(closing), timeout=60)
        except Exception:  # noqa: BLE001, S110 - best effort: the actors are killed next anyway
            pass
        for actor in self.actors.values():
            self.ray.kill(actor)
        self.actors.clear()


def run_farm_campaign(cluster: str, device_model: str, specs: Sequence[BlockSpec], store: Store, cache: TFLiteCache,
                      **kw: Any) -> FarmResult:
    """Measure every block of `specs` not yet in `store` on all units of `device_model` in the cluster."""
    with contextlib.redirect_stdout(sys.stderr):  # Ray's own notices ("(raylet) ...") stay off stdout
        ray = connect(cluster)
        try:
            return FarmCampaign(ray, device_model, specs, store, cache, **kw).run()
        finally:
            ray.shutdown()

