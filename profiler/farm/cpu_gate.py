"""A machine-wide gate between host timing and conversion: no converter runs on a CPU being timed.

Per CPU there are two lock files (flock, so a killed process releases them). A timer takes the
CPU's `intent` lock exclusively (new converters then keep off), then its `busy` lock exclusively
(waiting for running converters to finish). A converter picks a CPU whose intent lock it can share,
holds that CPU's busy lock shared while converting, and pins all its threads to that CPU.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

GATE_ENV = "EDGELAT_CPU_GATE_DIR"


def gate_dir() -> Path:
    path = Path(os.environ.get(GATE_ENV) or Path(tempfile.gettempdir()) / "edgelat-cpu-gate")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _lock(stack: ExitStack, cpu: int, kind: str, mode: int) -> bool:
    fd = os.open(gate_dir() / f"cpu{cpu}.{kind}", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, mode)
    except BlockingIOError:
        os.close(fd)
        return False
    stack.callback(os.close, fd)  # closing the descriptor releases the lock
    return True


@contextmanager
def timing(cpus: list[int]) -> Iterator[None]:
    """Hold `cpus` for a host measurement: waits for converters on them to finish, keeps new ones off."""
    with ExitStack() as stack:
        for cpu in sorted(set(cpus)):
            _lock(stack, cpu, "intent", fcntl.LOCK_EX)
        for cpu in sorted(set(cpus)):
            _lock(stack, cpu, "busy", fcntl.LOCK_EX)
        yield


def _pin_all_threads(cpus: set[int]) -> None:
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:  # a thread that just ended
            pass


@contextmanager
def converting(poll_s: float = 0.05) -> Iterator[int]:
    """Run the body on one CPU that no host measurement holds; yields that CPU."""
    allowed = sorted(os.sched_getaffinity(0))
    with ExitStack() as stack:
        while True:
            chosen = None
            for cpu in allowed:
                with ExitStack() as intent:
                    if not _lock(intent, cpu, "intent", fcntl.LOCK_SH | fcntl.LOCK_NB):
                        continue
                    if _lock(stack, cpu, "busy", fcntl.LOCK_SH | fcntl.LOCK_NB):
                        chosen = cpu
                        break
            if chosen is not None:
                break
            time.sleep(poll_s)
        _pin_all_threads({chosen})
        stack.callback(_pin_all_threads, set(allowed))
        yield chosen
