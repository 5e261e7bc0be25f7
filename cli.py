"""The ``edgelat`` command: parses arguments and calls the layers; no logic of its own.

Any EdgelatError becomes a one-line ``edgelat: error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from edgelat import __version__
from edgelat.core.cli_vocabulary import modernize
from edgelat.core.progress_bar import err, with_bar
from edgelat.core.quiet import quiet_tensorflow
from edgelat.devices.passes import MIN_PASS_S
from edgelat.errors import EdgelatError, OptionError, StoreError
from edgelat.predictors.registry import PREDICTORS
from edgelat.profiler.options import DTYPE_CHOICES, MIN_TIME_MS
from edgelat.search.front_search import FRONT_SEARCHES
from edgelat.search.signals import SIGNALS
from edgelat.search.strategies import STRATEGIES

# Piped output gets a wide console so tables are not truncated at 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)



@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgelat")
@click.option("-v", "--verbose", is_flag=True, help="Show TensorFlow's own start-up and conversion logs.")
def cli(verbose: bool) -> None:
    """edgelat: profile MBConv blocks on devices, predict latency, search architectures."""
    if verbose:  # before any command imports TensorFlow; worker processes inherit it
        os.environ["EDGELAT_VERBOSE"] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"


# -- devices -----------------------------------------------------------------------------
@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--device-file", "device_files", multiple=True, type=click.Path(), help="Add a device file.")
def devices(as_json: bool, device_files: tuple[str, ...]) -> None:
    """List the device catalog."""
    from edgelat.devices.catalog import list_devices

    devs = list_devices(device_files)
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in devs], indent=2))
        return
    table = Table("name", "kind", "transport", "runtime", "delegate", "threads", "cpu_mask", "memory", "description")
    for d in devs:
        mem = ", ".join(f"{k} {_fmt_bytes(v)}" for k, v in d.memory.items())
        table.add_row(d.name, d.kind, d.transport, d.runtime, d.delegate, str(d.threads), d.cpu_mask or "",
                      mem, d.description)
    out.print(table)


def _fmt_bytes(n: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{n}B"


def _with_bar(workflow, *args):
    """Run a workflow with the progress bar drawn on stderr (core/progress_bar.py)."""
    return with_bar(workflow, *args)


# -- profile -----------------------------------------------------------------------------
def _print_profile(result, top: int, as_json: bool) -> None:
    s = result.summary
    if as_json:
        click.echo(json.dumps(s))
    else:
        units = s.get("units")
        per_unit = f" ({', '.join(f'{u} {n}' for u, n in units.items()) or 'none'})" if units is not None else ""
        err.print(f"{s['device']}: {s['measured']} measured{per_unit}, {s['failed']} failed, "
                  f"{s['already_done']} already in {s['store']} ({s['wall_s']:.1f} s)")
        _print_slowest(result.rows, top)
        for dtype, parts in s.get("fixed_parts_ms", {}).items():
            err.print(f"fixed parts ({dtype}): " + ", ".join(f"{k} {v:.3f} ms" for k, v in parts.items()))
        if result.device.kind == "mcu":
            err.print("note: MCU latencies are estimates of the calibrated cycle model; SRAM and flash are TFLM's")


def _print_slowest(rows, top: int) -> None:
    if not rows or top <= 0:
        return
    rows = sorted(rows, key=lambda r: r["median_ms"], reverse=True)[:top]
    what = "networks" if "net_key" in rows[0] else "kernels" if "kernel_key" in rows[0] else "blocks"
    table = Table(what[:-1], "median ms", "p5-p95 ms", "cv", title=f"slowest {len(rows)} {what}")
    for r in rows:
        spread = f"{r['p5_ms']:.3f}-{r['p95_ms']:.3f}" if r["p5_ms"] is not None and r["p95_ms"] is not None else "-"
        cv = f"{r['cv']:.1%}" if r["cv"] is not None else "-"
        table.add_row(r.get("block_key") or r.get("kernel_key") or r["net_key"], f"{r['median_ms']:.3f}", spread, cv)
    out.print(table)


@cli.command()
@click.option("--device", "device_name", default="host", show_default=True, help="Device name from the catalog.")
@click.option("--device-file", type=click.Path(), help="A device file (instead of --device).")
@click.option("--space", default="single-path", show_default=True, help="Search space whose blocks to profile.")
@click.option("--resolution", type=int, help="Input resolution of the space [default: the space's own].")
@click.option("--width", default=1.0, show_default=True, help="Width multiplier of the space.")
@click.option("--sample", type=click.Choice(["space", "random", "grid"]), default="space", show_default=True,
              help="Profile the space's blocks, or a random/grid sample over --ranges.")
@click.option("--ranges", type=click.Path(), help="TOML file of value lists per block field (random/grid).")
@click.option("--n", "n", default=200, show_default=True, help="Number of random blocks.")
@click.option("--seed", default=0, show_default=True)
@click.option("--limit", type=int, help="Measure a reproducible random subset of N blocks.")
@click.option("--dtype", type=click.Choice(list(DTYPE_CHOICES)), default=None,
              help="Block dtype [default: int8 on microcontrollers, fp32 elsewhere].")
@click.option("--store", "store_path", type=click.Path(), help="Store file [default: runs/DEVICE.sqlite].")
@click.option("--runs", default=50, show_default=True, help="Timed runs per block.")
@click.option("--warmup", default=10, show_default=True, help="Warm-up runs per block.")
@click.option("--min-time-ms", default=MIN_TIME_MS, show_default=True,
              help="Keep timing a block until this much timed work has passed (more runs for short blocks).")
@click.option("--threads", type=int, help="Override the device's thread count.")
@click.option("--workers", default=2, show_default=True, help="Conversion processes.")
@click.option("--calibration-samples", default=8, show_default=True, help="int8 calibration samples.")
@click.option("--cache-dir", type=click.Path(), help="TFLite cache [default: $EDGELAT_CACHE_DIR or ~/.cache/edgelat].")
@click.option("--top", default=10, show_default=True, help="Show the N slowest blocks at the end.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--benchmark-binary", type=click.Path(), help="TFLite benchmark_model for Android devices.")
@click.option("--serial", help="ADB device: USB serial or host:port (overrides the device file).")
@click.option("--ssh", metavar="USER@HOST[:PORT]", help="Linux board over SSH: user@host[:port] or a Host of "
              "~/.ssh/config (overrides the device file; needs edgelat[ssh]).")
@click.option("--op-profiling", is_flag=True, help="Android: run benchmark_model with --enable_op_profiling.")
@click.option("--cluster", help="Device farm: shard blocks over every unit of the device in this Ray cluster "
              "('auto', 'ray://HOST:PORT' or a head's HOST:PORT; needs edgelat[farm]).")
@click.option("--timing", type=click.Choice(["auto", "context", "cold", "plain"]), default="auto", show_default=True,
              help="Blocks: context = before each run, sweep the bytes the space's typical network streams per "
              "inference, so weights start as cached as inside it; cold = sweep the L2; plain = back-to-back runs "
              "(auto: context for a space's blocks, cold for other blocks, where the device can).")
@click.option("--networks", default=0, show_default=True,
              help="Measure N whole networks of --space (spread over its cost range) instead of blocks.")
@click.option("--from-suggestions", type=click.Path(), help="Measure the whole networks listed in this file (one "
              "encoding per line, as `edgelat suggest -o` writes).")
@click.option("--arch", "archs", multiple=True,
              help="Measure this whole network of --space (its encoding; repeatable).")
@click.option("--passes", default=0, show_default=True,
              help="Measure everything N times, pass after pass; the fastest counts, since other work only "
              "adds time (0: 3 for whole networks, 1 for blocks).")
@click.option("--pass-gap-s", default=MIN_PASS_S, show_default=True,
              help="Passes start at least this many seconds apart; on a shared machine, whose slow spells mostly "
              "last seconds, 20 s keeps one spell from slowing every pass.")
@click.option("--spell-guard", default=0.0, show_default=True,
              help="Time a probe block before and after every pass, wait while it reads more than this fraction "
              "over its fastest (e.g. 0.05), and run passes that ended slow again (0: off).")
@click.option("--probe-history", type=click.Path(dir_okay=False),
              help="The store keeping the probe's readings, to share one yardstick across campaigns "
              "[default: --store].")
@click.option("--spell-wait-s", default=300.0, show_default=True,
              help="With --spell-guard: wait at most this long for a slow spell to pass before each pass.")
@click.option("--kernels", default=0, show_default=True,
              help="Measure N sampled kernels (single TFLite operators, per dtype) instead of blocks, drawn like "
              "real CNNs' layers (around the --from-model ones when given).")
@click.option("--from-model", "from_models", multiple=True, type=click.Path(),
              help="Measure every kernel of this .tflite model (repeatable): what a kernel predictor needs for it.")
@click.option("--adaptive", default=0, show_default=True,
              help="With --kernels N: N more kernels in each of this many rounds, drawn near the kernels the "
              "fitted predictors get most wrong out of fold (nn-Meter's adaptive sampling).")
@click.option("--fixed-parts", is_flag=True, help="Also measure the space's stem and head (printed; in --json).")
@click.option("--num-classes", type=int, help="Head classes for --fixed-parts [default: the space's].")
@click.option("--replicate", default=0, show_default=True,
              help="With --cluster: measure the first N blocks on every unit (unit-to-unit spread in `report`).")
def profile(device_name, device_file, store_path, top, as_json, adaptive, **kw) -> None:
    """Measure blocks (or kernels, or whole networks) on a device into a crash-safe store (re-run to resume)."""
    from edgelat.profiler.options import ProfileOptions, check_options, with_suggestions
    from edgelat.profiler.workflow import run_profile

    opts = with_suggestions(ProfileOptions(device=device_name, device_file=device_file, store=store_path, **kw))
    check_options(opts)
    if adaptive < 0 or (adaptive and not opts.kernels):
        raise OptionError(f"--adaptive must be >= 0 and needs --kernels N (the size of each round), got {adaptive}")
    if adaptive:
        from edgelat.predictors.kernel_adaptive import run_adaptive

        result, rounds = _with_bar(run_adaptive, opts, adaptive)
        result.summary["adaptive"] = [r.as_dict() for r in rounds]
        if not as_json:
            for i, r in enumerate(rounds):
                accs = sorted(a for a in r.acc10.values() if a == a)
                err.print(f"round {i}: {r.kernels} kernels, out-of-fold ±10% by type: median "
                          f"{accs[len(accs) // 2]:.0%}, lowest {accs[0]:.0%}" if accs else f"round {i}: {r.kernels}")
    else:
        result = _with_bar(run_profile, opts)
    _print_profile(result, top, as_json)
    result.check_fits()  # MCUs: a block that does not fit is one line, exit code 2
    for key, error in result.failures:
        err.print(f"[red]failed:[/] {key}: {error}")


@cli.command()
@click.argument("store_path", type=click.Path())
@click.option("--measured-on", "device", help="Only the rows measured on this device.", metavar="DEVICE")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def report(store_path: str, device: str | None, as_json: bool) -> None:
    """Summarize a store: blocks per device and unit, and the spread between units of one model."""
    from edgelat.profiler.farm.spread import store_summary
    from edgelat.profiler.store import open_existing

    with open_existing(store_path) as store:
        rows = store.rows(device=device, status=None, latest=False)
    if not rows:
        raise StoreError(f"{store_path}: no measurements{f' for device {device!r}' if device else ''}")
    summary = store_summary(rows)
    if as_json:
        click.echo(json.dumps(summary))
        return
    for g in summary:
        units = ", ".join(f"{u} ({n})" for u, n in g["units"].items())
        out.print(f"[bold]{g['device']}[/] ({g['threads']} thread(s)): {g['blocks']} blocks ok, "
                  f"{g['failed_rows']} failed row(s); units: {units}")
        if g["remeasured"]:
            why = ", ".join(f"{n} by {k}" for k, n in g["remeasured_why"].items())
            out.print(f"  {g['remeasured']} measurement(s) looked disturbed by other work and were re-measured "
                      f"({why}; the first ones are kept with status 'disturbed')")
        sp = g["spread"]
        if sp is None:
            if len(g["units"]) > 1:
                out.print("  no block was measured by two units: no unit-to-unit spread (profile with --replicate N)")
            continue
        out.print(f"  unit-to-unit spread over {sp['shared_blocks']} shared blocks: median "
                  f"{sp['median_spread']:.1%}, max {sp['max_spread']:.1%} ((max - min) / median per block)")
        table = Table("unit", "shared blocks", "median deviation", "max |deviation|")
        for unit, u in sp["units"].items():
            table.add_row(unit, str(u["blocks"]), f"{u['median_deviation']:+.1%}", f"{u['max_abs_deviation']:.1%}")
        out.print(table)


@cli.command("farm-resources")
def farm_resources() -> None:
    """Print this machine's device units (from $EDGELAT_FARM, default ~/.config/edgelat/farm.toml) as Ray
    resources JSON, for `ray start --resources` (start Ray with the same $EDGELAT_FARM)."""
    from edgelat.devices.discovery import discover_units, node_resources

    units = discover_units(warn=lambda m: err.print(f"[yellow]warning:[/] {m}"))
    for u in units:
        err.print(f"unit {u.uid} ({u.device.transport}, {u.device.runtime})")
    click.echo(json.dumps(node_resources(units)))


@cli.command()
@click.argument("model", type=click.Path())
@click.option("--device", "device_name", default="host", show_default=True, help="Device name from the catalog.")
@click.option("--device-file", type=click.Path(), help="A device file (instead of --device).")
@click.option("--benchmark-binary", type=click.Path(), help="TFLite benchmark_model for Android devices.")
@click.option("--serial", help="ADB device: USB serial or host:port (overrides the device file).")
@click.option("--ssh", metavar="USER@HOST[:PORT]", help="Linux board over SSH: user@host[:port] or a Host of "
              "~/.ssh/config (overrides the device file; needs edgelat[ssh]).")
@click.option("--runs", default=50, show_default=True, help="Timed runs.")
@click.option("--warmup", default=10, show_default=True, help="Warm-up runs.")
@click.option("--min-time-ms", default=MIN_TIME_MS, show_default=True, help="Keep timing until this much has passed.")
@click.option("--threads", type=int, help="Override the device's thread count.")
@click.option("--passes", default=3, show_default=True,
              help="Measure N times, at least --pass-gap-s apart; the fastest counts, as for the profiler's whole "
                   "networks (other work only adds time).")
@click.option("--pass-gap-s", default=MIN_PASS_S, show_default=True, help="Passes start at least this far apart.")
@click.option("--compare-fp32", type=click.Path(), help="Linux boards/host: fp32 twin to check int8 agreement against.")
@click.option("--samples", default=32, show_default=True, help="Sample batch size for --compare-fp32.")
@click.option("--op-profiling", is_flag=True, help="Android: run benchmark_model with --enable_op_profiling.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def deploy(model, device_name, device_file, benchmark_binary, serial, ssh, runs, warmup, min_time_ms, threads,
           passes, pass_gap_s, compare_fp32, samples, op_profiling, as_json) -> None:
    """Push a .tflite model to a device, benchmark it, and compare with the search's prediction."""
    from edgelat.devices import deploy as dep
    from edgelat.devices.catalog import get_device

    if runs < 1 or warmup < 0 or min_time_ms < 0 or samples < 1:
        raise OptionError(f"--runs and --samples must be >= 1, --warmup and --min-time-ms >= 0 "
                           f"(got {runs}, {samples}, {warmup}, {min_time_ms})")
    device = dep.with_overrides(get_device(device_name if device_file is None else None, device_file),
                                benchmark_binary, serial, ssh)
    r = dep.deploy(model, device, threads=threads, warmup=warmup, runs=runs, min_time_ms=min_time_ms,
                   compare_fp32=compare_fp32, samples=samples, op_profiling=op_profiling, passes=passes,
                   pass_gap_s=pass_gap_s)
    for w in r["warnings"]:
        err.print(f"[yellow]warning:[/] {w}")
    if as_json:
        click.echo(json.dumps(r))
        return
    stat = "median" if r["latency_stat"] == "median" else "mean (this benchmark_model prints no median)"
    each = "" if len(r["passes_ms"]) == 1 else f"; the fastest of {len(r['passes_ms'])} passes: " + ", ".join(
        f"{ms:.3f}" for ms in r["passes_ms"])
    out.print(f"{r['device']}: measured {r['measured_ms']:.3f} ms ({stat} of {r['runs']} runs, {r['runtime']}{each})")
    if r["predicted_ms"] is not None:
        out.print(f"predicted {r['predicted_ms']:.3f} ms ({r['sidecar']}), error {r['error_pct']:+.1f}%")
    if r["predicted_interval_ms"] is not None:
        lo, hi = r["predicted_interval_ms"]
        level = f"{r['interval_level']:.0%} " if r["interval_level"] else ""
        where = "inside" if r["within_interval"] else "OUTSIDE"
        out.print(f"measured {where} the predicted {level}interval {lo:.3f}–{hi:.3f} ms")
    if r["throttled"]:
        err.print("[yellow]warning:[/] the device was throttled during this measurement")
    if "hexagon_total_ms" in r:
        out.print(f"DSP ops: {r['hexagon_total_cycles']} cycles = {r['hexagon_total_ms']:.3f} ms")
    if "fp32_agreement" in r:
        a = r["fp32_agreement"]
        out.print(f"int8 vs fp32 on {a['samples']} samples: top-1 agreement {a['top1_agreement']:.1%}, "
                  f"mean cosine {a['mean_cosine']:.4f}, max |diff| {a['max_abs_diff_rel']:.2%} of the fp32 range")


