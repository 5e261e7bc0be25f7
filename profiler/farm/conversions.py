"""The farm's conversions: Ray tasks spread over the cluster's CPUs a little ahead of the
measurements, each block converted once, its bytes copied into the driver's cache (a re-run converts
nothing again) and let go of once no queued or in-flight task needs them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from edgelat.core.blockspec import BlockSpec
from edgelat.profiler.cache import TFLiteCache
from edgelat.profiler.campaign import CampaignResult
from edgelat.profiler.farm.worker import convert_key


class FarmConversions:
    """Block key -> ObjectRef of its converted model (from the cache, or a Ray task); counts go to `result`."""

    def __init__(self, ray: Any, cache: TFLiteCache, result: CampaignResult) -> None:
        self.ray, self.cache, self.result = ray, cache, result
        self.refs: dict[str, Any] = {}  # block key -> ObjectRef of convert_key's result
        self.converting: dict[Any, BlockSpec] = {}  # conversion refs not yet copied into the driver's cache
        self._task = ray.remote(num_cpus=1, scheduling_strategy="SPREAD", max_retries=3,
                                max_calls=100)(convert_key)  # recycled: bounds TensorFlow's growth

    def ref(self, spec: BlockSpec) -> Any:
        """The block's conversion, started now unless it is cached or already under way."""
        ref = self.refs.get(spec.key)
        if ref is None:
            cached = self.cache.get(spec)
            if cached is not None:
                self.result.cached += 1
                ref = self.ray.put({"data": cached.read_bytes(), "error": None})
            else:
                ref = self._task.remote(spec.key, self.cache.calibration_samples)
                self.converting[ref] = spec
            self.refs[spec.key] = ref
        return ref

    def collect(self) -> None:
        """Copy finished conversions into the driver's cache, so a re-run converts nothing again."""
        if not self.converting:
            return
        ready, _ = self.ray.wait(list(self.converting), num_returns=len(self.converting), timeout=0)
        for ref in ready:
            spec = self.converting.pop(ref)
            try:
                conv = self.ray.get(ref)
            except Exception:  # noqa: BLE001, S112 - the measuring unit reports it
                continue
            if conv["data"] is not None:
                self.cache.put(spec, conv["data"])
                self.result.converted += 1
                self.result.convert_call_s += conv["convert_s"]
                self.result.conversion_s += conv["total_s"]

    def release(self, key: str, pending: Iterable[BlockSpec]) -> None:
        """Let go of a block's model bytes once none of the `pending` (queued or in-flight) blocks needs them."""
        if not any(spec.key == key for spec in pending):
            self.refs.pop(key, None)
