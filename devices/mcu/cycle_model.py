"""An ESTIMATE of int8 inference time on Cortex-M cores (TFLite-Micro with CMSIS-NN kernels).

Per op, cycles = s_core * (gemm_macs + r_dw * dw_macs + r_traffic * traffic_bytes) + o_op, where
gemm MACs are those of conv / 1x1 conv / fully-connected (CMSIS-NN runs them all as int8 matrix
multiplies with SMLAD), dw MACs those of depthwise convs (memory bound, little reuse), and
traffic the activation bytes read and written plus the im2col bytes of kxk convs (requantisation,
copies, element-wise ops). s_core is per core; r_dw, r_traffic and the per-op overhead o_op are
shared, because both cores run the same CMSIS-NN kernels.

The five coefficients are fitted (least squares on log latency) to the published measurements in
data/mcu_published_latency.csv: TFLM + CMSIS-NN on STM32H743 (Cortex-M7, 480 MHz) from the
TinyEngine README (mit-han-lab/tinyengine, "Measured Results", CMSIS-NN column) for MCUNet's
ImageNet models, and the MLPerf Tiny v0.5 reference submission (TFLM v2.3.1) on NUCLEO-L4R5ZI
(Cortex-M4F, 120 MHz) (mlcommons/tiny_results_v0.5, closed/reference). Error on those figures:
in-sample max 2.1 %, leave-one-out max 11.8 %, mean 3.9 % (tests/test_mcu.py checks it).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgelat.devices.mcu.net_text import parse_net
from edgelat.devices.mcu.ops import McuOp
from edgelat.errors import DataError

CORES = ("cortex-m7", "cortex-m4")
GEMM_KINDS = ("conv", "pw", "fc")

# Fitted by fit_coefficients() on data/mcu_published_latency.csv (all rows); see the module docstring.
COEFFICIENTS: dict[str, float] = {
    "s_cortex-m7": 0.902221,  # cycles per gemm MAC on Cortex-M7
    "s_cortex-m4": 2.593415,  # cycles per gemm MAC on Cortex-M4
    "r_dw": 7.828098,  # a depthwise MAC costs this many gemm MACs
    "r_traffic": 25.595325,  # an activation byte moved costs this many gemm MACs
    "o_op": 29841.8,  # cycles of fixed cost per op (interpreter dispatch, kernel set-up)
}
# Flash taken by the TFLM runtime, CMSIS-NN kernels and board code, besides the model itself:
# median over MCUNet in0..in3 of (published TFLM+CMSIS-NN flash on STM32H743, TinyEngine README,
# kB read as KiB) minus their int8 weights and int32 biases. It includes the flatbuffer's own
# metadata, so it errs on the safe side. Used for both cores.
RUNTIME_FLASH_BYTES = 363_208

DATA_FILE = Path(__file__).resolve().parents[2] / "data" / "mcu_published_latency.csv"


@dataclass(frozen=True)
class CycleEstimate:
    """Estimated cycles and ms of a network on one core at one clock (an estimate, not a measurement)."""

    cycles: float
    latency_ms: float
    core: str
    clock_mhz: float
    per_op: tuple[tuple[str, float], ...] = ()


def check_core(core: str, where: str = "") -> str:
    if core not in CORES:
        prefix = f"{where}: " if where else ""
        raise DataError(f"{prefix}core {core!r} has no MCU cycle model (known: {', '.join(CORES)})")
    return core


def op_features(op: McuOp) -> tuple[float, float, float]:
    """(gemm MACs, depthwise MACs, traffic bytes) of one op."""
    gemm = op.macs if op.kind in GEMM_KINDS else 0
    dw = op.macs if op.kind == "dw" else 0
    im2col = op.macs // op.channels if op.kind == "conv" and op.channels else 0
    return float(gemm), float(dw), float(op.in_bytes + op.out_bytes + im2col)


def op_cycles(op: McuOp, core: str, coef: dict[str, float] | None = None) -> float:
    c = coef or COEFFICIENTS
    gemm, dw, traffic = op_features(op)
    return c[f"s_{core}"] * (gemm + c["r_dw"] * dw + c["r_traffic"] * traffic) + c["o_op"]


def estimate(ops: Sequence[McuOp], core: str, clock_mhz: float, coef: dict[str, float] | None = None,
             per_op: bool = False) -> CycleEstimate:
    """Estimated cycles and ms of `ops` run in sequence on `core` at `clock_mhz`."""
    check_core(core)
    if not clock_mhz or clock_mhz <= 0:
        raise DataError(f"clock_mhz must be positive, got {clock_mhz!r}")
    if not ops:
        raise DataError("no ops to estimate")
    cyc = [op_cycles(op, core, coef) for op in ops]
    total = sum(cyc)
    detail = tuple((op.name, c) for op, c in zip(ops, cyc, strict=True)) if per_op else ()
    return CycleEstimate(total, total / (clock_mhz * 1e3), core, clock_mhz, detail)


# -- calibration ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CalibrationPoint:
    name: str
    board: str
    core: str
    clock_mhz: float
    latency_ms: float
    ops: tuple[McuOp, ...]
    source: str


def load_calibration(path: str | Path = DATA_FILE) -> list[CalibrationPoint]:
    """The published figures (one network per row); errors name the file, line and field."""
    path = Path(path)
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    points = []
    with fh:
        reader = csv.DictReader(fh)
        need = ("name", "board", "core", "clock_mhz", "latency_ms", "network", "source")
        missing = [c for c in need if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
        for row in reader:
            where = f"{path} line {reader.line_num}"
            check_core(row["core"], where)
            try:
                clock, latency = float(row["clock_mhz"]), float(row["latency_ms"])
            except ValueError:
                raise DataError(f"{where}: clock_mhz and latency_ms must be numbers") from None
            if not (clock > 0 and latency > 0):
                raise DataError(f"{where}: clock_mhz and latency_ms must be positive")
            if not row["source"].strip():
                raise DataError(f"{where}: field 'source' is empty; every figure needs its source")
            ops = tuple(parse_net(row["network"], where))
            points.append(CalibrationPoint(row["name"], row["board"], row["core"], clock, latency, ops, row["source"]))
    if not points:
        raise DataError(f"{path}: no calibration rows")
    return points


def _totals(points: Sequence[CalibrationPoint]) -> list[tuple[float, float, float, float]]:
    out = []
    for p in points:
        feats = [op_features(op) for op in p.ops]
        out.append((sum(f[0] for f in feats), sum(f[1] for f in feats), sum(f[2] for f in feats), float(len(p.ops))))
    return out


def fit_coefficients(points: Sequence[CalibrationPoint]) -> dict[str, float]:
    """Least squares on log(predicted / published) latency; all coefficients kept non-negative."""
    from scipy.optimize import least_squares

    cores = sorted({p.core for p in points})
    feats = np.array(_totals(points))
    target = np.array([p.latency_ms * p.clock_mhz * 1e3 for p in points])
    core_idx = np.array([cores.index(p.core) for p in points])

    def cycles(x):
        s = x[core_idx]
        r_dw, r_t, o = x[len(cores):]
        return s * (feats[:, 0] + r_dw * feats[:, 1] + r_t * feats[:, 2]) + o * feats[:, 3]

    x0 = [2.0] * len(cores) + [3.0, 10.0, 1000.0]
    res = least_squares(lambda x: np.log(cycles(x) / target), x0, bounds=(0.0, np.inf))
    coef = {f"s_{c}": float(v) for c, v in zip(cores, res.x[: len(cores)], strict=True)}
    coef.update(r_dw=float(res.x[-3]), r_traffic=float(res.x[-2]), o_op=float(res.x[-1]))
    return coef


def calibration_errors(points: Sequence[CalibrationPoint], coef: dict[str, float] | None = None
                       ) -> list[tuple[str, float]]:
    """(name, predicted / published - 1) with the given (default: stored) coefficients."""
    return [(p.name, estimate(p.ops, p.core, p.clock_mhz, coef).latency_ms / p.latency_ms - 1) for p in points]


def leave_one_out_errors(points: Sequence[CalibrationPoint]) -> list[tuple[str, float]]:
    """Each point predicted by coefficients fitted without it (points whose core would be left with
    no other row are skipped: its scale cannot be fitted)."""
    out = []
    for i, p in enumerate(points):
        rest = [q for j, q in enumerate(points) if j != i]
        if not any(q.core == p.core for q in rest):
            continue
        coef = fit_coefficients(rest)
        out.append((p.name, estimate(p.ops, p.core, p.clock_mhz, coef).latency_ms / p.latency_ms - 1))
    return out


def summary(errors: Sequence[tuple[str, float]]) -> dict[str, float]:
    abs_err = [abs(e) for _, e in errors]
    return {"n": len(abs_err), "max_abs": max(abs_err), "mean_abs": sum(abs_err) / len(abs_err),
            "rms": math.sqrt(sum(e * e for e in abs_err) / len(abs_err))}
