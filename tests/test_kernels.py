"""Kernels of real converted keras.applications models: extraction, one-op rebuilds, keys and
sampling (the pricing of those kernels is in test_kernel_pricing.py)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from edgelat.core.kernelspec import KernelSpec
from edgelat.core.tflite_ops import model_kernels, unique_kernels
from edgelat.errors import BlockSpecError
from edgelat.profiler.kernel_sampling import sample_kernels

pytestmark = pytest.mark.slow  # converts keras.applications models


def _layers(model, cls_name: str):
    return [layer for layer in model.layers if type(layer).__name__ == cls_name]


def test_kernels_of_mobilenet_v2_match_its_keras_layers(mobilenet_v2):
    model, path = mobilenet_v2
    kernels = model_kernels(path)
    assert all(k.spec is not None for k in kernels), [k for k in kernels if k.spec is None]
    counts = Counter(k.op for k in kernels)
    # BatchNorms fold away and ReLU6 fuses, so every conv layer is one op, and nothing else is left over
    assert counts["CONV_2D"] == len(_layers(model, "Conv2D"))
    assert counts["DEPTHWISE_CONV_2D"] == len(_layers(model, "DepthwiseConv2D"))
    assert counts["ADD"] == len(_layers(model, "Add"))
    assert counts["FULLY_CONNECTED"] == 1 and counts["SOFTMAX"] == 1
    convs = [k.spec for k in kernels if k.op in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    layers = [la for la in model.layers if type(la).__name__ in ("Conv2D", "DepthwiseConv2D")]
    shape = lambda t: "x".join(str(d) for d in t.shape[1:])  # noqa: E731
    padded = {la.output.name: la.input for la in _layers(model, "ZeroPadding2D")}
    for spec, layer in zip(convs, layers, strict=True):  # same order, shapes, window and stride
        assert spec.output == shape(layer.output), layer.name
        assert (spec.kernel, spec.stride, spec.dtype) == (layer.kernel_size[0], layer.strides[0], "fp32")
        if layer.input.name in padded:  # the converter folds ZeroPadding + 'valid' into a 'same' conv
            assert (spec.inputs[0], spec.padding) == (shape(padded[layer.input.name]), "same"), layer.name
        else:
            assert (spec.inputs[0], spec.padding) == (shape(layer.input), layer.padding), layer.name
    assert {s.act for s in convs} == {"none", "relu6"}  # the projections are linear, the rest ReLU6


def test_int8_kernels_and_every_one_rebuilds_as_exactly_that_op(mobilenet_v3_int8):
    from edgelat.core.convert import convert_block

    model, path = mobilenet_v3_int8
    kernels = model_kernels(path)
    counts = Counter(k.op for k in kernels)
    assert counts["HARD_SWISH"] > 0 and counts["MEAN"] > 0 and counts["MUL"] > 0
    assert counts["DEPTHWISE_CONV_2D"] == len(_layers(model, "DepthwiseConv2D"))
    assert all(k.spec is not None and k.spec.dtype == "int8" for k in kernels)
    unique, missing = unique_kernels([path])
    assert not missing
    by_kind = {}
    for spec in unique:  # one of each kind and shape class, to keep the conversions few
        by_kind.setdefault((spec.kind, len(spec.inputs), spec.act), spec)
    for spec in by_kind.values():
        rebuilt = model_kernels(convert_block(spec, calibration_samples=2).data)
        assert [k.spec for k in rebuilt] == [spec], spec.key


def test_float_io_int8_models_price_their_quantize_ends_and_name_fp16_dequantize(tmp_path):
    """An int8 model with float input and output starts with QUANTIZE and ends with DEQUANTIZE: both
    are kernels that rebuild as exactly that op and run on LiteRT. fp16 weights' DEQUANTIZE is named."""
    keras = pytest.importorskip("keras")
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from edgelat.core.convert import convert_block, convert_model

    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp))
    model = keras.Model(inp, keras.layers.Dense(10)(x))
    kernels = model_kernels(convert_model(model, "int8", calibration_samples=2, float_io=(True, True)).data)
    assert [k.op for k in (kernels[0], kernels[-1])] == ["QUANTIZE", "DEQUANTIZE"]
    ends = [kernels[0].spec, kernels[-1].spec]
    assert [s.key for s in ends] == ["kernel-quantize-i16x16x3-o16x16x3-k0-s1-valid-none-int8",
                                     "kernel-dequantize-i10-o10-k0-s1-valid-none-int8"]
    for spec, (fed, got) in zip(ends, [(np.float32, np.int8), (np.int8, np.float32)], strict=True):
        data = convert_block(spec, calibration_samples=2).data
        assert [k.spec for k in model_kernels(data)] == [spec]
        interp = Interpreter(model_content=data)
        interp.allocate_tensors()
        inp_detail, out_detail = interp.get_input_details()[0], interp.get_output_details()[0]
        assert (inp_detail["dtype"], out_detail["dtype"]) == (fed, got)
        interp.set_tensor(inp_detail["index"], np.ones(inp_detail["shape"], fed))
        interp.invoke()
    with pytest.raises(BlockSpecError, match="quantize: converts between float and int8, so its dtype is int8"):
        KernelSpec("quantize", ("8x8x3",), "8x8x3")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations, converter.target_spec.supported_types = [tf.lite.Optimize.DEFAULT], [tf.float16]
    fp16 = [k for k in model_kernels(converter.convert()) if k.op == "DEQUANTIZE"]
    assert fp16 and all(k.spec is None and "constant weights" in k.why for k in fp16)


def test_kernel_keys_round_trip_and_bad_keys_name_the_problem():
    for spec in sample_kernels(200, seed=3, dtypes=("fp32", "int8")):
        assert KernelSpec.from_key(spec.key) == spec
    with pytest.raises(BlockSpecError, match="not a kernel key"):
        KernelSpec.from_key("kernel-conv2d-i8x8x8")
    with pytest.raises(BlockSpecError, match="kind: unknown kernel type 'gelu'"):
        KernelSpec("gelu", ("8x8x8",), "8x8x8")
    with pytest.raises(BlockSpecError, match="at least one input must be a tensor"):
        KernelSpec("add", ("c8", "c8"), "8")
    with pytest.raises(BlockSpecError, match="not valid shape texts"):
        KernelSpec("relu", ("",), "8")


def test_sampler_draws_distinct_kernels_near_a_prior(mobilenet_v2):
    _, path = mobilenet_v2
    prior, _ = unique_kernels([path])
    drawn = sample_kernels(120, seed=0, prior=prior)
    assert len({s.key for s in drawn}) == 120 and sample_kernels(120, seed=0, prior=prior) == drawn
    assert not {s.key for s in drawn} & {p.key for p in prior}  # new kernels beside the models' own
    assert Counter(s.kind for s in drawn)["conv2d"] >= 20  # convolutions dominate, as in real models
    assert all(s.macs() <= 300_000_000 for s in drawn)
