"""Keras 3 builders: MBConv blocks, a space's stem and head, and whole networks, with a
deterministic name on every layer.

Every layer is named ``{prefix}{part}`` (``b0_expand_conv``, ``b0_dw_bn``, ``stem_conv``,
``head_conv``, ``classifier`` ...), and the converter keeps those names inside TFLite tensor
names, so ops map back to the space's layers. Imports TensorFlow/Keras: never import this
module from a timing worker.
"""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np

from edgelat.core.blockspec import BlockSpec
from edgelat.core.spaces import Layer, SearchSpace

# The sub-layer names a block may contain, in graph order.
LAYER_PARTS = (
    "expand_conv", "expand_bn", "expand_act",
    "dw_conv", "dw_bn", "dw_act",
    "se_squeeze", "se_reduce", "se_reduce_act", "se_expand", "se_gate", "se_excite",
    "project_conv", "project_bn", "add",
)  # fmt: skip


def activation_layer(act: str, name: str) -> keras.layers.Layer:
    """The Keras layer for one of BlockSpec's activations (hswish lowers to TFLite HARD_SWISH)."""
    if act == "relu":
        return keras.layers.ReLU(name=name)
    if act == "relu6":
        return keras.layers.ReLU(max_value=6.0, name=name)
    if act == "hswish":
        return keras.layers.Activation("hard_swish", name=name)
    raise ValueError(f"unknown activation {act!r}")


def mbconv(x, spec: BlockSpec, prefix: str, groups: int = 1, expand_conv: bool | None = None):
    """Apply one MBConv block to tensor `x`; layer names start with `prefix`.

    SE gating uses a hard sigmoid for hswish blocks (MobileNetV3) and a sigmoid otherwise
    (EfficientNet). BatchNorms fold into the convolutions at conversion. `groups` groups the
    two 1x1 convolutions and `expand_conv=True` keeps the expansion conv at e=1 (FBNet's blocks).
    """
    inputs = x
    exp = spec.expanded_channels
    if spec.expand != 1 if expand_conv is None else expand_conv:
        x = keras.layers.Conv2D(exp, 1, use_bias=False, groups=groups, name=f"{prefix}expand_conv")(x)
        x = keras.layers.BatchNormalization(name=f"{prefix}expand_bn")(x)
        x = activation_layer(spec.act, f"{prefix}expand_act")(x)
    x = keras.layers.DepthwiseConv2D(
        spec.kernel, strides=spec.stride, padding="same", use_bias=False, name=f"{prefix}dw_conv"
    )(x)
    x = keras.layers.BatchNormalization(name=f"{prefix}dw_bn")(x)
    x = activation_layer(spec.act, f"{prefix}dw_act")(x)
    if spec.se:
        s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}se_squeeze")(x)
        s = keras.layers.Conv2D(spec.se_channels, 1, name=f"{prefix}se_reduce")(s)
        s = activation_layer("relu" if spec.act != "hswish" else "hswish", f"{prefix}se_reduce_act")(s)
        s = keras.layers.Conv2D(exp, 1, name=f"{prefix}se_expand")(s)
        gate = "hard_sigmoid" if spec.act == "hswish" else "sigmoid"
        s = keras.layers.Activation(gate, name=f"{prefix}se_gate")(s)
        x = keras.layers.Multiply(name=f"{prefix}se_excite")([x, s])
    x = keras.layers.Conv2D(spec.cout, 1, use_bias=False, groups=groups, name=f"{prefix}project_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{prefix}project_bn")(x)
    if spec.has_residual:
        x = keras.layers.Add(name=f"{prefix}add")([x, inputs])
    return x


def build_block_model(spec: BlockSpec, prefix: str = "b0_", seed: int = 0) -> keras.Model:
    """A batch-1 Keras model holding exactly one block; weights are seeded for stable bytes."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((spec.input_hw, spec.input_hw, spec.cin), batch_size=1, name=f"{prefix}input")
    outputs = mbconv(inputs, spec, prefix)
    return keras.Model(inputs, outputs, name=prefix.rstrip("_") or "block")


def stem(x, space: SearchSpace):
    """The space's stem: 3x3 conv (stride `stem_stride`), BatchNorm, activation."""
    x = keras.layers.Conv2D(space.stem_channels, 3, strides=space.stem_stride, padding="same", use_bias=False,
                            name="stem_conv")(x)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    return activation_layer(space.act, "stem_act")(x)


def head(x, space: SearchSpace):
    """The space's head: 1x1 conv, BatchNorm, activation, global pooling, classifier (logits)."""
    x = keras.layers.Conv2D(space.head_channels, 1, use_bias=False, name="head_conv")(x)
    x = keras.layers.BatchNormalization(name="head_bn")(x)
    x = activation_layer(space.act, "head_act")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.layers.Dense(space.num_classes, name="classifier")(x)


def layer_op(x, layer: Layer, choice_index: int, prefix: str):
    """One layer of a space with one of its choices: an MBConv, the identity, or the 1x1 conv
    of a shape-changing skip (see `Layer.identity_skip`)."""
    choice = layer.choices[choice_index]
    if choice.skip:
        if layer.identity_skip:
            return x
        x = keras.layers.Conv2D(layer.cout, 1, strides=layer.stride, use_bias=False, name=f"{prefix}skip_conv")(x)
        return keras.layers.BatchNormalization(name=f"{prefix}skip_bn")(x)
    spec = layer.block(replace(choice, groups=1))  # grouping is passed to the builder below
    return mbconv(x, spec, prefix, groups=choice.groups, expand_conv=layer.expand_conv_always or None)


def build_network(space: SearchSpace, arch: np.ndarray, batch_size: int | None = None, seed: int = 0) -> keras.Model:
    """The Keras model of architecture `arch` (choice indices) of `space`."""
    keras.utils.set_random_seed(seed)
    arch = space.validate(np.asarray([arch]))[0]
    inputs = keras.Input((space.resolution, space.resolution, 3), batch_size=batch_size, name="input")
    x = stem(inputs, space)
    for i, (layer, j) in enumerate(zip(space.layers, arch, strict=True)):
        x = layer_op(x, layer, int(j), f"b{i}_")
    return keras.Model(inputs, head(x, space), name=space.encode(arch).replace(":", "_"))


def fixed_part_models(space: SearchSpace) -> dict[str, keras.Model]:
    """Batch-1 models of the parts a block table does not hold: the stem, the head (1x1 conv,
    pooling, classifier), and each distinct shape-changing skip (a strided 1x1 conv), named like
    the layers of `build_network`."""
    r, last = space.resolution, space.layers[-1]
    x0 = keras.Input((r, r, 3), batch_size=1, name="input")
    h0 = keras.Input((last.output_hw, last.output_hw, last.cout), batch_size=1, name="head_input")
    models = {"stem": keras.Model(x0, stem(x0, space), name="stem"),
              "head": keras.Model(h0, head(h0, space), name="head")}
    for i, layer in enumerate(space.layers):
        if layer.skip_part and layer.skip_part not in models:
            s0 = keras.Input((layer.input_hw, layer.input_hw, layer.cin), batch_size=1, name="skip_input")
            skip = next(j for j, c in enumerate(layer.choices) if c.skip)
            models[layer.skip_part] = keras.Model(s0, layer_op(s0, layer, skip, f"b{i}_"), name="skip")
    return models
