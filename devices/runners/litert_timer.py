#!/usr/bin/env python3
"""Time .tflite models with the LiteRT interpreter and print JSON statistics.

This file is self-contained (stdlib + numpy + a LiteRT runtime) because it is the timing
core everywhere: the host runs it as a worker process, and Linux boards get it pushed
over ADB. It must never import TensorFlow: that costs seconds and hundreds of MB, and
would disturb the timings. On boards without ``ai_edge_litert`` it uses ``tflite_runtime``.

Modes:
  litert_timer.py MODEL.tflite [--warmup N] [--runs N] [--min-time-ms T] [--threads N] [--cpus 0,1]
                  [--evict-bytes B]
      one measurement, one JSON object on stdout.
  litert_timer.py --serve [--threads N] [--cpus 0]
      a hello line, then one JSON request per stdin line -> one JSON response line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

PROTOCOL = 1


def load_runtime():
    """Return (Interpreter class, runtime name, version); ai_edge_litert first."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        name = "ai_edge_litert"
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter

            name = "tflite_runtime"
        except ImportError:
            sys.stdout.write(json.dumps({"ok": False, "error": "no LiteRT runtime: pip install ai-edge-litert"}) + "\n")
            sys.exit(3)
    try:
        from importlib.metadata import version

        ver = version(name.replace("_", "-"))
    except Exception:  # metadata missing on some board images: say so, do not guess
        ver = "unknown"
    return Interpreter, name, ver


def percentile(sorted_values, q):
    """Linear-interpolated percentile (numpy's default method) of an ascending list."""
    if not sorted_values:
        raise ValueError("no samples")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def timing_stats(samples_ms):
    """Summary statistics of per-run latencies in ms (in the order they ran). `drift` compares the
    median of the last third of the runs with the first third's: load that came or went mid-way."""
    values = sorted(samples_ms)
    n = len(values)
    third = n // 3
    drift = 0.0
    if third >= 3:
        first, last = percentile(sorted(samples_ms[:third]), 50), percentile(sorted(samples_ms[-third:]), 50)
        drift = last / first - 1.0 if first > 0 else 0.0
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {
        "n": n,
        "median_ms": percentile(values, 50),
        "mean_ms": mean,
        "std_ms": std,
        "p5_ms": percentile(values, 5),
        "p95_ms": percentile(values, 95),
        "min_ms": values[0],
        "max_ms": values[-1],
        "cv": std / mean if mean > 0 else float("nan"),
        "drift": drift,
    }


def random_input(detail, rng):
    import numpy as np

    shape = [int(d) for d in detail["shape"]]
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return rng.standard_normal(shape).astype(dtype)


MAX_RUNS = 100_000


def l2_bytes(cpu=None):
    """Size of the L2 cache of `cpu` (default: the first CPU this process may run on), from sysfs;
    None where the OS does not say."""
    if cpu is None:
        cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    base = f"/sys/devices/system/cpu/cpu{cpu}/cache"
    try:
        for index in sorted(os.listdir(base)):
            with open(f"{base}/{index}/level") as fh:
                if fh.read().strip() != "2":
                    continue
            with open(f"{base}/{index}/size") as fh:
                text = fh.read().strip().upper()
            units = {"K": 1024, "M": 1024**2, "G": 1024**3}
            return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
    except (OSError, ValueError):
        return None
    return None


def make_interpreter(interpreter_cls, model, threads, batch=1, delegate="xnnpack"):
    """The interpreter, allocated: XNNPACK (LiteRT's default CPU delegate) or, with delegate 'none', the
    built-in kernels alone; with `batch` > 1 every input's first dimension resized to it."""
    kwargs = {}
    if delegate == "none":
        from ai_edge_litert.interpreter import OpResolverType

        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = interpreter_cls(model_path=model, num_threads=threads, **kwargs)
    if batch > 1:
        for d in interp.get_input_details():
            interp.resize_tensor_input(d["index"], [batch, *list(d["shape"])[1:]])
    interp.allocate_tensors()
    return interp


