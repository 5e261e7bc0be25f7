"""Int8 models with float input and output (the converter's default for full-int8 models): TFLite
adds a QUANTIZE at the input and a DEQUANTIZE at the output, and kernel predictors must price both.

Uses the work directory of benchmarks/any_model.py (its int8 models, measurements and kernel store):
  1. converts a subset of its models once more to int8 with float input and output;
  2. measures each beside its int8-input twin, in the same passes (fastest of 3);
  3. `profile --from-model` on the float-I/O files into a copy of the plain kernel store, so only the
     QUANTIZE and DEQUANTIZE kernels are new;
  4. prices both variants with the int8 calibration of any_model.py's fixed split, and reports the
     measured cost of the float ends beside the predicted one, and the ±10% accuracy.
Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from any_model import WHOLE_MODELS, calibration_split, model_files  # noqa: E402
from any_model_models import convert_all, validation_models  # noqa: E402

from edgelat.devices.backends import open_backend  # noqa: E402
from edgelat.devices.catalog import get_device  # noqa: E402
from edgelat.devices.passes import passes_in_rounds  # noqa: E402
from edgelat.predictors.kernel_context import context_ms, fit_context  # noqa: E402
from edgelat.profiler.store import host_info  # noqa: E402

SUBSET = ("MobileNet-a0.25-r128", "MobileNet-a1-r224", "MobileNetV2-a0.35-r128", "MobileNetV2-a1-r224",
          "MobileNetV3Small-a1-r224", "MobileNetV3Large-a1-r224", "EfficientNetB0-r224", "ResNet50-r160",
          "DenseNet121-r160", "NASNetMobile-r224")
ENDS = ("QUANTIZE", "DEQUANTIZE")


def convert(work: Path) -> dict[str, Path]:
    models = [m for m in validation_models() if m.name in SUBSET]
    return convert_all(models, work / "float-io", dtypes=("int8-float-io",))


def pairs(work: Path) -> dict[str, Path]:
    """Every float-I/O model and its int8-input twin, by key."""
    twins = model_files(work)
    out = {}
    for name in SUBSET:
        fio = work / "float-io" / f"{name}-int8-float-io.tflite"
        if fio.is_file() and f"{name}-int8" in twins:
            out[f"{name}-int8"], out[f"{name}-int8-float-io"] = twins[f"{name}-int8"], fio
    return out


def measure(work: Path) -> dict[str, float]:
    """Both variants of each model in the same passes (resuming); the fastest pass of each counts."""
    files, out = pairs(work), work / "float-io" / "measured.json"
    done = json.loads(out.read_text()) if out.is_file() else {}

    def saved(n: int, key: str, m) -> None:
        out.write_text(json.dumps(done, indent=1))
        print(f"pass {n} {key} {m.latency_ms if m.ok else m.error}", file=sys.stderr, flush=True)

    with open_backend(get_device("host")) as backend:
        passes_in_rounds(list(files), lambda key: WHOLE_MODELS.measure(backend, files[key]), WHOLE_MODELS.passes,
                         WHOLE_MODELS.pass_gap_s, done, saved)
    return {k: min(v) for k, v in done.items()}


def profile_ends(work: Path) -> Path:
    """The user's flow on the float-I/O files, into a copy of the plain kernel store."""
    from edgelat.profiler.workflow import ProfileOptions, run_profile

    store = work / "float-io" / "kernels-plain.sqlite"
    if not store.is_file():
        shutil.copyfile(work / "kernels-plain.sqlite", store)
    files = tuple(str(p) for k, p in pairs(work).items() if k.endswith("float-io"))
    start = time.perf_counter()
    summary = run_profile(ProfileOptions(device="host", store=str(store), timing="plain", dtype="int8",
                                         cache_dir=str(work / "cache"), runs=30, warmup=5, min_time_ms=100.0,
                                         from_models=files)).summary
    print(f"profiled {summary['measured']} new kernels in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return store


def report(work: Path, store: Path, measured: dict[str, float]) -> None:
    from edgelat.predictors.datasets import load_kernels
    from edgelat.predictors.kernel_pricing import predict_kernels
    from edgelat.predictors.kernels import KernelPredictor

    specs, y, _ = load_kernels(store)
    model = KernelPredictor().fit(specs, y)
    files = pairs(work)
    priced = {k: predict_kernels(model, p) for k, p in files.items()}
    base = {k: min(v) for k, v in json.loads((work / "measured.json").read_text()).items()}
    base_priced = {k: predict_kernels(model, p) for k, p in model_files(work).items() if k.endswith("int8")}
    cal = [k for k in calibration_split(sorted(base)) if k.endswith("int8")]
    columns = [[base_priced[k][c] for k in cal] for c in ("kernel_sum_ms", "weight_mb", "traffic_mb")]
    fits = {"int8": fit_context(*columns, [base[k] for k in cal])}
    print(f"CPU {host_info()['cpu']}, 1 thread; int8 calibration from any_model.py's fixed split "
          f"({len(cal)} int8-input models)\n")
    print("| model | measured int8 I/O ms | measured float I/O ms | float ends measured ms | predicted ms "
          "| float I/O predicted ms | error | calibrated on it |\n|---|---|---|---|---|---|---|---|")
    errors = []
    for name in SUBSET:
        k8, kf = f"{name}-int8", f"{name}-int8-float-io"
        if kf not in priced or kf not in measured or k8 not in measured:
            continue
        ends = sum(r["latency_ms"] for r in priced[kf]["ops"] if r["op"] in ENDS)
        p = _context(fits["int8"], priced[kf])
        errors.append(p / measured[kf] - 1)
        print(f"| {name} | {measured[k8]:.3f} | {measured[kf]:.3f} | {measured[kf] - measured[k8]:+.3f} | "
              f"{ends:.3f} | {p:.3f} | {errors[-1]:+.1%} | {'yes' if k8 in cal else 'no'} |")
    e = np.abs(errors)
    print(f"\nfloat-I/O int8 models within ±10%: {np.mean(e < 0.10):.0%} ({len(e)} models), "
          f"±5%: {np.mean(e < 0.05):.0%}, MAPE {np.mean(e):.1%}")


def _context(calibration: dict, priced: dict) -> float:
    return context_ms(calibration, priced["kernel_sum_ms"], priced["weight_mb"], priced["traffic_mb"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("runs/any-model"), help="benchmarks/any_model.py's work dir")
    args = ap.parse_args()
    if not (args.work / "kernels-plain.sqlite").is_file() or not (args.work / "measured.json").is_file():
        sys.exit(f"{args.work}: run benchmarks/any_model.py first (its measured models and plain kernel store)")
    convert(args.work)
    measured = measure(args.work)
    report(args.work, profile_ends(args.work), measured)


if __name__ == "__main__":
    main()
