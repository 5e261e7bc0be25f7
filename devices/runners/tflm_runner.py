#!/usr/bin/env python3
"""Run an int8 .tflite model once with the TFLite-Micro interpreter and print one JSON object.

Self-contained (stdlib + numpy + tflite-micro, optionally ai_edge_litert): edgelat runs it in a
subprocess, so a crash inside the interpreter fails one measurement, not the campaign, and
TensorFlow is never imported here.

  tflm_runner.py MODEL.tflite [--arena-size BYTES] [--reference] [--seed N]

Reports the exact tensor arena ("Arena allocation total" of TFLM's RecordingMicroAllocator,
captured from the C-level stderr), and with --reference whether the outputs equal those of
LiteRT's reference kernels (BUILTIN_REF) on the same int8 input. With --arena-size the
interpreter gets exactly that many bytes; "allocated": false says allocation failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile

ARENA_RE = re.compile(r"Arena allocation total (\d+) bytes")
DEFAULT_ARENA = 64 * 1024 * 1024  # host-side headroom; the exact figure is read back from TFLM


def captured(fn):
    """Call fn() with the C-level stdout and stderr redirected; return (result, text, error)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        result, error = None, None
        try:
            result = fn()
        except Exception as exc:  # TFLM raises RuntimeError/ValueError with its own text
            error = f"{type(exc).__name__}: {exc}"
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        tmp.seek(0)
        return result, tmp.read().decode("utf-8", "replace"), error


def emit(obj):
    """Print the one JSON result line; the exit code says whether it is ok."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
    return 0 if obj.get("ok") else 1


def compare_with_reference(ref, x, out):
    """How TFLM's output `out` differs from that of `ref` (LiteRT, reference kernels) on the same int8 input `x`."""
    import numpy as np

    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], x)
    ref.invoke()
    expected = ref.get_tensor(ref.get_output_details()[0]["index"])
    diff = np.abs(out.astype(np.int32) - expected.astype(np.int32))
    return {"shape_equal": list(expected.shape) == list(out.shape), "max_abs_diff": int(diff.max()) if diff.size else 0,
            "mismatches": int((diff != 0).sum()), "elements": int(diff.size)}


def _arguments(argv) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--arena-size", type=int)
    ap.add_argument("--reference", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = _arguments(argv)
    try:
        import numpy as np
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as exc:
        return emit({"ok": False, "error": f"tflite-micro is not installed ({exc}): pip install tflite-micro"})
    try:
        with open(args.model, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return emit({"ok": False, "error": f"{args.model}: cannot read: {exc.strerror}"})

    arena = args.arena_size if args.arena_size is not None else max(DEFAULT_ARENA, 10 * len(data))
    interp, log, error = captured(lambda: runtime.Interpreter.from_bytes(data, arena_size=arena))
    if error:
        allocation = "allocate" in (error + log).lower()
        return emit({"ok": args.arena_size is not None and allocation, "allocated": False,
                     "arena_size": arena, "error": error, "log": log[-2000:]})
    details, log2, error = captured(lambda: interp.get_input_details(0))
    if error:
        return emit({"ok": False, "error": f"cannot read the input tensor: {error}", "log": (log + log2)[-2000:]})
    dtype = np.dtype(details["dtype"])
    if dtype != np.int8:
        return emit({"ok": False, "error": f"input tensor is {dtype.name}, not int8: MCUs run int8 models",
                     "input_dtype": dtype.name})
    rng = np.random.default_rng(args.seed)
    x = rng.integers(-128, 128, size=tuple(int(d) for d in details["shape"])).astype(np.int8)

    def run():
        interp.set_input(x, 0)
        interp.invoke()
        return interp.get_output(0)

    out, log3, error = captured(run)
    if error:
        allocation = "allocate" in (error + log3).lower()
        return emit({"ok": args.arena_size is not None and allocation, "allocated": False, "arena_size": arena,
                     "error": f"invoke failed: {error}", "log": log3[-2000:]})
    _, alloc_log, error = captured(interp.print_allocations)
    match = ARENA_RE.search(alloc_log)
    if error or not match or int(match.group(1)) <= 0:
        return emit({"ok": False, "error": "TFLM printed no 'Arena allocation total N bytes' line",
                     "log": alloc_log[-2000:]})
    result = {"ok": True, "allocated": True, "arena_size": arena, "arena_bytes": int(match.group(1)),
              "model_bytes": len(data), "input_shape": [int(d) for d in details["shape"]],
              "output_shape": list(out.shape), "output_dtype": out.dtype.name,
              "allocations": alloc_log.strip().splitlines(),
              "tensorflow_imported": "tensorflow" in sys.modules}
    if args.reference:
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError as exc:
            return emit({"ok": False, "error": f"--reference needs ai-edge-litert ({exc})"})
        ref = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        result["reference"] = compare_with_reference(ref, x, out)
    return emit(result)


if __name__ == "__main__":
    sys.exit(main())
