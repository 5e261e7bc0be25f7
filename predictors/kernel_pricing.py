"""Price every op of any .tflite model with kernel predictors: the total and a per-op table,
MBConv blocks from a block table where it holds them, and the whole-model calibration applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgelat.core.kernels import OpKernel, model_kernels
from edgelat.core.tflite_file import Graph, read_graph
from edgelat.errors import DataError
from edgelat.predictors.kernel_context import describe, kernel_bytes, streamed_share
from edgelat.predictors.kernels import KernelPredictor, kernel_type
from edgelat.predictors.tflite_ops import find_blocks


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


def _unpriced(model: KernelPredictor, ops: list[OpKernel], by_block: dict) -> list[tuple[str, str]]:
    priced = set(model.types())
    return [(k.op, k.why or f"no {kernel_type(k.spec)} predictor in the model") for k in ops
            if k.index not in by_block and (k.spec is None or kernel_type(k.spec) not in priced)]


def _rows(model: KernelPredictor, ops: list[OpKernel], by_block: dict) -> list[dict[str, Any]]:
    priced = set(model.types())
    wanted = [k for k in ops if k.index not in by_block and k.spec is not None and kernel_type(k.spec) in priced]
    ms = dict(zip((k.index for k in wanted), model.predict([k.spec for k in wanted]) if wanted else [], strict=True))
    rows = []
    for k in ops:
        shape = "+".join(k.spec.inputs) + " -> " + k.spec.output if k.spec else ""
        if k.index in by_block:
            key, price = by_block[k.index]
            rows.append({"index": k.index, "op": k.op, "shape": shape, "latency_ms": price, "priced_as": key})
        else:
            price = float(ms[k.index]) if k.index in ms else None
            rows.append({"index": k.index, "op": k.op, "shape": shape, "latency_ms": price,
                         "priced_as": "kernel" if price is not None else "unpriced"})
    return rows


def _context_mb(rows: list[dict[str, Any]], ops: list[OpKernel]) -> tuple[float, float]:
    """MB of weights of the ops priced as kernels, and MB of traffic per inference of every op."""
    weights = traffic = 0.0
    for r, k in zip(rows, ops, strict=True):
        if k.spec is not None:
            w, t = kernel_bytes(k.spec)
            weights += w if r["priced_as"] == "kernel" else 0.0
            traffic += t
    return weights / 1e6, traffic / 1e6


def _apply_calibration(calibration: dict[str, Any], rows: list[dict[str, Any]], ops: list[OpKernel],
                       traffic_mb: float, kernel_sum: float, dtype: str) -> str:
    """Each kernel-priced op times the factor, plus the cost of its share of weights streamed past the
    cache; returns the note that says so."""
    share = streamed_share(calibration, traffic_mb)
    for r, k in zip(rows, ops, strict=True):
        if r["priced_as"] == "kernel":
            r["latency_ms"] = (r["latency_ms"] * calibration["factor"]
                               + calibration["ms_per_mb"] * share * kernel_bytes(k.spec)[0] / 1e6)
    streamed = f" ({share:.0%} of its weights streamed: {traffic_mb:.1f} MB of traffic)" if share else ""
    return (f"kernel sum {kernel_sum:.4f} ms calibrated on {calibration['models']} measured whole {dtype} model(s): "
            f"{describe(calibration)}{streamed}")


def predict_kernels(model: KernelPredictor, path: str | Path, allow_unpriced: bool = False, blocks=None
                    ) -> dict[str, Any]:
    """Latency of every op of a .tflite model. An op with no kernel type, or of a type the model has no
    predictor for, is an error naming it; with `allow_unpriced` a note, the total then a lower bound."""
    graph = read_graph(path)
    ops = model_kernels(graph)
    by_block = _block_prices(graph, blocks)
    unpriced = _unpriced(model, ops, by_block)
    if unpriced and not allow_unpriced:
        op, why = unpriced[0]
        raise DataError(f"{path}: op {op} cannot be priced ({why}); {len(unpriced)} op(s) in all "
                        "(--allow-unpriced makes the total a lower bound)")
    rows, notes = _rows(model, ops, by_block), []
    dtype = "int8" if any(k.spec is not None and k.spec.dtype == "int8" for k in ops) else "fp32"
    kernel_sum = sum(r["latency_ms"] or 0.0 for r in rows)
    weight_mb, traffic_mb = _context_mb(rows, ops)
    calibration = model.calibration_.get(dtype)
    if calibration is not None:
        notes.append(_apply_calibration(calibration, rows, ops, traffic_mb, kernel_sum, dtype))
    total = sum(r["latency_ms"] or 0.0 for r in rows)
    for r in rows:
        r["share"] = (r["latency_ms"] or 0.0) / total if total > 0 else 0.0
    if unpriced:
        notes.append(f"{len(unpriced)} op(s) not priced ({', '.join(sorted({op for op, _ in unpriced}))}): "
                     "the total is a lower bound")
    if by_block:
        notes.append(f"{len({v[0] for v in by_block.values()})} MBConv block(s) priced from the block table")
    return {"tflite": str(path), "dtype": dtype, "latency_ms": total, "kernel_sum_ms": kernel_sum,
            "weight_mb": weight_mb, "traffic_mb": traffic_mb, "calibrated": calibration is not None,
            "lower_bound": bool(unpriced), "ops": rows, "notes": notes}
