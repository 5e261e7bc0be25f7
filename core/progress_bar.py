"""The one progress display, on stderr so stdout stays pure (JSON under --json): a rich bar per phase
with an ETA on a terminal, else (logs, pipes, notebooks) plain lines. Shared by the CLI and the
Python API (`edgelat.api`), which both pass it to the workflows as their `Progress`."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 240)


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class Bar:
    """A `core.progress.Progress` on stderr: without a terminal, the first and last step of a phase and
    a heartbeat every `every_s` seconds."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.live = err.is_terminal
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=err, transient=False,
        )
        self.task = None
        self.started = False
        self.every_s, self.name, self.t0, self.last = every_s, "", 0.0, -1.0

    def phase(self, name: str, total: int) -> None:
        self.name, self.t0, self.last = name, time.monotonic(), -1.0
        if not self.live:
            err.print(f"{name} ...", markup=False)
            return
        if not self.started:
            self.progress.start()
            self.started = True
        if self.task is not None:
            self.progress.stop_task(self.task)
        self.task = self.progress.add_task(name, total=total if total > 1 else None, info="")

    def advance(self, done: int, total: int, info: dict) -> None:
        shown = " ".join(v if isinstance(v, str) else f"{k}={v:.4g}" for k, v in info.items()
                         if isinstance(v, str | float))
        if self.live:
            self.progress.update(self.task, completed=done, total=total, info=shown)
            return
        now = time.monotonic()
        if self.last < 0 or done >= total or now - self.last >= self.every_s:
            self.last = now
            elapsed = now - self.t0
            eta = f", ETA {_clock(elapsed / done * (total - done))}" if 0 < done < total else ""
            err.print(f"{self.name}: {done}/{total} ({100 * done / max(total, 1):.0f}%), elapsed {_clock(elapsed)}"
                      f"{eta}{' ' + shown if shown else ''}", markup=False)

    def note(self, message: str) -> None:
        err.print(message, markup=False)

    def warn(self, message: str) -> None:
        err.print(f"[yellow]warning:[/] {message}")

    def stop(self) -> None:
        if self.started:
            self.progress.stop()


def with_bar(workflow, *args):
    """Run `workflow(*args, bar)` with a Bar, and stop the bar whatever happens."""
    bar = Bar()
    try:
        return workflow(*args, bar)
    finally:
        bar.stop()
