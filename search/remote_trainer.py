"""Short trainings on a Ray cluster (`search --cluster auto|HOST:PORT`, the convention of
`profile --cluster`): the `train` signal's batches, the final stand-alone trainings and the RI
samples run as one Ray task per network, each requesting one CPU (or one GPU with `gpus=True`).

The data go to the object store once. A task whose worker dies is retried by Ray (`max_retries`),
so a lost worker costs only its own trial; scores are journaled by the search as they arrive,
so a re-run reuses every trial that finished.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgelat.core.progress import NullProgress, Progress
from edgelat.core.spaces import get_space
from edgelat.errors import SearchError
from edgelat.profiler.farm.ray_support import connect
from edgelat.search.signals import short_train

MAX_RETRIES = 3


def _train_task(space_args: tuple, arch: list[int], data, epochs: int, seed: int, split: str) -> dict[str, Any]:
    """On a worker: train `arch` from scratch with one thread; its top-1 on `split`, and where it ran."""

    import tensorflow as tf


    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)  # one task per CPU it asked for
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # this worker process already ran a task: set then
        pass
    start = time.time()
    name, resolution, width, num_classes = space_args
    space = get_space(name, resolution, width, num_classes=num_classes)
    _, acc = short_train(space, np.asarray(arch), data, epochs, seed, split=split)
    return {"accuracy": float(acc), "pid": os.getpid(), "host": socket.gethostname(), "start": start,
            "end": time.time()}


class RayTrainer:
    """Trains batches of networks in parallel on a Ray cluster; `runs` keeps where and when each ran."""

    def __init__(self, cluster: str, space_args: tuple, data, epochs: int, seed: int, gpus: bool = False):

        self.ray = connect(cluster)
        self.space_args, self.epochs, self.seed = space_args, epochs, seed
        self.data_ref = self.ray.put(data)
        resources = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": 1}
        self.task = self.ray.remote(max_retries=MAX_RETRIES, **resources)(_train_task)
        self.runs: list[dict[str, Any]] = []

    def accuracies(self, archs: Sequence[np.ndarray], split: str = "val",
                   progress: Progress | None = None) -> np.ndarray:
        """Top-1 of each network after the short training, all trained at once across the cluster."""
        progress = progress or NullProgress()
        refs = [self.task.remote(self.space_args, np.asarray(a).tolist(), self.data_ref, self.epochs, self.seed, split)
                for a in archs]
        order = {ref: i for i, ref in enumerate(refs)}
        results: list[dict[str, Any] | None] = [None] * len(refs)
        pending = list(refs)
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            try:
                results[order[done[0]]] = self.ray.get(done[0])
            except self.ray.exceptions.RayError as exc:  # failed even after its retries
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise SearchError(f"--cluster: a training failed after {MAX_RETRIES} retries: {first}") from None
            progress.advance(len(refs) - len(pending), len(refs), {})
        self.runs.extend(r for r in results if r is not None)
        return np.array([r["accuracy"] for r in results if r is not None])
