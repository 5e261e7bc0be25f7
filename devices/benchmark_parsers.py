"""Parsers for TFLite `benchmark_model` output, in every form in use; strict, never a guess.

Forms handled (fixtures with their origin are in tests/fixtures/benchmark_model/):
- ``count=N first=.. curr=.. min=.. max=.. avg=.. std=..`` (newer builds add ``p5= median= p95=``);
  the first such line is the warm-up, the last one before the summary the timed runs;
- ``Inference timings in us: Init: .., First inference: .., Warmup (avg): .., Inference (avg): ..``;
- legacy ``Average inference timings in us: Warmup: .., Init: .., Inference: ..`` (or ``no stats:``);
- ``Peak memory footprint (MB): init=.. overall=..`` (and the older "Memory footprint delta" line);
- the op-profiling tables ("Run Order", "Summary by node type").

The latency is the median when the build prints one, otherwise the mean, and
``info['latency_stat']`` says which. A figure that is absent stays absent (None), and output
with no timed-run figure at all is a failed Measurement that keeps the raw text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from edgelat.devices.measurement import Measurement

_NUM = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_COUNT_RE = re.compile(rf"(?:^|\s)count=(\d+)((?:\s+\w+={_NUM})*)")
_KV_RE = re.compile(rf"(\w+)=({_NUM})")
_SUMMARY_RE = re.compile(
    rf"Inference timings in us: Init: ({_NUM}), First inference: ({_NUM}), "
    rf"Warmup \(avg\): ({_NUM}), Inference \(avg\): ({_NUM})"
)
_LEGACY_RE = re.compile(
    rf"Average inference timings in us: Warmup: ({_NUM}), Init: ({_NUM}), (?:Inference|no stats): ({_NUM})"
)
_PEAK_RE = re.compile(rf"Peak memory footprint \(MB\): init=({_NUM}) overall=({_NUM})")
_DELTA_RE = re.compile(rf"Memory footprint delta from the start of the tool \(MB\): init=({_NUM}) overall=({_NUM})")
_TABLE_TITLE_RE = re.compile(r"=+ (Run Order|Top by Computation Time|Summary by node type) =+")
_SECTION_RE = re.compile(r"^(?:\S+ )?(Profiling Info for Benchmark Initialization|Operator-wise Profiling Info for "
                         r"Regular Benchmark Runs)", re.MULTILINE)
_TFLITE_BUILTIN_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")  # CONV_2D, DEPTHWISE_CONV_2D, ...
_LOG_PREFIX_RE = re.compile(r"^(?:\S+\s+\S+\s+\d+\s+\d+\s+[VDIWEF]\s+tflite\s*:\s*|INFO:\s*|I tflite\s*:\s*)")


@dataclass
class OpTable:
    """One op-profiling table: its title, the section it belongs to, and rows of named columns."""

    title: str
    section: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)


def _strip_prefixes(text: str) -> list[str]:
    """Lines without logcat/`INFO:` prefixes (the Android APK and newer builds add them)."""
    return [_LOG_PREFIX_RE.sub("", ln.rstrip("\r")) for ln in text.splitlines()]


def _num(value: str) -> float:
    return float(value)


def parse_count_lines(lines: list[str]) -> list[dict[str, float]]:
    """Every top-level ``count=...`` statistics line (op-table 'Timings (microseconds)' lines excluded)."""
    out = []
    for ln in lines:
        s = ln.strip()
        if not s.startswith("count="):
            continue
        m = _COUNT_RE.match(s)
        if m:
            stats = {"count": float(m.group(1))}
            stats.update({k: _num(v) for k, v in _KV_RE.findall(m.group(2))})
            out.append(stats)
    return out


def parse_op_tables(text: str) -> list[OpTable]:
    """The op-profiling tables, with numeric columns as floats and '%' stripped."""
    lines = _strip_prefixes(text)
    tables: list[OpTable] = []
    section = ""
    i = 0
    while i < len(lines):
        ln = lines[i]
        sec = _SECTION_RE.search(ln)
        if sec:
            section = "init" if "Initialization" in sec.group(1) else "runs"
        title = _TABLE_TITLE_RE.search(ln)
        if title and i + 1 < len(lines):
            header = re.findall(r"\[([^\]]+)\]", lines[i + 1])
            cols = [h.strip().lower() for h in header]
            table = OpTable(title.group(1), section or "runs", cols)
            i += 2
            while i < len(lines) and lines[i].strip():
                body = lines[i].strip()
                cells = [c.strip() for c in (body.split("\t") if "\t" in body else re.split(r"\s{2,}", body))]
                cells = [c for c in cells if c]
                if len(cells) >= len(cols):
                    if len(cells) > len(cols):  # names may contain spaces: join the tail
                        cells = cells[: len(cols) - 1] + [" ".join(cells[len(cols) - 1 :])]
                    row: dict[str, Any] = {}
                    for name, cell in zip(cols, cells, strict=True):
                        try:
                            row[name] = float(cell.rstrip("%"))
                        except ValueError:
                            row[name] = cell
                    table.rows.append(row)
                i += 1
            tables.append(table)
            continue
        i += 1
    return tables


def hexagon_ops(tables: list[OpTable], dsp_clock_mhz: float | None) -> list[dict[str, Any]]:
    """DSP ops of a Hexagon-delegate op profile, converted from cycles to ms with the DSP clock.

    The Hexagon delegate hands each op's cycle counter to the TFLite profiler as if it were a
    duration in microseconds, so the table's "[avg ms]" figure is cycles / 1000. DSP ops carry
    hexagon_nn names (``Supernode_8x8p32to8``...), not TFLite builtin names (``CONV_2D``).
    """
    order = next((t for t in tables if t.title == "Run Order" and t.section == "runs"), None)
    if order is None:
        return []
    ops = []
    for row in order.rows:
        kind = str(row.get("node type", ""))
        avg = row.get("avg ms")
        if _TFLITE_BUILTIN_RE.match(kind) or kind.startswith("TfLite") or not isinstance(avg, float):
            continue
        cycles = avg * 1000.0
        ops.append({"op": kind, "name": row.get("name"), "cycles": round(cycles),
                    "ms": cycles / (dsp_clock_mhz * 1e3) if dsp_clock_mhz else None})
    return ops


def parse_benchmark_output(text: str, *, threads: int = 1, warmup: int = 0, dsp_clock_mhz: float | None = None,
                           hexagon: bool = False) -> Measurement:
    """One Measurement from benchmark_model's output; failed (raw text kept) when no run figure parses."""
    lines = _strip_prefixes(text)
    joined = "\n".join(lines)
    counts = parse_count_lines(lines)
    summary = _SUMMARY_RE.search(joined)
    legacy = _LEGACY_RE.search(joined)
    info: dict[str, Any] = {}
    if summary:
        init_us, first_us, warm_us, _ = map(_num, summary.groups())
        info.update(init_ms=init_us / 1e3, first_inference_ms=first_us / 1e3, warmup_avg_ms=warm_us / 1e3)
    elif legacy:
        warm_us, init_us, _ = map(_num, legacy.groups())
        info.update(init_ms=init_us / 1e3, warmup_avg_ms=warm_us / 1e3)
    peak = _PEAK_RE.search(joined) or _DELTA_RE.search(joined)
    if peak:
        info["peak_memory_mb"] = {"init": _num(peak.group(1)), "overall": _num(peak.group(2))}
    run = _timed_run(counts)
    avg_us = run.get("avg") if run else None
    if avg_us is None:
        if summary:
            avg_us = _num(summary.group(4))
        elif legacy:
            avg_us = _num(legacy.group(3))
    if avg_us is None:
        return Measurement.failed("benchmark_model output has no timed-run statistics "
                                  "(no count=... line and no inference-timings summary)", text, threads=threads)
    if not math.isfinite(avg_us) or avg_us <= 0:
        return Measurement.failed(f"benchmark_model output: non-positive average {avg_us!r} us", text, threads=threads)
    stats: dict[str, float] = {"mean_ms": avg_us / 1e3}
    if run and "median" in run:
        stats["median_ms"] = run["median"] / 1e3
        info["latency_stat"] = "median"
    else:
        stats["median_ms"] = stats["mean_ms"]
        info["latency_stat"] = "avg"  # this build prints no median: the latency is the mean, said so
    for src, dst in (("std", "std_ms"), ("p5", "p5_ms"), ("p95", "p95_ms"), ("min", "min_ms"), ("max", "max_ms")):
        if run and src in run:
            stats[dst] = run[src] / 1e3
    if "std_ms" in stats:
        stats["cv"] = stats["std_ms"] / stats["mean_ms"]
    runs = int(run["count"]) if run else 0
    tables = parse_op_tables(text) if "==============" in text else []
    if tables:
        info["op_profile"] = _summaries(tables)
    if hexagon:
        ops = hexagon_ops(tables, dsp_clock_mhz)
        if ops:
            info["hexagon_ops"] = ops
            info["hexagon_total_cycles"] = sum(o["cycles"] for o in ops)
            if dsp_clock_mhz:
                info["hexagon_total_ms"] = info["hexagon_total_cycles"] / (dsp_clock_mhz * 1e3)
                info["dsp_clock_mhz"] = dsp_clock_mhz
            else:
                info["hexagon_note"] = "op profile in DSP cycles; set dsp_clock_mhz in the device file for ms"
    return Measurement(ok=True, stats=stats, runs=runs, warmup=warmup, threads=threads, info=info)


def _timed_run(counts: list[dict[str, float]]) -> dict[str, float] | None:
    """The timed-run statistics: the last count line carrying 'avg' (the first is the warm-up)."""
    with_avg = [c for c in counts if "avg" in c]
    if len(with_avg) >= 2 or (with_avg and len(counts) >= 2):
        return with_avg[-1]
    if len(with_avg) == 1 and len(counts) == 1:
        return with_avg[0]  # a build that prints only the timed run
    return None


def _summaries(tables: list[OpTable]) -> dict[str, list[dict[str, Any]]]:
    """The regular-run 'Summary by node type' (type, count, avg ms, %) for the store's info column."""
    out: dict[str, list[dict[str, Any]]] = {}
    for t in tables:
        if t.section == "runs" and t.title == "Summary by node type":
            out["by_node_type"] = [
                {"type": r.get("node type"), "count": r.get("count"), "avg_ms": r.get("avg ms"), "pct": r.get("avg %")}
                for r in t.rows
            ]
    return out
