"""Keras 3 models of one kernel each: converted like a block, they hold the one TFLite operator
that a KernelSpec describes (BatchNorm-free, so nothing folds away). Imports Keras: never
import this module from a timing worker."""

from __future__ import annotations

import keras
import numpy as np

from edgelat.core.kernelspec import KernelSpec
from edgelat.errors import BlockSpecError

_ACT = {"none": None, "relu": "relu", "relu6": "relu6"}


def _act(x, act: str):
    if act == "relu":
        return keras.layers.ReLU()(x)
    if act == "relu6":
        return keras.layers.ReLU(max_value=6.0)(x)
    return x


def _operands(spec: KernelSpec, rng: np.random.Generator) -> tuple[list, list]:
    """Model inputs for the tensor operands, and every operand (constants as arrays) in order."""
    inputs, operands = [], []
    for shape, constant in spec.input_shapes():
        if constant:
            operands.append(keras.ops.convert_to_tensor(rng.uniform(0.5, 1.5, shape).astype("float32")))
        else:
            x = keras.Input(shape=shape, batch_size=1)
            inputs.append(x)
            operands.append(x)
    return inputs, operands


def _windowed(spec: KernelSpec, x):
    out = spec.output_shape()
    k, s, pad = spec.kernel, spec.stride, spec.padding
    if spec.kind == "conv2d":
        return keras.layers.Conv2D(out[-1], k, s, pad, activation=_ACT[spec.act])(x)
    if spec.kind == "dwconv2d":
        multiplier = out[-1] // spec.input_shapes()[0][0][-1]
        return keras.layers.DepthwiseConv2D(k, s, pad, depth_multiplier=multiplier, activation=_ACT[spec.act])(x)
    pool = keras.layers.MaxPooling2D if spec.kind == "maxpool" else keras.layers.AveragePooling2D
    return _act(pool(k, s, pad)(x), spec.act)


def _apply(spec: KernelSpec, operands: list):
    """The Keras computation of `spec` on its operands."""
    x, kind, out = operands[0], spec.kind, spec.output_shape()
    if kind in ("conv2d", "dwconv2d", "maxpool", "avgpool"):
        return _windowed(spec, x)
    if kind == "fc":
        return keras.layers.Dense(out[-1], activation=_ACT[spec.act])(x)
    if kind == "mean":
        return keras.ops.mean(x, axis=(1, 2), keepdims=len(out) == 3)
    if kind in ("add", "sub", "mul"):
        op = {"add": keras.ops.add, "sub": keras.ops.subtract, "mul": keras.ops.multiply}[kind]
        y = operands[0]
        for other in operands[1:]:
            y = op(y, other)
        return _act(y, spec.act)
    if kind == "concat":
        return _act(keras.layers.Concatenate(axis=-1)(operands), spec.act)
    if kind == "pad":
        (h, w, _), _ = spec.input_shapes()[0]
        dh, dw = out[0] - h, out[1] - w
        return keras.layers.ZeroPadding2D(((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)))(x)
    if kind == "slice":
        (h, w, _), _ = spec.input_shapes()[0]
        dh, dw = h - out[0], w - out[1]
        return keras.layers.Cropping2D(((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)))(x)
    if kind == "reshape":
        return keras.layers.Reshape(out)(x)
    if kind == "softmax":
        return keras.layers.Softmax()(x)
    if kind == "hswish":
        return keras.layers.Activation("hard_swish")(x)
    if kind == "sigmoid":
        return keras.layers.Activation("sigmoid")(x)
    if kind in ("relu", "relu6", "quantize", "dequantize"):
        # For the quantize kinds the RELU is a carrier, cut away after conversion (convert.py).
        return keras.layers.ReLU(max_value=6.0 if kind == "relu6" else None)(x)
    raise BlockSpecError(f"{spec.key}: kernels of type {kind} are not built on their own")


def build_kernel_model(spec: KernelSpec, seed: int = 0) -> keras.Model:
    """A batch-1 model whose TFLite conversion is the one operator of `spec`."""
    keras.utils.set_random_seed(seed)
    inputs, operands = _operands(spec, np.random.default_rng(seed))
    y = _apply(spec, operands)
    if tuple(int(d) for d in y.shape[1:]) != spec.output_shape():
        raise BlockSpecError(f"{spec.key}: built output shape {tuple(y.shape[1:])} is not {spec.output}")
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], y)
