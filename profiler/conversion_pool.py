"""Convert blocks to cached .tflite files in worker processes that hold TensorFlow.

The campaign's own process never imports TensorFlow: workers are spawned, convert, write
to the cache and return timings. Workers are recycled after a number of conversions so
TensorFlow's per-process growth stays bounded over long campaigns.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from edgelat.core.netspec import spec_from_key
from edgelat.errors import ConversionError, OutputPathError
from edgelat.profiler.cache import Measurable, TFLiteCache


@dataclass(frozen=True)
class ConversionResult:
    spec: Measurable
    path: Path | None
    convert_s: float = 0.0  # the converter's own convert() call
    total_s: float = 0.0  # build + freeze + convert + write
    cached: bool = False
    error: str | None = None


def _worker_init() -> None:
    """Quiet TensorFlow's C++ logging, give each worker one TF thread, and pre-import TF."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # converter chatter ("fully_quantize: ...") goes to C-level stderr
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import edgelat.core.convert  # noqa: F401  (import cost paid once per worker)


def _convert_one(key: str, cache_root: str, calibration_samples: int) -> tuple[str, float, float]:
    from edgelat.core.convert import convert_block

    spec = spec_from_key(key)
    cache = TFLiteCache(cache_root, calibration_samples)
    out = convert_block(spec, calibration_samples=calibration_samples)
    path = cache.put(spec, out.data)
    return str(path), out.convert_s, out.total_s


class ConversionPool:
    """A pool of `workers` converter processes; `submit` returns a future of ConversionResult."""

    def __init__(self, cache: TFLiteCache, workers: int = 2, max_tasks_per_child: int = 500) -> None:
        self.cache = cache
        self.workers = max(1, workers)
        self.max_tasks_per_child = max_tasks_per_child
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=mp.get_context("spawn"),
                initializer=_worker_init, max_tasks_per_child=self.max_tasks_per_child,
            )
        return self._executor

    def submit(self, spec: Measurable) -> Future[ConversionResult]:
        """Convert `spec` unless cached. Errors come back in the result, never raised here."""
        done: Future[ConversionResult] = Future()
        cached = self.cache.get(spec)
        if cached is not None:
            done.set_result(ConversionResult(spec, cached, cached=True))
            return done
        inner = self._pool().submit(_convert_one, spec.key, str(self.cache.root), self.cache.calibration_samples)

        def finish(fut: Future) -> None:
            try:
                path, convert_s, total_s = fut.result()
                done.set_result(ConversionResult(spec, Path(path), convert_s, total_s))
            except OutputPathError as exc:  # the cache cannot be written (a full disk): the campaign stops
                done.set_exception(exc)
            except ConversionError as exc:
                done.set_result(ConversionResult(spec, None, error=str(exc)))
            except BrokenProcessPool:
                self._executor = None  # a worker crashed hard; the next submit starts a new pool
                done.set_result(ConversionResult(spec, None, error=f"{spec.key}: converter process crashed"))
            except Exception as exc:  # anything else from TF: keep the key and the reason
                done.set_result(ConversionResult(spec, None, error=f"{spec.key}: {type(exc).__name__}: {exc}"))

        inner.add_done_callback(finish)
        return done

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> ConversionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
