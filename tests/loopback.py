"""Processes the tests run on this machine as stand-ins for remote things (adbd, sshd, Ray nodes):
a free loopback port, waiting until one listens, and killing a whole process tree."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A free loopback port outside 5555-5585 (an adb server would attach those as emulators)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not 5555 <= port <= 5585:
            return port


def wait_listening(proc: subprocess.Popen, port: int, log: Path, name: str, timeout_s: float) -> None:
    """Until something accepts on 127.0.0.1:`port`; RuntimeError with the log's tail if `proc` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {log.read_text()[-500:]}") from None
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on port {port}: {log.read_text()[-500:]}")


def descendants(pid: int) -> list[int]:
    """All processes below `pid`, from /proc (sshd's connections and Ray's workers start sessions of
    their own, so they are found through their parents, not their process group)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(proc: subprocess.Popen, timeout_s: float = 30) -> None:
    """SIGKILL `proc` and every process below it, then reap it."""
    for pid in [proc.pid, *descendants(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=timeout_s)
