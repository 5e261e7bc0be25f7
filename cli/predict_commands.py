"""`edgelat fit`, `evaluate`, `predict` and `suggest`: the predictors."""

from __future__ import annotations

import click
from rich.table import Table

from edgelat.cli.app import cli, out, print_json_or
from edgelat.core.paths import write_output
from edgelat.core.progress_bar import err
from edgelat.errors import OptionError
from edgelat.predictors.registry import PREDICTORS


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

    print_json_or(result, as_json, human)


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

    print_json_or(report, as_json, human)
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

    print_json_or(result, as_json, human)
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

    print_json_or(result, as_json, human)


