"""Price every op of any .tflite model with kernel predictors: the total and a per-op table,
MBConv blocks from a block table where it holds them, ops of a type no predictor covers by the
dtype's fallback (kernel_fallback), and the whole-model calibration applied."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from edgelat.core.op_breakdown import tflite_op
from edgelat.core.sizes import DTYPE_BYTES, MB
from edgelat.core.tflite_file import Graph, read_graph
from edgelat.core.tflite_ops import OpKernel, model_kernels, op_dtype
from edgelat.errors import DataError
from edgelat.predictors.blocks_in_tflite import find_blocks
from edgelat.predictors.intervals import RelativeInterval
from edgelat.predictors.kernel_context import describe, kernel_bytes, streamed_share
from edgelat.predictors.kernel_fallback import MIN_KINDS, fallback_interval, fallback_ms
from edgelat.predictors.kernels import KernelPredictor, kernel_type

_BY_OP = ("kernel", "fallback")  # rows priced op by op (not from a block table): calibrated, their weights counted


def _block_prices(graph: Graph, blocks) -> dict[int, tuple[str, float]]:
    """Op index -> (block key, ms) for the MBConv blocks the block table holds; the block's price sits
    on its first op, its other ops cost 0."""
    out: dict[int, tuple[str, float]] = {}
    if blocks is None:
        return out
    held = [(spec, idx) for spec, idx in find_blocks(graph)[0] if spec.key in getattr(blocks, "table_", {})]
    for (spec, idx), ms in zip(held, blocks.predict([s for s, _ in held]) if held else [], strict=True):
        out.update({i: (spec.key, 0.0) for i in idx})
        out[min(idx)] = (spec.key, float(ms))
    return out


def _unpriced(model: KernelPredictor, ops: list[OpKernel], by_block: dict) -> list[tuple[OpKernel, str]]:
    priced = set(model.types())
    return [(k, k.why or f"no {kernel_type(k.spec)} predictor in the model") for k in ops
            if k.index not in by_block and (k.spec is None or kernel_type(k.spec) not in priced)]


def _fallback_prices(model: KernelPredictor, graph: Graph, unpriced: list[tuple[OpKernel, str]], path, strict: bool
                     ) -> dict[int, tuple[float, str]]:
    """Op index -> (ms, dtype) for the ops no kernel predictor covers, priced by the dtype's fallback; an error
    naming the first such op under `strict`, or when the model has no kernel of that dtype to fit one."""
    prices = {}
    for k, why in unpriced:
        dtype = op_dtype(graph, graph.ops[k.index])
        doc = model.fallback_.get(dtype)
        if strict or doc is None:
            known = sum(t.endswith(f"/{dtype}") for t in model.types())
            cause = "--strict refuses the fallback" if strict else \
                f"no fallback: the predictor knows {known} {dtype} kernel type(s) and needs {MIN_KINDS} to fit one"
            raise DataError(f"{path}: op {k.op} cannot be priced ({why}); {cause}; {len(unpriced)} op(s) in all")
        prices[k.index] = (float(fallback_ms(doc, [tflite_op(graph, graph.ops[k.index])])[0]), dtype)
    return prices


def _rows(model: KernelPredictor, ops: list[OpKernel], by_block: dict, fallback: dict[int, tuple[float, str]]
          ) -> list[dict[str, Any]]:
    priced = set(model.types())
    wanted = [k for k in ops if k.index not in by_block and k.spec is not None and kernel_type(k.spec) in priced]
    ms = dict(zip((k.index for k in wanted), model.predict([k.spec for k in wanted]) if wanted else [], strict=True))
    rows = []
    for k in ops:
        shape = "+".join(k.spec.inputs) + " -> " + k.spec.output if k.spec else ""
        if k.index in by_block:
            key, price = by_block[k.index]
            rows.append({"index": k.index, "op": k.op, "shape": shape, "latency_ms": price, "priced_as": key})
        elif k.index in ms:
            rows.append({"index": k.index, "op": k.op, "shape": shape, "latency_ms": float(ms[k.index]),
                         "priced_as": "kernel"})
        else:
            ms_, dtype = fallback[k.index]
            rows.append({"index": k.index, "op": k.op, "shape": shape, "latency_ms": ms_, "priced_as": "fallback",
                         "dtype": dtype, "why": k.why or "no predictor of its type"})
    return rows


def _op_bytes(graph: Graph, ops: list[OpKernel]) -> list[tuple[float, float]]:
    """(weight bytes, traffic bytes) per op: a kernel's as kernel_context counts it, any other op's from
    its tensors (the one op breakdown)."""
    out = []
    for k in ops:
        if k.spec is not None:
            out.append(kernel_bytes(k.spec))
        else:
            op, size = tflite_op(graph, graph.ops[k.index]), DTYPE_BYTES[op_dtype(graph, graph.ops[k.index])]
            out.append((op.weight_elems * size, (op.weight_elems + op.in_elems + op.out_elems) * size))
    return out


def _context_mb(rows: list[dict[str, Any]], op_bytes: list[tuple[float, float]]) -> tuple[float, float]:
    """MB of weights of the ops priced op by op, and MB of traffic per inference of every op."""
    weights = sum(w for r, (w, _) in zip(rows, op_bytes, strict=True) if r["priced_as"] in _BY_OP)
    return weights / MB, sum(t for _, t in op_bytes) / MB


def _apply_calibration(calibration: dict[str, Any], rows: list[dict[str, Any]], op_bytes: list[tuple[float, float]],
                       traffic_mb: float, kernel_sum: float, dtype: str) -> str:
    """Each op priced op by op times the factor, plus the cost of its share of weights streamed past the
    cache; returns the note that says so."""
    share = streamed_share(calibration, traffic_mb)
    for r, (weight_bytes, _) in zip(rows, op_bytes, strict=True):
        if r["priced_as"] in _BY_OP:
            streamed_ms = calibration["ms_per_mb"] * share * weight_bytes / MB
            r["latency_ms"] = r["latency_ms"] * calibration["factor"] + streamed_ms
    streamed = f" ({share:.0%} of its weights streamed: {traffic_mb:.1f} MB of traffic)" if share else ""
    return (f"kernel sum {kernel_sum:.4f} ms calibrated on {calibration['models']} measured whole {dtype} model(s): "
            f"{describe(calibration)}{streamed}")


def predict_kernels(model: KernelPredictor, path: str | Path, strict: bool = False, blocks=None) -> dict[str, Any]:
    """Latency of every op of a .tflite model. An op with no kernel type, or of a type the model has no
    predictor for, is priced by the dtype's fallback and marked; `strict` makes it an error naming it."""
    graph = read_graph(path)
    ops = model_kernels(graph)
    by_block = _block_prices(graph, blocks)
    unpriced = _unpriced(model, ops, by_block)
    rows = _rows(model, ops, by_block, _fallback_prices(model, graph, unpriced, path, strict))
    op_bytes, notes = _op_bytes(graph, ops), []
    dtype = "int8" if any(k.spec is not None and k.spec.dtype == "int8" for k in ops) else "fp32"
    kernel_sum = sum(r["latency_ms"] for r in rows)
    weight_mb, traffic_mb = _context_mb(rows, op_bytes)
    calibration = model.calibration_.get(dtype)
    if calibration is not None:
        notes.append(_apply_calibration(calibration, rows, op_bytes, traffic_mb, kernel_sum, dtype))
    else:
        notes.append(f"uncalibrated: the sum of {len(rows)} kernels measured alone, which misses what a whole "
                     f"model's run adds or saves; to calibrate, measure a few whole {dtype} models (edgelat deploy "
                     f"MODEL.tflite --json gives measured_ms) into a CSV of tflite,latency_ms and run fit --calibrate")
    total = sum(r["latency_ms"] for r in rows)
    for r in rows:
        r["share"] = r["latency_ms"] / total if total > 0 else 0.0
    fallback = [r for r in rows if r["priced_as"] == "fallback"]
    if fallback:
        notes.append(f"{len(fallback)} op(s) priced by the fallback from their MACs and bytes moved "
                     f"({', '.join(sorted({r['op'] for r in fallback}))}): the interval widens to say so")
    if by_block:
        notes.append(f"{len({v[0] for v in by_block.values()})} MBConv block(s) priced from the block table")
    return {"tflite": str(path), "dtype": dtype, "latency_ms": total, "kernel_sum_ms": kernel_sum,
            "weight_mb": weight_mb, "traffic_mb": traffic_mb, "calibrated": calibration is not None,
            "fallback_ops": len(fallback), "fallback_ms": sum(r["latency_ms"] for r in fallback),
            "ops": rows, "notes": notes}