@cli.command()
@click.argument("store_path", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="CSV file to write.")
@click.option("--measured-on", "device", help="Only the rows measured on this device.", metavar="DEVICE")
@click.option("--whole-networks", "networks", is_flag=True,
              help="Write the whole networks (op0..opN, latency_ms) instead of blocks.")
@click.option("--space", help="With --whole-networks: only this space's networks.")
def export(store_path: str, output: str, device: str | None, networks: bool, space: str | None) -> None:
    """Write a store's latest successful measurements as a block (or whole-network) table CSV."""
    from edgelat.profiler.export import export_store

    r = export_store(store_path, output, device, networks, space)
    err.print(f"wrote {r['rows']} {r['what']} to {output}")


# -- predictors ---------------------------------------------------------------------------
def _print_json_or(obj, as_json: bool, human) -> None:
    if as_json:
        click.echo(json.dumps(obj))
    else:
        human(obj)


@cli.command()
@click.option("--table", "data", required=True, type=click.Path(),
              help="Block table (.csv/.sqlite/.json/.yaml) or network CSV.")
@click.option("--kind", "kind", required=True, type=click.Choice(PREDICTORS.names()),
              help="kernels: one predictor per kernel type, from a kernel table (profile --kernels/--from-model), "
              "for `predict --tflite` of any model.")
