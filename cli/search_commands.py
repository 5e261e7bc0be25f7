"""`edgelat search` and `edgelat demo`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from edgelat.cli.app import cli, out
from edgelat.core.progress_bar import with_bar
from edgelat.search.front_search import FRONT_SEARCHES
from edgelat.search.signals import SIGNALS
from edgelat.search.strategies import STRATEGIES


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
    doc = with_bar(run_search, opts)
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

    with_bar(lambda progress: run_demo(Path(out), Path(store_path), progress, quick=quick))

