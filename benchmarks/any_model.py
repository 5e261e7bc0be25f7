"""Predict any model (issue #15): kernel predictors against real keras.applications models measured
end to end on the host, fp32 and int8, 1 thread.

Stages (each resumable; `--stage all` runs them in order):
  convert  build the 40+ validation models with random weights and convert them (fp32, int8);
  measure  time every whole model with the project's LiteRT runner, 3 passes far apart (fastest);
  kernels  `profile --from-model` on all of them (timed: the target is < 30 min), and optionally
           --sampled N kernels from the built-in prior alone (no validation kernel);
  report   fit the kernel predictors, predict every model, report per family and overall,
           calibrate on 10 models per dtype (a factor, and weights streamed past the cache) and report
           the other models (held out), write the
           measured set to data/ and the figure to benchmarks/any_model.png.
Run it with nothing else on the machine: the measurements are the ground truth.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from any_model_models import convert_all, validation_models  # noqa: E402

from edgelat.devices.backends import open_backend  # noqa: E402
from edgelat.devices.catalog import get_device  # noqa: E402
from edgelat.devices.passes import passes_in_rounds  # noqa: E402
from edgelat.devices.policy import DEFAULT_POLICY, MeasurementPolicy  # noqa: E402
from edgelat.predictors import metrics  # noqa: E402
from edgelat.predictors.kernel_context import context_ms, describe, fit_context  # noqa: E402
from edgelat.predictors.kernels import KernelPredictor  # noqa: E402
from edgelat.profiler.store import host_info  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA_CSV = REPO / "data" / "keras_apps_host_latency.csv"
FIGURE = Path(__file__).with_suffix(".png")
CALIBRATION_K = 10
SAMPLED = 1500  # kernels per dtype of the sampled-only variant (no kernel of the validation models)
ADAPTIVE = 2  # rounds of the adaptive variant, each of SAMPLED kernels near the worst predicted
SPLITS = 100  # random calibration/held-out draws averaged, beside the fixed one

# Whole models as the profiler measures whole networks (3 passes), with fewer runs but more timed work each:
# these models take up to ~100 ms a run.
WHOLE_MODELS = DEFAULT_POLICY.with_changes(warmup=3, runs=10, min_time_ms=500.0)


def model_files(work: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted((work / "models").glob("*.tflite"))}


def measure(work: Path, policy: MeasurementPolicy = WHOLE_MODELS) -> None:
    """Every whole model, in passes over all models (resuming from measured.json); the fastest pass counts."""
    files = model_files(work)
    out = work / "measured.json"
    done = json.loads(out.read_text()) if out.is_file() else {}

    def saved(n: int, key: str, m) -> None:
        out.write_text(json.dumps(done, indent=1))
        said = f"{m.latency_ms:.3f} ms" if m.ok else f"measurement failed: {m.error}"
        print(f"pass {n} {key} {said}", file=sys.stderr, flush=True)

    with open_backend(get_device("host")) as backend:
        passes_in_rounds(list(files), lambda key: policy.measure(backend, files[key]), policy.passes,
                         policy.pass_gap_s, done, saved)


def profile_kernels(work: Path, timing: str, sampled: int, adaptive: int = 0) -> None:
    """The user's flow: `edgelat profile --from-model <every model>` (or --kernels N alone, then
    --adaptive R rounds of N more near the worst predicted, starting from a copy of the sampled store), timed."""
    import shutil

    from edgelat.predictors.kernel_adaptive import run_adaptive
    from edgelat.profiler.workflow import ProfileOptions, run_profile

    name = f"kernels-{timing}" + (f"-sampled{sampled}" if sampled else "")
    if adaptive:
        shutil.copyfile(work / f"{name}.sqlite", work / f"{name}-adaptive{adaptive}.sqlite")
        name += f"-adaptive{adaptive}"
    what = {"kernels": sampled} if sampled else {"from_models": tuple(map(str, model_files(work).values()))}
    opts = ProfileOptions(device="host", store=str(work / f"{name}.sqlite"), timing=timing, dtype="both",
                          cache_dir=str(work / "cache"), runs=30, warmup=5, **what,
                          min_time_ms=0.0 if timing == "cold" else 100.0)  # each cold run flushes L2 first
    start = time.perf_counter()
    if adaptive:
        result, rounds = run_adaptive(opts, adaptive)
        summary = {**result.summary, "adaptive": [r.as_dict() for r in rounds]}
    else:
        summary = dict(run_profile(opts).summary)
    summary["elapsed_s"] = time.perf_counter() - start
    (work / f"{name}.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary), file=sys.stderr)


def _family(key: str) -> str:
    return key.split("-")[0]


def predictions(work: Path, store: Path) -> tuple[KernelPredictor, dict[str, dict]]:
    """The kernel predictors fitted on `store`, and their pricing of every model (uncalibrated)."""
    from edgelat.predictors.datasets import load_kernels
    from edgelat.predictors.kernel_pricing import predict_kernels

    specs, y, _ = load_kernels(store)
    model = KernelPredictor().fit(specs, y)
    return model, {k: predict_kernels(model, p) for k, p in model_files(work).items()}


def calibrated(priced: dict[str, dict], measured: dict[str, float], cal: list[str], keys: list[str],
               streaming: bool = True) -> tuple[dict[str, float], dict[str, dict]]:
    """`keys` priced after calibrating on the whole models `cal` (fit --calibrate's method), and the
    calibration per dtype; without `streaming`, the factor alone (a cache that holds everything)."""
    fits = {}
    for d in ("fp32", "int8"):
        mine = [k for k in cal if priced[k]["dtype"] == d]
        columns = [[priced[k][c] for k in mine] for c in ("kernel_sum_ms", "weight_mb", "traffic_mb")]
        fits[d] = fit_context(*columns, [measured[k] for k in mine],
                              **({} if streaming else {"grid_mb": (float("inf"),)}))
    return {k: context_ms(fits[priced[k]["dtype"]], priced[k]["kernel_sum_ms"], priced[k]["weight_mb"],
                          priced[k]["traffic_mb"]) for k in keys}, fits


def _row(label: str, y: np.ndarray, p: np.ndarray) -> str:
    r = metrics.report(y, p)
    err = p / y - 1
    worst = float(err[np.argmax(np.abs(err))]) if len(y) else float("nan")
    return (f"| {label} | {r['n']} | {r['acc5']:.0%} | {r['acc10']:.0%} | {r['mape']:.1%} | {r['spearman']:.3f} | "
            f"{worst:+.0%} |")


def calibration_split(keys: list[str], seed: int = 0) -> list[str]:
    """CALIBRATION_K models per dtype, drawn by seed; everything else is held out."""
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for dtype in ("fp32", "int8"):
        mine = sorted(k for k in keys if k.endswith(dtype))
        chosen += list(rng.choice(mine, size=min(CALIBRATION_K, len(mine)), replace=False))
    return chosen


def _spread(priced: dict[str, dict], measured: dict[str, float], keys: list[str], streaming: bool
            ) -> dict[str, list[float]]:
    """Held-out ±10% share per dtype over SPLITS random calibration draws."""
    spread: dict[str, list[float]] = {"fp32": [], "int8": []}
    for seed in range(1, SPLITS + 1):
        c = calibration_split(keys, seed)
        h = [k for k in keys if k not in c]
        pred, _ = calibrated(priced, measured, c, h, streaming)
        for d in spread:
            spread[d].append(np.mean([abs(pred[k] / measured[k] - 1) < 0.10 for k in h if k.endswith(d)]))
    return spread


def _summary_rows(timing: str, priced: dict[str, dict], measured: dict[str, float]) -> list[str]:
    """Kernel sum on all models and on the held-out ones; calibrated (factor alone, and factor plus
    weights streamed past the cache) on a fixed draw and over SPLITS random draws, judged held out."""
    keys = sorted(k for k in measured if k in priced)
    raw = {k: priced[k]["kernel_sum_ms"] for k in keys}
    cal = calibration_split(keys)
    held = [k for k in keys if k not in cal]
    out = []
    for streaming, label in ((False, "factor"), (True, "factor+streaming")):
        fixed, fits = calibrated(priced, measured, cal, held, streaming)
        spread = _spread(priced, measured, keys, streaming)
        for d in ("fp32", "int8"):
            hk = [k for k in held if k.endswith(d)]
            yh = np.array([measured[k] for k in hk])
            if not streaming:
                ks = [k for k in keys if k.endswith(d)]
                y = np.array([measured[k] for k in ks])
                out += [_row(f"{d}, {timing} kernel sum, all", y, np.array([raw[k] for k in ks])),
                        _row(f"{d}, {timing} kernel sum, held out", yh, np.array([raw[k] for k in hk]))]
            out += [_row(f"{d}, {timing} {label} on {CALIBRATION_K}, held out ({describe(fits[d])})", yh,
                         np.array([fixed[k] for k in hk])),
                    f"| {d}, {timing} {label}, held out, {SPLITS} random draws | {len(hk)} | | "
                    f"{np.mean(spread[d]):.0%} (min {np.min(spread[d]):.0%}, 10th pct "
                    f"{np.percentile(spread[d], 10):.0%}) | | | |"]
    return out


def report(work: Path, timing: str) -> None:
    measured = {k: min(v) for k, v in json.loads((work / "measured.json").read_text()).items()}
    stores = {"plain": "kernels-plain", "cold": "kernels-cold", "sampled": f"kernels-plain-sampled{SAMPLED}",
              "sampled+adaptive": f"kernels-plain-sampled{SAMPLED}-adaptive{ADAPTIVE}"}
    fitted = {t: predictions(work, work / f"{name}.sqlite") for t, name in stores.items()
              if (work / f"{name}.sqlite").is_file()}
    pred = {k: r["kernel_sum_ms"] for k, r in fitted[timing][1].items()}
    keys = sorted(k for k in measured if k in pred)
    print(f"CPU {host_info()['cpu']}, 1 thread; calibration: {CALIBRATION_K} models per dtype "
          f"({', '.join(sorted(calibration_split(keys)))}), judged on the other models\n")
    print("| set | n | ±5% | ±10% | MAPE | Spearman | worst |\n|---|---|---|---|---|---|---|")
    for t, (_, priced) in fitted.items():
        print("\n".join(sorted(_summary_rows(t, priced, measured), key=lambda r: r.split(",")[0])))
    print(f"\nper family ({timing} kernel sum, all models)\n")
    print("| set | n | ±5% | ±10% | MAPE | Spearman | worst |\n|---|---|---|---|---|---|---|")
    for dtype in ("fp32", "int8"):
        ks = [k for k in keys if k.endswith(dtype)]
        for fam in sorted({_family(k) for k in ks}):
            fk = [k for k in ks if _family(k) == fam]
            print(_row(f"{dtype} {fam}", np.array([measured[k] for k in fk]), np.array([pred[k] for k in fk])))
    worst = sorted(keys, key=lambda k: -abs(pred[k] / measured[k] - 1))[:8]
    print("\nlargest errors: " + ", ".join(f"{k} {pred[k] / measured[k] - 1:+.1%}" for k in worst))
    _write(keys, measured, {t: {k: r["kernel_sum_ms"] for k, r in p.items()} for t, (_, p) in fitted.items()})
    cal = calibration_split(keys)
    held, _ = calibrated(fitted[timing][1], measured, cal, [k for k in keys if k not in cal])
    _plot(keys, measured, pred, held, timing)


def _write(keys: list[str], measured: dict[str, float], preds: dict[str, dict[str, float]]) -> None:
    cpu = host_info()["cpu"]
    with DATA_CSV.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        sums = [f"kernel_sum_{t}_ms" for t in preds]
        w.writerow(["model", "family", "dtype", "measured_ms", *sums, "cpu", "threads"])
        for k in keys:
            w.writerow([k.rsplit("-", 1)[0], _family(k), k.rsplit("-", 1)[1], f"{measured[k]:.4f}",
                        *(f"{p[k]:.4f}" for p in preds.values()), cpu, 1])
    print(f"wrote {DATA_CSV}", file=sys.stderr)


def _plot(keys, measured, pred, held, timing: str) -> None:
    """Kernel sums of every model (hollow) and calibrated predictions of the held-out ones (filled)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, dtype in zip(axes, ("fp32", "int8"), strict=True):
        ks = [k for k in keys if k.endswith(dtype)]
        for i, fam in enumerate(sorted({_family(k) for k in keys})):
            fk = [k for k in ks if _family(k) == fam]
            marker, color = "os^Dv<>"[i % 7], plt.cm.tab20(i)
            ax.scatter([measured[k] for k in fk], [pred[k] for k in fk], s=22, facecolors="none",
                       edgecolors=color, marker=marker, lw=0.8)
            hk = [k for k in fk if k in held]
            ax.scatter([measured[k] for k in hk], [held[k] for k in hk], s=20, label=fam, color=color, marker=marker)
        lo, hi = min(measured[k] for k in ks) * 0.8, max(measured[k] for k in ks) * 1.25
        xs = np.geomspace(lo, hi, 50)
        ax.plot(xs, xs, "k-", lw=0.8)
        ax.fill_between(xs, xs * 0.9, xs * 1.1, color="grey", alpha=0.2, label="±10%")
        ax.set(xscale="log", yscale="log", xlabel="measured ms (host, 1 thread)", ylabel="predicted ms",
               title=f"{dtype}: {len(ks)} keras.applications models")
        ax.legend(fontsize=7)
    fig.suptitle(f"Whole models from kernel predictors (kernels timed {timing}): hollow = kernel sum, "
                 f"filled = calibrated on {CALIBRATION_K} others (held out)")
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=110)
    print(f"wrote {FIGURE}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("runs/any-model"))
    ap.add_argument("--stage", choices=["convert", "measure", "kernels", "report", "all"], default="all")
    ap.add_argument("--timing", choices=["plain", "cold"], default="plain")
    ap.add_argument("--sampled", type=int, default=0, help="kernels stage: N sampled kernels instead of the models'")
    ap.add_argument("--adaptive", type=int, default=0, help="kernels stage, with --sampled: R adaptive rounds more")
    args = ap.parse_args()
    stages = ["convert", "measure", "kernels", "report"] if args.stage == "all" else [args.stage]
    if "convert" in stages:
        convert_all(validation_models(), args.work / "models")
    if "measure" in stages:
        measure(args.work)
    if "kernels" in stages:
        profile_kernels(args.work, args.timing, args.sampled, args.adaptive)
    if "report" in stages:
        report(args.work, args.timing)


if __name__ == "__main__":
    main()