@click.option("--space", help="The data is a whole-network table of this layer-wise space (op0..opN columns).")
@click.option("--target", default="latency_ms", show_default=True, help="Latency column of a network table.")
@click.option("--source", type=click.Path(), help="Source-device model for --kind transfer.")
@click.option("--prior", multiple=True, help="Network tables: one of 'none', 'flops', 'params', 'physics' (a "
              "non-negative mix of kernel launches, MACs, weight and activation bytes), a layer-wise MODEL.json of "
              "another device or a block MODEL.json of this one (a block table calibrated by a few whole networks) "
              "forces that prior; by default (or 'auto', or several) fit chooses by CV among none, flops, params, "
              "physics, every model given and physics stacked with them. A folder gives every model JSON in it; "
              "'shipped' every device table of the space in edgelat's data/.")
@click.option("--resolution", type=int, help="Network tables: the networks' input size [default: the space's].")
@click.option("--dtype", type=click.Choice(["fp32", "int8"]), default="fp32", show_default=True,
              help="Network tables with a block-model prior: which blocks it prices.")
@click.option("--measured-on", "device", metavar="DEVICE",
              help="Store files: only the rows measured on this device (also recorded in the model).")
@click.option("--cv", default=5, show_default=True, help="Cross-validation folds (0: none).")
@click.option("--calibrate", type=click.Path(), help="Kernel predictors: a CSV of whole models measured on the device "
              "(columns tflite, latency_ms; `edgelat deploy MODEL.tflite --json` measures one: its measured_ms): "
              "per dtype, a factor and the cost of weights streamed past the cache.")
