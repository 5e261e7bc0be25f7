"""Convert Keras models to TFLite, fp32 or full-integer int8, through a frozen concrete function.

Freezing the variables first (``convert_variables_to_constants_v2``) and converting the
frozen graph is several times faster than ``from_keras_model``. Imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from dataclasses import dataclass

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.framework.convert_to_constants import (  # noqa: E402
    convert_variables_to_constants_v2,
)

from edgelat.core.blockspec import BlockSpec  # noqa: E402
from edgelat.core.kernelspec import QUANT_KINDS, KernelSpec  # noqa: E402
from edgelat.core.netspec import NetworkSpec  # noqa: E402
from edgelat.core.quiet import filtered_stderr  # noqa: E402
from edgelat.core.tflite_file import only_op  # noqa: E402
from edgelat.errors import ConversionError  # noqa: E402


@contextlib.contextmanager
def _quiet_absl():
    """Hide absl's deprecation warning for converting without a trackable object."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@dataclass(frozen=True)
class Converted:
    """TFLite bytes plus where the time went (the converter's own convert() call vs the rest)."""

    data: bytes
    convert_s: float
    total_s: float


def convert_model(model, dtype: str = "fp32", calibration_samples: int = 8, seed: int = 0,
                  representative: np.ndarray | None = None, float_io: tuple[bool, bool] = (False, False)
                  ) -> Converted:
    """Convert a batch-1 Keras model (one input or several); int8 is full-integer with int8 inputs and
    output (float ones where `float_io` says so, for input and output: TFLite then adds QUANTIZE and
    DEQUANTIZE), calibrated on `representative` inputs (one per sample) or else on random normal inputs."""
    start = time.perf_counter()
    shapes = [[int(d) for d in x.shape] for x in model.inputs]
    fn = tf.function(lambda *xs: model(xs[0] if len(xs) == 1 else list(xs), training=False))
    concrete = fn.get_concrete_function(*[tf.TensorSpec(s, tf.float32, name=f"input{i or ''}")
                                          for i, s in enumerate(shapes)])
    frozen = convert_variables_to_constants_v2(concrete)
    # No trackable_obj: with one, TF takes its slower saved-model path (about 5x here).
    with _quiet_absl():
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    if dtype == "int8":
        if calibration_samples < 1:
            raise ConversionError(f"calibration_samples must be >= 1, got {calibration_samples}")
        rng = np.random.default_rng(seed)

        def dataset():
            if representative is not None:
                for sample in representative[:calibration_samples]:
                    yield [np.asarray(sample, np.float32).reshape(shapes[0])]
                return
            for _ in range(calibration_samples):
                yield [rng.standard_normal(s).astype(np.float32) for s in shapes]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.float32 if float_io[0] else tf.int8
        converter.inference_output_type = tf.float32 if float_io[1] else tf.int8
    elif dtype != "fp32":
        raise ConversionError(f"dtype: must be fp32 or int8, got {dtype!r}")
    t0 = time.perf_counter()
    with filtered_stderr(), warnings.catch_warnings():  # the converter's info lines, and a warning
        # about int8 input statistics that full-integer models with a representative set never need
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        data = converter.convert()
    convert_s = time.perf_counter() - t0
    return Converted(data, convert_s, time.perf_counter() - start)


def _convert_quant_kernel(carrier, spec: KernelSpec, calibration_samples: int, seed: int) -> Converted:
    """A lone QUANTIZE (float in, int8 out) or DEQUANTIZE (int8 in, float out): the carrier model
    (one RELU) is converted with a float input or output, then cut down to the op TFLite added."""
    quantize = spec.kind == "quantize"
    out = convert_model(carrier, "int8", calibration_samples, seed, float_io=(quantize, not quantize))
    return Converted(only_op(out.data, "QUANTIZE" if quantize else "DEQUANTIZE"), out.convert_s, out.total_s)


_CLEAR_EVERY = 100  # keras.backend.clear_session() costs ~0.16 s, twice a whole conversion
_converted = 0


def convert_block(spec: BlockSpec | NetworkSpec | KernelSpec, calibration_samples: int = 8,
                  seed: int = 0) -> Converted:
    """Build `spec` (a block, a kernel, or a whole network of a space) in Keras and convert it to
    TFLite in its own dtype.

    Keras' global state is cleared every 100 conversions rather than after each one: RSS
    stays flat either way (measured over 300 blocks), and clearing each time would more
    than double the cost of a conversion.
    """
    global _converted
    from edgelat.core.builders import build_block_model, build_network
    from edgelat.core.kernel_builders import build_kernel_model

    start = time.perf_counter()
    try:
        if isinstance(spec, NetworkSpec):
            model = build_network(spec.search_space(), spec.indices(), batch_size=1, seed=seed)
        elif isinstance(spec, KernelSpec):
            model = build_kernel_model(spec, seed=seed)
        else:
            model = build_block_model(spec, seed=seed)
        if isinstance(spec, KernelSpec) and spec.kind in QUANT_KINDS:
            out = _convert_quant_kernel(model, spec, calibration_samples, seed)
        else:
            out = convert_model(model, spec.dtype, calibration_samples, seed)
    except ConversionError:
        raise
    except Exception as exc:  # TF raises many types; keep the key in the message
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConversionError(f"{spec.key}: conversion failed: {first}") from exc
    finally:
        _converted += 1
        if _converted % _CLEAR_EVERY == 0:
            import keras

            keras.backend.clear_session()
    return Converted(out.data, out.convert_s, time.perf_counter() - start)
