"""The Python API: every CLI verb as a function, for notebooks and scripts.

    import edgelat as el
    run = el.profile("host", space="single-path", n=20, store="runs/host.sqlite")
    model = el.fit("runs/host.csv", kind="gbdt")             # a Model; model.cv_ holds its CV figures
    model.predict("mbconv-i56-c24-o24-e6-k5-s1-se0-relu6-fp32")  # or an arch, a .tflite path, a Keras model
    best = el.search(space="single-path", device="pixel1", predictor="pixel1.json", target_ms=80)
    el.deploy(best.files["fp32"], device="host")

The CLI is a shell over the same workflows: each function takes the CLI's option names as keywords
(`--target-ms` is `target_ms`) and returns what `--json` prints, as a `Result` whose figures are
attributes. Long work shows progress on stderr (`progress=False` turns it off).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgelat.core.progress import NullProgress
from edgelat.core.progress_bar import with_bar
from edgelat.devices.catalog import Device, get_device, list_devices
from edgelat.devices.policy import DEFAULT_POLICY, POLICY_FIELDS
from edgelat.errors import OptionError
from edgelat.profiler.options import ProfileOptions, check_options, with_suggestions

__all__ = ["Model", "Result", "deploy", "devices", "evaluate", "export", "fit", "get_device", "load", "predict",
           "profile", "report", "search", "suggest"]


class Result(Mapping):
    """A verb's result: every figure of its `--json` document as an attribute (and as a key)."""

    def __init__(self, doc: Mapping[str, Any], verb: str = "result"):
        self._doc, self._verb = dict(doc), verb

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_doc"][name]
        except KeyError:
            raise AttributeError(f"{self._verb} result has no {name!r}; it has {', '.join(self._doc)}") from None

    def __getitem__(self, key: str) -> Any:
        return self._doc[key]

    def __iter__(self):
        return iter(self._doc)

    def __len__(self) -> int:
        return len(self._doc)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._doc})

    def __repr__(self) -> str:
        shown = [f"{k}={_short(v)}" for k, v in self._doc.items() if isinstance(v, str | int | float | list)
                 and not isinstance(v, bool) and _short(v)]
        return f"{self._verb}({', '.join(shown[:8])}{', ...' if len(shown) > 8 else ''})"

    def as_dict(self) -> dict[str, Any]:
        return dict(self._doc)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return f"[{', '.join(_short(v) for v in value)}]" if 0 < len(value) <= 2 and all(
            isinstance(v, int | float) for v in value) else ""
    text = repr(value)
    return text if len(text) <= 60 else ""


def _run(workflow, *args, progress: bool):
    """The workflow with the CLI's progress bar on stderr, or silent."""

    return with_bar(workflow, *args) if progress else workflow(*args, NullProgress())


class Model:
    """A saved latency predictor: `predict` takes a block key, an architecture encoding, a .tflite path, a
    Keras model, or the arrays the estimator itself takes. `estimator_` is the fitted predictor."""

    def __init__(self, path: str | Path, fit_report: Mapping[str, Any] | None = None):
        from edgelat.predictors import persistence

        self.path = str(path)
        self.estimator_, self.metadata_ = persistence.load_with_metadata(self.path)
        self.fit_report_ = Result(fit_report, "fit") if fit_report is not None else None
        cv = (fit_report or self.metadata_).get("cv")  # a loaded model's CV figures are in its file
        self.cv_ = Result(cv, "cv") if cv else None

    def predict(self, x: Any, *, space: str | None = None, strict: bool = False) -> Any:
        """A `Result` (latency_ms, interval_ms, ops) for one block, arch, .tflite or Keras model; an array
        of latencies (ms) for the estimator's own inputs."""
        if hasattr(x, "inputs") and hasattr(x, "layers"):  # a Keras model
            return predict(self, tflite=_keras_to_tflite(x), strict=strict)
        if isinstance(x, Path) or (isinstance(x, str) and x.endswith(".tflite")):
            return predict(self, tflite=str(x), strict=strict)
        if isinstance(x, str) and x.startswith("mbconv-"):
            return predict(self, block=x)
        if isinstance(x, str):
            return predict(self, arch=x, space=space)
        return self.estimator_.predict(x)

    def __repr__(self) -> str:
        cv = f", cv Spearman {self.cv_['spearman']:.3f}, ±10% {self.cv_['acc10']:.1%}" if self.cv_ else ""
        return f"Model({self.estimator_.kind}, {self.path!r}{cv})"


def _keras_to_tflite(model) -> str:
    """A batch-1 Keras model as fp32 .tflite in a temporary folder (imports TensorFlow)."""
    from edgelat.core.convert import convert_model

    path = Path(tempfile.mkdtemp(prefix="edgelat-")) / "model.tflite"
    path.write_bytes(convert_model(model).data)
    return str(path)


def load(path: str | Path) -> Model:
    """A model file written by `fit` (or `edgelat fit -o`)."""
    return Model(path)


def devices(device_files: tuple[str, ...] = ()) -> list[Device]:
    """The device catalog: the built-in devices, then those of `device_files`."""

    return list_devices(list(device_files))


def profile(device: str = "host", *, progress: bool = True, **options: Any) -> Result:
    """Measure blocks (or kernels, or whole networks) into a crash-safe store; options as `edgelat profile`'s
    (`space`, `n`, `store`, `dtype`, `networks`, `kernels`, ...). Re-run to resume."""
    # lazy: loads with its verb, not with `edgelat --help` or `import edgelat`
    from edgelat.profiler.workflow import run_profile

    opts = with_suggestions(ProfileOptions(device=device, **options))
    check_options(opts)
    result = _run(run_profile, opts, progress=progress)
    result.check_fits()
    return Result({**result.summary, "failures": [list(f) for f in result.failures]}, "profile")