@click.option("-o", "--output", required=True, type=click.Path(), help="Model file to write (JSON).")
@click.option("--json", "as_json", is_flag=True)
def fit(data, kind, space, target, source, prior, resolution, dtype, device, cv, calibrate, output, as_json) -> None:
    """Fit a latency predictor and save it as JSON."""
    from edgelat.predictors import workflow

    result = workflow.fit(data, kind, output, space, target, source, prior, cv, device, resolution, dtype,
                          calibrate)

    def human(r):
        for note in r["notes"]:
            err.print(f"note: {note}")
        err.print(f"fitted {r['kind']} on {r['training_size']} rows of {r['data']} -> {r['output']}")
        if r["cv"]:
            c = r["cv"]
            out.print(f"{cv}-fold CV: ±10% {c['acc10']:.1%}  ±5% {c['acc5']:.1%}  MAPE {c['mape']:.2%}  "
                      f"RMSE {c['rmse_ms']:.4f} ms  Spearman {c['spearman']:.4f}")
        if "coefficients" in r:
            table = Table("feature", "coefficient (ms per unit)", title="linear model")
            for name, value in r["coefficients"].items():
                table.add_row(name, f"{value:.6g}")
            out.print(table)
        if "prior_choice" in r:
            table = Table("prior", "CV Spearman", "CV ±10%", "CV MAPE", title="prior candidates (out-of-fold)")
            for name, c in r["prior_choice"]["candidates"].items():
                mark = " (chosen)" if name == r["prior_choice"]["chosen"] else ""
                table.add_row(name + mark, f"{c['spearman']:.3f}", f"{c['acc10']:.1%}", f"{c['mape']:.1%}")
            out.print(table)
        if "scale" in r:
            alpha = "none (scaled prior only)" if r["alpha"] is None else f"{r['alpha']:.3g}"
            out.print(f"prior scale {r['scale']:.4g}, intercept {r['intercept']:.4g} ms, ridge alpha {alpha}")

    _print_json_or(result, as_json, human)


