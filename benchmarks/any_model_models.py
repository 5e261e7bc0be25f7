"""The validation models of benchmarks/any_model.py: keras.applications CNNs with random weights
(no download), at several widths and resolutions, converted to fp32 and full-int8 TFLite."""

from __future__ import annotations

import multiprocessing as mp
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AppModel:
    family: str  # the keras.applications constructor
    resolution: int
    alpha: float | None = None
    minimalistic: bool = False

    @property
    def name(self) -> str:
        alpha = f"-a{self.alpha:g}" if self.alpha is not None else ""
        return f"{self.family}{alpha}-r{self.resolution}{'-min' if self.minimalistic else ''}"


def validation_models() -> list[AppModel]:
    """At least 40 distinct models over eight families."""
    out = [AppModel("MobileNet", r, a) for a in (0.25, 0.5, 0.75, 1.0) for r in (128, 224)]
    out += [AppModel("MobileNetV2", r, a) for a in (0.35, 0.5, 0.75, 1.0, 1.4) for r in (128, 224)]
    out += [AppModel("MobileNetV2", r, 1.0) for r in (96, 160)]
    for family in ("MobileNetV3Small", "MobileNetV3Large"):
        out += [AppModel(family, 224, a, m) for a in (0.75, 1.0) for m in (False, True)]
        out.append(AppModel(family, 160, 1.0))
    out += [AppModel("EfficientNetB0", r) for r in (160, 224)] + [AppModel("EfficientNetB1", 240)]
    out += [AppModel("ResNet50", r) for r in (160, 224)] + [AppModel("ResNet50V2", 224)]
    out += [AppModel("DenseNet121", r) for r in (160, 224)] + [AppModel("NASNetMobile", 224)]
    out += [AppModel("EfficientNetV2B0", 224)]
    return out


def build(m: AppModel):
    import keras

    ctor = getattr(keras.applications, m.family)
    kwargs = {"alpha": m.alpha} if m.alpha is not None else {}
    if m.minimalistic:
        kwargs["minimalistic"] = True
    x = keras.Input((m.resolution, m.resolution, 3), batch_size=1)
    return ctor(input_tensor=x, weights=None, **kwargs)


def _convert(job: tuple[AppModel, str, str]) -> tuple[str, str, float]:
    """One model to `path` in `dtype`: fp32, int8 (int8 input and output) or int8-float-io (int8
    inside, float input and output: TFLite adds a QUANTIZE and a DEQUANTIZE)."""
    import time

    import keras

    from edgelat.core.convert import convert_model

    m, dtype, path = job
    start = time.perf_counter()
    try:
        float_io = (True, True) if dtype == "int8-float-io" else (False, False)
        data = convert_model(build(m), dtype.split("-")[0], calibration_samples=4, float_io=float_io).data
    except Exception as exc:  # report and go on: a model that does not convert is left out, said so
        return m.name, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}", 0.0
    finally:
        keras.backend.clear_session()
    Path(path).write_bytes(data)
    return m.name, "", time.perf_counter() - start


def convert_all(models: list[AppModel], out_dir: Path, workers: int = 2,
                dtypes: tuple[str, ...] = ("fp32", "int8")) -> dict[str, Path]:
    """Convert every model in each dtype (skipping files already there); {name-dtype: path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {f"{m.name}-{d}": out_dir / f"{m.name}-{d}.tflite" for m in models for d in dtypes}
    jobs = [(m, d, str(path)) for m in models for d in dtypes
            if not (path := out_dir / f"{m.name}-{d}.tflite").is_file()]
    with mp.get_context("spawn").Pool(workers, maxtasksperchild=3) as pool:
        for i, (name, error, seconds) in enumerate(pool.imap_unordered(_convert, jobs), 1):
            print(f"[{i}/{len(jobs)}] {name}: {error or f'{seconds:.1f} s'}", file=sys.stderr, flush=True)
    return {k: p for k, p in paths.items() if p.is_file()}