def report(store: str | Path, *, measured_on: str | None = None) -> list[Result]:
    """A store's summary: per device, blocks measured, failures, units and their spread."""
    # lazy: loads with its verb, not with `edgelat --help` or `import edgelat`
    from edgelat.profiler.farm.spread import store_summary

    # lazy: loads with its verb, not with `edgelat --help` or `import edgelat`
    from edgelat.profiler.store import open_existing

    with open_existing(str(store)) as s:
        rows = s.rows(device=measured_on, status=None, latest=False)
    return [Result(g, "report") for g in store_summary(rows)]


def export(store: str | Path, output: str | Path, *, measured_on: str | None = None, whole_networks: bool = False,
           space: str | None = None) -> Result:
    """Write a store's latest measurements as a block (or whole-network) table CSV, for `fit`."""
    # lazy: loads with its verb, not with `edgelat --help` or `import edgelat`
    from edgelat.profiler.export import export_store

    return Result(export_store(str(store), str(output), measured_on, whole_networks, space), "export")


def fit(table: str | Path, *, kind: str = "lut", output: str | Path | None = None, space: str | None = None,
        target: str = "latency_ms", prior: str | list[str] | None = None, cv: int = 5,
        measured_on: str | None = None, resolution: int | None = None, dtype: str = "fp32",
        calibrate: str | None = None, source: str | None = None) -> Model:
    """Fit a predictor of `kind` on a latency table and save it (to a temporary file without `output`)."""
    from edgelat.predictors import workflow

    out = output or Path(tempfile.mkdtemp(prefix="edgelat-")) / f"{kind}.json"
    doc = workflow.fit(str(table), kind, str(out), space, target, source, prior, cv, measured_on, resolution, dtype,
                       calibrate)
    return Model(out, doc)


def _model_path(model: Model | str | Path) -> str:
    return model.path if isinstance(model, Model) else str(model)


def evaluate(model: Model | str | Path, table: str | Path, *, space: str | None = None, target: str = "latency_ms",
             measured_on: str | None = None, plot: str | None = None) -> Result:
    """Score a model on a table: n, rmse_ms, mape, acc5, acc10, kendall, spearman (and interval coverage)."""
    from edgelat.predictors import workflow

    return Result(workflow.evaluate(_model_path(model), str(table), space, target, measured_on, plot), "evaluate")


def predict(model: Model | str | Path, *, block: str | None = None, arch: str | None = None,
            tflite: str | Path | None = None, space: str | None = None, strict: bool = False,
            blocks: str | None = None) -> Result:
    """One prediction with its interval: latency_ms, interval_ms and, for a .tflite model, every op."""
    from edgelat.predictors import workflow

    if sum(x is not None for x in (block, arch, tflite)) != 1:
        raise OptionError("predict: give exactly one of block=, arch= or tflite=")
    return Result(workflow.predict(_model_path(model), block, arch, space, None if tflite is None else str(tflite),
                                   strict, blocks), "prediction")


def suggest(model: Model | str | Path | None = None, *, new_device: bool = False, space: str | None = None,
            n: int = 20, pool: int = 2000, seed: int = 0) -> Result:
    """Networks to measure next (`suggestions`): where `model` is least sure, or with `new_device` the
    first ones to measure on a device never seen."""
    from edgelat.predictors import workflow

    if new_device == (model is not None):
        raise OptionError("suggest: give a model, or new_device=True and a space (not both)")
    if new_device:
        return Result(workflow.suggest_new_device(space, n, pool, seed), "suggest")
    return Result(workflow.suggest(_model_path(model), n, pool, space, seed), "suggest")


def search(*, progress: bool = True, **options: Any) -> Result:
    """The most accurate network within the budget (or the front, `pareto=True`); options as `edgelat
    search`'s (`space`, `device`, `predictor`, `target_ms`, `strategy`, `evaluations`, `out`, ...)."""
    from edgelat.search.workflow import SearchOptions, check_options, run_search

    if isinstance(options.get("predictor"), Model):
        options["predictor"] = options["predictor"].path
    for word, field in (("dataset", "data"), ("superkernel_epochs", "single_path_epochs")):  # the CLI's words
        if word in options:
            options[field] = options.pop(word)
    opts = SearchOptions(**options)
    check_options(opts)
    return Result(_run(run_search, opts, progress=progress), "search")


def deploy(model: str | Path, device: str | Device = "host", *, device_file: str | None = None,
           benchmark_binary: str | None = None, serial: str | None = None, ssh: str | None = None,
           **options: Any) -> Result:
    """Measure a .tflite model on a device, beside the prediction its search left (options as `edgelat
    deploy`'s: runs, warmup, min_time_ms, passes, pass_gap_s, threads, compare_fp32, ...; or a `policy`)."""
    # lazy: loads with its verb, not with `edgelat --help` or `import edgelat`
    from edgelat.devices import deploy as dep

    if "policy" not in options:
        options["policy"] = DEFAULT_POLICY.with_changes(**{k: options.pop(k, None) for k in POLICY_FIELDS})

    dev = device if isinstance(device, Device) else get_device(None if device_file else device, device_file)
    dev = dep.with_overrides(dev, benchmark_binary, serial, ssh)
    return Result(dep.deploy(str(model), dev, **options), "deploy")