@cli.command()
@click.option("--predictor", "model_path", required=True, type=click.Path(), help="Model JSON from `edgelat fit`.")
@click.option("--table", "data", required=True, type=click.Path(), help="A latency table, as for fit.")
@click.option("--space")
@click.option("--target", default="latency_ms", show_default=True)
@click.option("--measured-on", "device", metavar="DEVICE", help="Only the rows measured on this device.")
@click.option("--plot", type=click.Path(), help="Write predicted vs measured (log axes, ±10% band) to this PNG.")
@click.option("--json", "as_json", is_flag=True)
def evaluate(model_path, data, space, target, device, plot, as_json) -> None:
    """Score a saved predictor on a table: n, rmse_ms, mape, acc5, acc10, kendall, spearman."""
    from edgelat.predictors import workflow

    report = workflow.evaluate(model_path, data, space, target, device, plot)
    def human(r):
        out.print(f"n {r['n']}  ±10% {r['acc10']:.1%}  ±5% {r['acc5']:.1%}  MAPE {r['mape']:.2%}  "
                  f"RMSE {r['rmse_ms']:.4f} ms  Kendall {r['kendall']:.4f}  Spearman {r['spearman']:.4f}")
        if "interval_coverage" in r:
            out.print(f"{r['interval_level']:.0%} interval: covered {r['interval_coverage']:.1%} of the rows, width "
                      f"{r['interval_width']:.1%} of the prediction (median {r['interval_width_ms_median']:.4g} ms)")

    _print_json_or(report, as_json, human)
    if plot and not as_json:
        err.print(f"wrote {plot}")


