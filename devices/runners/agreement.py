#!/usr/bin/env python3
"""Run one sample batch through an int8 model and its fp32 twin with LiteRT; print their agreement as JSON.

Self-contained (stdlib + numpy + ai_edge_litert or tflite_runtime) so it can be pushed to a
Linux board like litert_timer.py. The batch is seeded standard-normal inputs; the int8 model's
inputs are quantized with its own scale and zero point, its outputs dequantized. Reported:
top-1 agreement (argmax of the last axis), mean cosine similarity, and the largest absolute
difference relative to the fp32 output's range.

Usage: agreement.py INT8.tflite FP32.tflite [--samples N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import sys


def load_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tflite_runtime.interpreter import Interpreter
    return Interpreter


def invoke_float(interp, x):
    """Invoke `interp` on float input `x` (quantised with the input's own scale and zero point when it is an
    integer tensor); return its first output as float64, dequantised likewise. Also used by search/litert_check.py."""
    import numpy as np

    inp = interp.get_input_details()[0]
    if np.issubdtype(inp["dtype"], np.integer):
        scale, zero = inp["quantization"]
        info = np.iinfo(inp["dtype"])
        x = np.clip(np.round(x / scale) + zero, info.min, info.max).astype(inp["dtype"])
    interp.set_tensor(inp["index"], x.astype(inp["dtype"]))
    interp.invoke()
    out = interp.get_output_details()[0]
    y = interp.get_tensor(out["index"]).astype(np.float64)
    if np.issubdtype(out["dtype"], np.integer):
        scale, zero = out["quantization"]
        y = (y - zero) * scale
    return y


def main(argv=None) -> int:
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("int8")
    ap.add_argument("fp32")
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        interpreter_cls = load_interpreter()
        q, f = interpreter_cls(model_path=args.int8), interpreter_cls(model_path=args.fp32)
        q.allocate_tensors()
        f.allocate_tensors()
        qin, fin = q.get_input_details()[0], f.get_input_details()[0]
        if list(qin["shape"]) != list(fin["shape"]):
            raise ValueError(f"input shapes differ: int8 {list(qin['shape'])} vs fp32 {list(fin['shape'])}")
        rng = np.random.default_rng(args.seed)
        agree, cosines, max_rel = 0, [], 0.0
        for _ in range(args.samples):
            x = rng.standard_normal(list(fin["shape"])).astype(np.float32)
            yq, yf = invoke_float(q, x), invoke_float(f, x)
            if yq.shape != yf.shape:
                raise ValueError(f"output shapes differ: {yq.shape} vs {yf.shape}")
            agree += int(np.array_equal(np.argmax(yq, axis=-1), np.argmax(yf, axis=-1)))
            a, b = yq.ravel(), yf.ravel()
            denom = float(np.linalg.norm(a) * np.linalg.norm(b))
            cosines.append(float(a @ b) / denom if denom > 0 else float(np.array_equal(a, b)))
            spread = float(b.max() - b.min()) or 1.0
            max_rel = max(max_rel, float(np.abs(a - b).max()) / spread)
        out = {"ok": True, "samples": args.samples, "top1_agreement": agree / args.samples,
               "mean_cosine": sum(cosines) / len(cosines), "max_abs_diff_rel": max_rel}
    except Exception as exc:
        out = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(out) + "\n")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
