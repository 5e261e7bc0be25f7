"""The parts of a space's networks that no search changes (stem; head, pooling, classifier),
built as two small models and measured on a device, so a block table can price whole networks."""

from __future__ import annotations

from pathlib import Path

import keras

from edgelat.devices.backends import Backend
from edgelat.errors import RunnerError
from edgelat.profiler.convert import convert_model
from edgelat.profiler.keras_builder import activation_layer
from edgelat.profiler.spaces import SearchSpace


def fixed_part_models(space: SearchSpace) -> dict[str, keras.Model]:
    """Batch-1 models of the stem and of the head (1x1 conv, pooling, classifier), named like
    the layers of search.network.build_network."""
    act = space.layers[0].act
    r = space.resolution
    x0 = keras.Input((r, r, 3), batch_size=1, name="input")
    x = keras.layers.Conv2D(space.stem_channels, 3, strides=space.stem_stride, padding="same", use_bias=False,
                            name="stem_conv")(x0)
    x = activation_layer(act, "stem_act")(keras.layers.BatchNormalization(name="stem_bn")(x))
    stem = keras.Model(x0, x, name="stem")
    last = space.layers[-1]
    h0 = keras.Input((last.output_hw, last.output_hw, last.cout), batch_size=1, name="head_input")
    h = keras.layers.Conv2D(space.head_channels, 1, use_bias=False, name="head_conv")(h0)
    h = activation_layer(act, "head_act")(keras.layers.BatchNormalization(name="head_bn")(h))
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    head = keras.Model(h0, keras.layers.Dense(space.num_classes, name="classifier")(h), name="head")
    return {"stem": stem, "head": head}


def measure_fixed_parts(space: SearchSpace, backend: Backend, dtype: str, workdir: Path, *, warmup: int = 10,
                        runs: int = 50, min_time_ms: float = 200.0) -> dict[str, float]:
    """Median latency in ms of the stem and the head on `backend`'s device."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, model in fixed_part_models(space).items():
        path = workdir / f"{space.name}-r{space.resolution}-w{space.width:g}-c{space.num_classes}-{name}-{dtype}.tflite"
        path.write_bytes(convert_model(model, dtype).data)
        m = backend.measure(path, warmup, runs, min_time_ms)
        if not m.ok:
            raise RunnerError(f"{path}: measuring the fixed part {name!r} failed: {m.error}")
        out[name] = m.latency_ms
    return out