def _print_ops(ops: list[dict], top: int) -> None:
    """The per-op table of a kernel prediction: the `top` costliest ops, in model order."""
    keep = sorted(sorted(ops, key=lambda r: -(r["latency_ms"] or 0.0))[:top], key=lambda r: r["index"])
    table = Table("#", "op", "shape", "predicted ms", "share", "priced as",
                  title=f"{len(keep)} costliest of {len(ops)} ops")
    for r in keep:
        priced_as = "fallback (MACs, bytes)" if r["priced_as"] == "fallback" else r["priced_as"]
        table.add_row(str(r["index"]), r["op"], r["shape"], f"{r['latency_ms']:.4f}", f"{r['share']:.1%}", priced_as)
    out.print(table)


@cli.command()
@click.option("--predictor", "model_path", required=True, type=click.Path())
@click.option("--block", help="A block key, e.g. mbconv-i56-c24-o24-e6-k5-s1-se0-relu6-fp32.")
@click.option("--arch", help="An architecture encoding, e.g. single-path:0123...")
@click.option("--space", help="The space of --arch (default: the encoding's prefix).")
@click.option("--tflite", type=click.Path(), help="A .tflite file: its MBConv blocks under a block predictor, "
              "every op under a kernel predictor.")
@click.option("--strict", is_flag=True, help="Kernel predictors: an op of a type no kernel predictor covers is an "
              "error naming it (default: priced by the fallback from its MACs and bytes moved, and marked).")
@click.option("--blocks", "blocks_path", type=click.Path(), help="Kernel predictors: a block LUT MODEL.json whose "
              "blocks win over their kernels' sum where it holds them.")
@click.option("--top", default=15, show_default=True, help="Kernel predictors: show the N costliest ops.")
@click.option("--json", "as_json", is_flag=True)
def predict(model_path, block, arch, space, tflite, strict, blocks_path, top, as_json) -> None:
    """Predict the latency of a block, an architecture or a .tflite model."""
    from edgelat.predictors import workflow

    result = workflow.predict(model_path, block, arch, space, tflite, strict, blocks_path)

    def human(r):
        band = ""
        if "interval_ms" in r:
            lo, hi = r["interval_ms"]
            band = f"  ({r['interval_level']:.0%} interval {lo:.4f}–{hi:.4f} ms)"
        if "ops" in r:
            _print_ops(r["ops"], top)
        out.print(f"{r['latency_ms']:.4f} ms{band}")

    _print_json_or(result, as_json, human)
    if not as_json:
        for note in result.get("notes", []):
            err.print(f"note: {note}")


@cli.command()
@click.option("--predictor", "model_path", type=click.Path(), help="A whole-network model JSON.")
@click.option("--new-device", is_flag=True, help="No model yet: the networks that best pin down a device never "
              "seen (its kernel launches, MACs, weight and activation bytes); needs --space.")
@click.option("--space", help="Check that the model is of this space (with --new-device: the space).")
@click.option("--n", "count", default=20, show_default=True, help="How many networks to suggest.")
@click.option("--pool", default=2000, show_default=True, help="Random networks of the space to choose from.")
@click.option("--seed", default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(),
              help="Write the encodings, one per line (for profile --from-suggestions).")
@click.option("--json", "as_json", is_flag=True)
def suggest(model_path, new_device, space, count, pool, seed, output, as_json) -> None:
    """Whole networks to measure next: those made of the layer choices measured least so far, or with
    --new-device the first ones to measure on a device never seen."""
    from edgelat.core.paths import write_output
    from edgelat.predictors import workflow

    if new_device == bool(model_path):
        raise OptionError("suggest: give --predictor MODEL.json, or --new-device --space S (not both)")
    if new_device:
        result = workflow.suggest_new_device(space, count, pool, seed)
    else:
        result = workflow.suggest(model_path, count, pool, space, seed)
    if output:
        write_output(output, "".join(s["arch"] + "\n" for s in result["suggestions"]), "the suggestions")

    def human(r):
        if new_device:
            table = Table("arch", "launches", "MMACs", title=f"{len(r['suggestions'])} networks to measure first on a "
                          f"new device (pool of {r['pool']})")
            for s in r["suggestions"]:
                table.add_row(s["arch"], f"{s['launches']:.0f}", f"{(s['dense_macs'] + s['depthwise_macs']) / 1e6:.1f}")
        else:
            table = Table("arch", "predicted ms", "uncertainty", title=f"{len(r['suggestions'])} networks to measure "
                          f"next (model trained on {r['trained_on']}, pool of {r['pool']})")
            for s in r["suggestions"]:
                table.add_row(s["arch"], f"{s['predicted_ms']:.3f}", f"{s['uncertainty']:.3f}")
        out.print(table)
        if output:
            err.print(f"wrote {output}: measure them with `edgelat profile --from-suggestions {output} ...`")

    _print_json_or(result, as_json, human)


