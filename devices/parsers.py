"""Output parsers: turn what a runner printed into a Measurement, strictly.

A parser never invents a figure: anything missing, non-numeric or non-positive makes the
measurement failed, with the raw output kept for the store.
"""

from __future__ import annotations

import json
import math
from typing import Any

from edgelat.devices.measurement import STAT_FIELDS, Measurement
from edgelat.errors import RunnerError


def parse_json_line(line: str, what: str = "runner") -> dict[str, Any]:
    """One JSON object from one line, or RunnerError naming what printed it."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        raise RunnerError(f"{what} printed a line that is not JSON: {line.strip()[:200]!r}") from None
    if not isinstance(obj, dict):
        raise RunnerError(f"{what} printed JSON that is not an object: {line.strip()[:200]!r}")
    return obj


def last_json_line(text: str) -> str | None:
    """The last line that looks like a JSON object (LiteRT may log to the merged stderr before it)."""
    for ln in reversed(text.splitlines()):
        if ln.strip().startswith("{"):
            return ln.strip()
    return None


def parse_agreement(text: str) -> dict[str, Any]:
    """The figures ``runners/agreement.py`` printed (its last JSON line), or RunnerError with its error."""
    line = last_json_line(text)
    obj = json.loads(line) if line else {"ok": False, "error": text.strip()[-300:]}
    if not obj.get("ok"):
        raise RunnerError(f"int8/fp32 agreement run failed: {obj.get('error')}")
    return {k: v for k, v in obj.items() if k != "ok"}


def parse_litert_result(line: str, info: dict[str, Any] | None = None) -> Measurement:
    """Parse one response of ``litert_timer.py`` (serve or one-shot mode)."""
    raw = line.strip()
    try:
        obj = parse_json_line(raw, "litert_timer")
    except RunnerError as exc:
        return Measurement.failed(str(exc), raw)
    if obj.get("ok") is not True:
        return Measurement.failed(f"runner error: {obj.get('error', 'no error message')}", raw)
    stats = obj.get("stats")
    if not isinstance(stats, dict):
        return Measurement.failed("runner output has no 'stats' object", raw)
    clean: dict[str, float] = {}
    for name in STAT_FIELDS:
        value = stats.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return Measurement.failed(f"runner output: stats.{name} is missing or not a number: {value!r}", raw)
        clean[name] = float(value)
    if clean["median_ms"] <= 0 or clean["min_ms"] <= 0:
        return Measurement.failed(f"runner output: non-positive latency {clean['median_ms']!r}", raw)
    try:
        runs, warmup, threads = int(stats["runs"]), int(stats["warmup"]), int(stats["threads"])
    except (KeyError, TypeError, ValueError):
        return Measurement.failed("runner output: stats.runs/warmup/threads missing", raw)
    return Measurement(
        ok=True, stats=clean, runs=runs, warmup=warmup, threads=threads, raw_output="",
        info={**(info or {}), "init_ms": stats.get("init_ms"), "timing": stats.get("timing", "plain"),
              **{k: stats[k] for k in ("batch", "delegate", "input_shape") if k in stats}},
    )