def measure(interpreter_cls, model, warmup, runs, threads, min_time_ms=0.0, evict_bytes=0, label="cold", batch=1,
            delegate="xnnpack"):
    """Warm up, then time invocations one by one until both `runs` are done and `min_time_ms`
    of timed work has passed (short blocks need more runs for a stable median).

    With `evict_bytes`, every timed run starts with its weights cold and its input warm, as a
    block's are inside a whole network: a buffer of that size (the core's L2) is read, then the
    input is written again. Measured: isolated blocks timed warm sum to 25-45% below whole
    networks; timed this way, within a few percent at 64 px on a quiet machine. `label` names the
    method in the stats' `timing` ("cold-<bytes>": the L2; "context-<bytes>": a network's stream).
    """
    import numpy as np

    if runs < 1 or warmup < 0 or min_time_ms < 0 or evict_bytes < 0:
        raise ValueError(f"need runs >= 1, warmup >= 0, min_time_ms >= 0, evict_bytes >= 0 "
                         f"(got {runs}, {warmup}, {min_time_ms}, {evict_bytes})")
    t0 = time.perf_counter()
    interp = make_interpreter(interpreter_cls, model, threads, batch, delegate)
    init_ms = (time.perf_counter() - t0) * 1e3
    rng = np.random.default_rng(0)
    inputs = [(d["index"], random_input(d, rng)) for d in interp.get_input_details()]
    for index, value in inputs:
        interp.set_tensor(index, value)
    for _ in range(warmup):
        interp.invoke()
    evict = np.ones(evict_bytes // 8) if evict_bytes else None
    samples = []
    clock = time.perf_counter_ns
    timed_ms = 0.0  # with a sweep, the sweeps count too: 12 MB of them before each run of a 0.01 ms
    # block would otherwise make `min_time_ms` take 20,000 sweeps
    while len(samples) < runs or (timed_ms < min_time_ms and len(samples) < MAX_RUNS):
        swept = clock()
        if evict is not None:
            evict.sum()  # read-only sweep: the model's weights leave the caches it exceeds
            for index, value in inputs:
                interp.set_tensor(index, value)  # the input is warm, as a block's is in a network
        start = clock()
        interp.invoke()
        end = clock()
        samples.append((end - start) / 1e6)
        timed_ms += (end - swept) / 1e6
    stats = timing_stats(samples)
    stats.update(init_ms=init_ms, warmup=warmup, runs=len(samples), threads=threads, min_time_ms=min_time_ms,
                 evict_bytes=evict_bytes, timing=f"{label}-{evict_bytes}" if evict_bytes else "plain", batch=batch,
                 delegate=delegate, input_shape=[int(v) for v in interp.get_input_details()[0]["shape"]])
    return stats


def pin(cpus):
    """Pin this process to `cpus` where the OS allows; return the affinity actually in force."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    if cpus:
        os.sched_setaffinity(0, cpus)
    return sorted(os.sched_getaffinity(0))


def hello(runtime, version, affinity, threads):
    return {
        "hello": "litert_timer",
        "protocol": PROTOCOL,
        "runtime": runtime,
        "runtime_version": version,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "pid": os.getpid(),
        "affinity": affinity,
        "threads": threads,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "l2_bytes": l2_bytes(),
    }


def serve(interpreter_cls, threads, batch=1, delegate="xnnpack"):
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            stats = measure(
                interpreter_cls, req["model"], int(req.get("warmup", 10)), int(req.get("runs", 50)),
                int(req.get("threads", threads)), float(req.get("min_time_ms", 0.0)), int(req.get("evict_bytes", 0)),
                str(req.get("timing_label", "cold")), int(req.get("batch", batch)), str(req.get("delegate", delegate)),
            )
            resp = {"ok": True, "id": req.get("id"), "stats": stats}
        except Exception as exc:  # report and keep serving: one bad model must not end a campaign
            resp = {"ok": False, "id": (req.get("id") if isinstance(req, dict) else None),
                    "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(resp) + "\n")
        sys.stdout.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?")
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-time-ms", type=float, default=0.0, help="keep timing until this much has passed")
    ap.add_argument("--cpus", default="", help="comma-separated CPU ids to pin to")
    ap.add_argument("--evict-bytes", default="0", help="bytes to read before each timed run ('l2': the core's L2)")
    ap.add_argument("--timing-label", default="cold", help="the method's name in the result: cold or context")
    ap.add_argument("--batch", type=int, default=1, help="inferences per invocation (inputs resized)")
    ap.add_argument("--delegate", default="xnnpack", choices=("xnnpack", "none"),
                    help="none: LiteRT's built-in kernels without XNNPACK")
    args = ap.parse_args(argv)
    interpreter_cls, runtime, version = load_runtime()
    cpus = {int(c) for c in args.cpus.split(",") if c.strip()}
    try:
        affinity = pin(cpus)
    except OSError as exc:
        sys.stdout.write(json.dumps({"ok": False, "error": f"cannot pin to CPUs {sorted(cpus)}: {exc}"}) + "\n")
        return 3
    evict = l2_bytes() if args.evict_bytes == "l2" else int(args.evict_bytes)
    if evict is None:  # timing plainly instead would store warm timings as cold ones
        sys.stdout.write(json.dumps({"ok": False, "error": "--evict-bytes l2: this system does not report its "
                                     "L2 cache size (give a byte count, or time plainly)"}) + "\n")
        return 3
    if args.serve:
        sys.stdout.write(json.dumps(hello(runtime, version, affinity, args.threads)) + "\n")
        sys.stdout.flush()
        serve(interpreter_cls, args.threads, args.batch, args.delegate)
        return 0
    if not args.model:
        ap.error("a MODEL path is required unless --serve is given")
    out = hello(runtime, version, affinity, args.threads)
    try:
        out.update(ok=True, stats=measure(interpreter_cls, args.model, args.warmup, args.runs, args.threads,
                                          args.min_time_ms, evict, args.timing_label, args.batch, args.delegate))
    except Exception as exc:
        out.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    sys.stdout.write(json.dumps(out) + "\n")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