# -- search ------------------------------------------------------------------------------
@cli.command()
@click.option("--space", default="single-path", show_default=True, help="Built-in space or a YAML space file.")
@click.option("--device", "device_name", default="pixel1", show_default=True)
@click.option("--device-file", type=click.Path())
@click.option("--predictor", type=click.Path(), help="Latency model JSON from `edgelat fit` (not needed on MCUs).")
@click.option("--dtype", type=click.Choice(["fp32", "int8"]), default="fp32", show_default=True,
              help="Which model the predictor prices.")
@click.option("--target-ms", type=float, required=True, help="Latency budget in ms.")
@click.option("--budget", type=click.Choice(["hard", "soft"]), default="hard", show_default=True,
              help="hard: never exceed; soft: MnasNet reward acc*(lat/T)^-0.07.")
@click.option("--strategy", type=click.Choice(STRATEGIES.names()),
              help="guided: a Bayesian-ridge surrogate annealed within the limits, evaluated in small batches "
              "[default: guided with --fleet, whose budgets bind at once; else anneal].")
@click.option("--accuracy", type=click.Choice(SIGNALS.names()), default="supernet", show_default=True,
              help="table: measured accuracies (--accuracy-table; NAS-Bench-Macro ships for nb-macro).")
@click.option("--accuracy-table", type=click.Path(), help="CSV of measured accuracies: 'arch' and 'accuracy' columns.")
@click.option("--dataset", "data",
              help="digits, fashion-mnist (Debian's dataset-fashion-mnist, or $EDGELAT_FASHION_MNIST), a "
              "folder of IDX files, an image folder or TFRecords [default: the embedded digits].")
@click.option("--train-images", type=click.IntRange(min=1),
              help="Train on a stratified subset of this many training images [default: all].")
@click.option("--resolution", type=int, help="Deployment input size [default: the space's].")
@click.option("--train-resolution", default=32, show_default=True, help="Input size of the accuracy signal.")
@click.option("--width", default=1.0, show_default=True)
@click.option("--out", required=True, type=click.Path(), help="Output folder.")
@click.option("--seed", default=0, show_default=True)
@click.option("--evaluations", default=100, show_default=True, help="Accuracy evaluations (and random baseline's).")
@click.option("--supernet-epochs", default=30, show_default=True)
@click.option("--superkernel-epochs", "single_path_epochs", default=8, show_default=True)
@click.option("--train-epochs", default=8, show_default=True,
              help="Epochs of each short training from scratch (the train signal, --final-eval train).")
@click.option("--finetune-epochs", type=int,
              help="Fine-tune at the deployment resolution [default: 1 if it differs and the weights were trained].")
@click.option("--ri-samples", default=10, show_default=True, help="Random architectures for the RI baseline.")
@click.option("--max-sram", help="MCUs: peak SRAM limit, e.g. 320KB [default: the device's].")
@click.option("--max-flash", help="MCUs: flash limit, e.g. 1MB [default: the device's].")
@click.option("--no-export", is_flag=True, help="Search only; write no model files.")
@click.option("--final-eval", type=click.Choice(["none", "supernet", "train", "table"]),
              help="How the chosen network, random search's and the RI samples are scored at the end "
                   "[default: table for --accuracy table, supernet/train for those signals, none (no training) "
                   "for zero-cost signals].")
@click.option("--cluster", help="Run the short trainings (train signal, --final-eval train) on a Ray cluster: auto, "
                                "HOST:PORT or ray://HOST:PORT.")
@click.option("--verify", default=0, show_default=True, metavar="ROUNDS",
              help="Measure the chosen network on the device (twice, in separate sittings; the slower counts); "
                   "while it breaks the budget, rescale the model by the measured error and search again (up to "
                   "ROUNDS measurements).")
@click.option("--fleet", type=click.Path(), help="A TOML file of more devices the network must serve, each with its "
              "predictor and budget (feasible only within every budget).")
@click.option("--pareto", is_flag=True, help="Return the front of accuracy against every device's latency "
              "(front.json, front.png) instead of one network.")
@click.option("--front-search", type=click.Choice(FRONT_SEARCHES.names()), default="optuna-tpe", show_default=True,
              help="How --pareto searches (optuna-*: pip install 'edgelat[compare]').")
@click.option("--json", "as_json", is_flag=True)
def search(device_name, device_file, no_export, as_json, **kw) -> None:
    """Find the most accurate network within a latency budget, and export it."""
    from edgelat.search.workflow import SearchOptions, check_options, run_search

    opts = SearchOptions(device=device_name, device_file=device_file, export=not no_export, **kw)
    check_options(opts)
    doc = _with_bar(run_search, opts)
    if opts.pareto and as_json:
        click.echo(json.dumps(doc))
        return
    if opts.pareto:
        _print_front(doc)
        return
    if as_json:
        keys = ("arch", "predicted_ms", "accuracy", "accuracy_signal", "strategy", "files", "device", "constraint",
                "relative_improvement", "random_baseline", "export_check", "memory", "verification", "weights",
                "wall_s")
        click.echo(json.dumps({k: doc.get(k) for k in keys}, default=str))
        return
    _print_search(doc)


