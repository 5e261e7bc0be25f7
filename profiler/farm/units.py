"""The unit side of a farm campaign: starting each unit's actor, dropping a lost or failing one
(its in-flight blocks requeued) and closing them all. `FarmCampaign` derives from `FarmUnits` and
owns the state these methods use (actors, queue, in-flight tasks, result)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from edgelat.core.blockspec import BlockSpec
from edgelat.devices.discovery import unit_resource
from edgelat.errors import DeviceError
from edgelat.profiler.campaign import CampaignResult
from edgelat.profiler.farm.ray_support import advertised_device_models, cluster_units, ray_error_reason
from edgelat.profiler.farm.worker import UnitWorker


@dataclass
class FarmResult(CampaignResult):
    units: dict[str, int] = field(default_factory=dict)  # unit id -> blocks it measured ok
    lost: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    requeued: int = 0
    duplicates_dropped: int = 0


@dataclass
class FarmTask:
    """One measurement to make: a block, maybe pinned to a unit, in a pass."""

    spec: BlockSpec
    unit: str | None = None  # pinned to one unit (replicated blocks); None: any unit
    attempts: int = 0
    avoid: set[str] = field(default_factory=set)  # units whose measurement of it failed
    remeasure_of: str | None = None  # why it is measured again: "pass N", or why its first one looked disturbed
    pass_no: int = 1
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


class FarmUnits:
    """Unit lifecycle for FarmCampaign (see the module docstring)."""

    def _warn(self, message: str) -> None:
        self.progress.warn(message)

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

    def _requeue(self, task: FarmTask) -> None:
        if task.unit is not None and task.unit not in self.actors:
            self._warn(f"{task.spec.key}: not measured on {task.unit} (that unit is gone); re-run to resume")
            return
        self.result.requeued += 1
        self.queue.appendleft(task)

    def _unit_failed(self, uid: str, why: str) -> None:
        if uid not in self.failures:
            return
        self.failures[uid] += 1
        if self.failures[uid] >= self.max_failures and uid in self.actors:
            self._drop_unit(uid, f"{self.failures[uid]} failures in a row, last: {why}", quarantine=True)

    def close(self) -> None:
        closing = [a.close.remote() for a in self.actors.values()]
        try:
            self.ray.wait(closing, num_returns=len(closing), timeout=60)
        except Exception:  # noqa: BLE001, S110 - best effort: the actors are killed next anyway
            pass
        for actor in self.actors.values():
            self.ray.kill(actor)
        self.actors.clear()