def total_interval(model: KernelPredictor, result: dict[str, Any], kernel_interval: RelativeInterval | None
                   ) -> tuple[float, float] | None:
    """The interval of a model's total: the kernels' CV interval on what they price (a conservative
    band, as per-op errors partly cancel) plus the fallback's leave-one-type-out interval on what it
    prices; None without a kernel interval."""
    if kernel_interval is None:
        return None
    low, high = kernel_interval.around(result["latency_ms"] - result["fallback_ms"])
    for r in result["ops"]:  # each fallback op with the interval of the dtype that priced it
        if r["priced_as"] == "fallback":
            f_low, f_high = fallback_interval(model.fallback_[r["dtype"]]).around(r["latency_ms"])
            low, high = low + f_low, high + f_high
    return low, high


def calibrate_from_table(model: KernelPredictor, path: str | Path) -> list[str]:
    """Calibrate `model` on the whole models a CSV lists (columns `tflite`, a path relative to the CSV,
    and `latency_ms`, measured on the same device); returns notes for the user."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise DataError(f"{path}: cannot read the calibration table: {exc.strerror}") from None
    if not rows or not {"tflite", "latency_ms"} <= set(rows[0]):
        raise DataError(f"{path}: a calibration table needs columns tflite and latency_ms, and at least one row")
    columns: list[list] = [[], [], [], [], []]  # kernel sum, weight MB, traffic MB, measured, dtype
    for i, row in enumerate(rows, start=2):
        try:
            ms = float(row["latency_ms"])
        except ValueError:
            raise DataError(f"{path}:{i}: latency_ms is not a number: {row['latency_ms']!r}") from None
        if not ms > 0:
            raise DataError(f"{path}:{i}: latency_ms must be positive, got {ms}")
        result = predict_kernels(model, path.parent / row["tflite"])
        for column, value in zip(columns, (result["kernel_sum_ms"], result["weight_mb"], result["traffic_mb"], ms,
                                           result["dtype"]), strict=True):
            column.append(value)
    model.calibrate(*columns)
    return [f"calibrated on {c['models']} whole {d} model(s) of {path.name}: {describe(c)}"
            for d, c in model.calibration_.items()]