def _print_front(doc) -> None:
    """The front on stdout, fastest first: one line per network."""
    devices = [d["device"] for d in doc["devices"]]
    table = Table("#", "arch", doc["accuracy_signal"], *(f"{d} ms" for d in devices),
                  title=f"{len(doc['front'])} networks on the front ({doc['front_search']}, {doc['evaluations']} "
                        f"evaluations; hypervolume {doc['hypervolume']:.4f} against random search's "
                        f"{doc['random_hypervolume']:.4f} at equal evaluations, both normalised alike)")
    for i, p in enumerate(doc["front"]):
        table.add_row(str(i), p["arch"], f"{p['score']:.4g}", *(f"{p['predicted_ms'][d]:.4g}" for d in devices))
    out.print(table)
    for note in doc.get("notes", []):
        out.print(f"note: {note}", markup=False)
    for name, path in doc["files"].items():
        out.print(f"{name}: {path}", markup=False)


def _print_search(doc) -> None:
    """The result on stdout (progress went to stderr)."""
    ri = doc["relative_improvement"]
    out.print(f"{doc['strategy']}: {doc['arch']}  predicted {doc['predicted_ms']:.3f} ms "
              f"(budget {doc['constraint']['target_ms']:g} ms, {doc['device']})", markup=False)
    out.print(f"  {doc['accuracy_signal']} = {doc['accuracy']:.4g}; final evaluation ({ri['evaluation']}) "
              f"{ri['method']:.5g}", markup=False)
    if "ri_vs_random_search" in ri:
        out.print(f"  random search: {ri['random_search']:.5g} -> RI {ri['ri_vs_random_search']:+.2f}%", markup=False)
    if "ri_vs_random_sampling" in ri:
        out.print(f"  random sampling (mean of {len(ri['random_sampling'])}): {ri['random_sampling_mean']:.5g} "
                  f"-> RI {ri['ri_vs_random_sampling']:+.2f}%", markup=False)
    if doc.get("weights"):
        out.print(f"  exported weights: {doc['weights']}", markup=False)
    if doc.get("memory"):
        m = doc["memory"]
        out.print(f"  memory: peak SRAM {m.get('exact_peak_sram_bytes', m['peak_sram_bytes']):,} B, flash "
                  f"{m.get('exact_flash_bytes', m['flash_bytes']):,} B (latency is an estimate)", markup=False)
    if doc.get("export_check"):
        c = doc["export_check"]
        out.print(f"  LiteRT on {c['samples']} test images: fp32 top-1 {c['fp32_top1']:.3f}, int8 top-1 "
                  f"{c['int8_top1']:.3f}, int8 agrees with Keras on {c['int8_agreement_with_keras']:.1%}",
                  markup=False)
    if doc.get("verification"):
        v = doc["verification"]
        last = next(r for r in v["rounds"] if r["arch"] == doc["arch"])
        out.print(f"  verified on {doc['device']}: measured {last['measured_ms']:.3f} ms after {len(v['rounds'])} "
                  f"round(s), model factor x{v['factor']:.3f}"
                  + ("" if v["met_budget"] else " - NO measured network met the budget"), markup=False)
    for name, path in doc["files"].items():
        out.print(f"  {name}: {path}", markup=False)


@cli.command()
@click.option("--out", default="runs/demo", show_default=True, type=click.Path())
@click.option("--store", "store_path", default="runs/demo.sqlite", show_default=True)
@click.option("--quick", is_flag=True, help="A smoke run: few blocks and epochs (for tests).")
def demo(out: str, store_path: str, quick: bool) -> None:
    """The embedded default job: profile, fit, search, export and measure on this CPU, then
    search an 80 ms Pixel 1 network from the ProxylessNAS lookup table."""
    from edgelat.demo import run_demo

    _with_bar(lambda progress: run_demo(Path(out), Path(store_path), progress, quick=quick))


def main(argv: list[str] | None = None) -> int:
    quiet_tensorflow()  # before any command imports TensorFlow; `import edgelat` alone leaves the process be
    argv, deprecated = modernize(sys.argv[1:] if argv is None else list(argv))
    for line in deprecated:
        err.print(f"edgelat: warning: {line}", markup=False, soft_wrap=True)
    try:
        cli.main(args=argv, prog_name="edgelat", standalone_mode=False)
    except EdgelatError as exc:
        err.print(f"edgelat: error: {exc}", markup=False, soft_wrap=True)
        return 2
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        err.print(f"edgelat: error: {exc.filename or 'an output file'}: the disk is full; free space and re-run "
                  f"the same command to resume", markup=False, soft_wrap=True)
        return 2
    except click.exceptions.Abort:
        err.print("edgelat: interrupted; re-run the same command to resume", markup=False)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except KeyboardInterrupt:
        err.print("edgelat: interrupted; re-run the same command to resume", markup=False)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
