"""`edgelat devices`, `profile`, `report`, `farm-resources`, `deploy` and `export`: the device side."""

from __future__ import annotations

import json

import click
from rich.table import Table

from edgelat.cli.app import cli, format_bytes, out
from edgelat.core.progress_bar import err, with_bar
from edgelat.devices.catalog import get_device, list_devices
from edgelat.devices.policy import DEFAULT_POLICY, MeasurementPolicy
from edgelat.errors import OptionError, StoreError
from edgelat.profiler.options import DTYPE_CHOICES, MIN_TIME_MS, ProfileOptions, check_options, with_suggestions


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--device-file", "device_files", multiple=True, type=click.Path(), help="Add a device file.")
def devices(as_json: bool, device_files: tuple[str, ...]) -> None:
    """List the device catalog."""

    devs = list_devices(device_files)
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in devs], indent=2))
        return
    table = Table("name", "kind", "transport", "runtime", "delegate", "threads", "cpu_mask", "memory", "description")
    for d in devs:
        mem = ", ".join(f"{k} {format_bytes(v)}" for k, v in d.memory.items())
        table.add_row(d.name, d.kind, d.transport, d.runtime, d.delegate, str(d.threads), d.cpu_mask or "",
                      mem, d.description)
    out.print(table)


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
@click.option("--runs", default=DEFAULT_POLICY.runs, show_default=True, help="Timed runs per block.")
@click.option("--warmup", default=DEFAULT_POLICY.warmup, show_default=True, help="Warm-up runs per block.")
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
@click.option("--pass-gap-s", default=DEFAULT_POLICY.pass_gap_s, show_default=True,
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
    # lazy: loads with its verb, not with `edgelat --help` or `import edgelat`
    from edgelat.profiler.workflow import run_profile

    opts = with_suggestions(ProfileOptions(device=device_name, device_file=device_file, store=store_path, **kw))
    check_options(opts)
    if adaptive < 0 or (adaptive and not opts.kernels):
        raise OptionError(f"--adaptive must be >= 0 and needs --kernels N (the size of each round), got {adaptive}")
    if adaptive:
        from edgelat.predictors.kernel_adaptive import run_adaptive

        result, rounds = with_bar(run_adaptive, opts, adaptive)
        result.summary["adaptive"] = [r.as_dict() for r in rounds]
        if not as_json:
            for i, r in enumerate(rounds):
                accs = sorted(a for a in r.acc10.values() if a == a)
                err.print(f"round {i}: {r.kernels} kernels, out-of-fold ±10% by type: median "
                          f"{accs[len(accs) // 2]:.0%}, lowest {accs[0]:.0%}" if accs else f"round {i}: {r.kernels}")
    else:
        result = with_bar(run_profile, opts)
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
    # lazy: loads with its verb, not with `edgelat --help` or `import edgelat`
    from edgelat.profiler.farm.spread import store_summary

    # lazy: loads with its verb, not with `edgelat --help` or `import edgelat`
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
    # lazy: loads with its verb, not with `edgelat --help` or `import edgelat`
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
@click.option("--runs", default=DEFAULT_POLICY.runs, show_default=True, help="Timed runs.")
@click.option("--warmup", default=DEFAULT_POLICY.warmup, show_default=True, help="Warm-up runs.")
@click.option("--min-time-ms", default=MIN_TIME_MS, show_default=True, help="Keep timing until this much has passed.")
@click.option("--threads", type=int, help="Override the device's thread count.")
@click.option("--passes", default=DEFAULT_POLICY.passes, show_default=True,
              help="Measure N times, at least --pass-gap-s apart; the fastest counts, as for the profiler's whole "
                   "networks (other work only adds time).")
@click.option("--pass-gap-s", default=DEFAULT_POLICY.pass_gap_s, show_default=True,
              help="Passes start at least this far apart.")
@click.option("--compare-fp32", type=click.Path(), help="Linux boards/host: fp32 twin to check int8 agreement against.")
@click.option("--samples", default=32, show_default=True, help="Sample batch size for --compare-fp32.")
@click.option("--op-profiling", is_flag=True, help="Android: run benchmark_model with --enable_op_profiling.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def deploy(model, device_name, device_file, benchmark_binary, serial, ssh, runs, warmup, min_time_ms, threads,
           passes, pass_gap_s, compare_fp32, samples, op_profiling, as_json) -> None:
    """Push a .tflite model to a device, benchmark it, and compare with the search's prediction."""
    # lazy: loads with its verb, not with `edgelat --help` or `import edgelat`
    from edgelat.devices import deploy as dep

    if samples < 1:
        raise OptionError(f"--samples must be >= 1 (got {samples})")
    policy = MeasurementPolicy(warmup=warmup, runs=runs, min_time_ms=min_time_ms, passes=passes,
                               pass_gap_s=pass_gap_s)
    device = dep.with_overrides(get_device(device_name if device_file is None else None, device_file),
                                benchmark_binary, serial, ssh)
    r = dep.deploy(model, device, threads=threads, policy=policy, compare_fp32=compare_fp32, samples=samples,
                   op_profiling=op_profiling)
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
    # lazy: loads with its verb, not with `edgelat --help` or `import edgelat`
    from edgelat.profiler.export import export_store

    r = export_store(store_path, output, device, networks, space)
    err.print(f"wrote {r['rows']} {r['what']} to {output}")


