"""The weight-sharing supernet and Single-Path NAS's superkernel, in TensorFlow/Keras.

Each searchable layer holds one set of weights at its largest choice: the 1x1 expansion at
the widest expansion, one depthwise kernel at the largest size, and the projection. A choice
is a set of masks over those weights: the centre k x k of the kernel, the first `cin*e`
channels, a block-diagonal mask for grouped 1x1 convs, and "keep" (0 for skip).

Two modes:
- *choice* mode: the layer uses the choice in `Supernet.choices[layer]` (random paths while
  training a supernet, one fixed path to evaluate a subnetwork with inherited weights);
- *threshold* mode (Single-Path NAS): hard indicators on the weights' norms decide the kernel
  (norm of the outer ring), e6 against e3 (norm of the second channel half) and skip (norm of
  the first half); the forward pass is hard and the backward pass uses sigmoid gradients.
Imports TensorFlow: never import this from a timing worker.
"""

from __future__ import annotations

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from edgelat.core.spaces import Layer, SearchSpace  # noqa: E402
from edgelat.errors import SearchError  # noqa: E402
from edgelat.search.superkernel import SuperkernelPlan, decode_indicators, superkernel_plan  # noqa: E402


def _act(x, act: str, linear: bool):
    if linear:
        return x
    if act == "relu6":
        return tf.nn.relu6(x)
    if act == "relu":
        return tf.nn.relu(x)
    if act == "hswish":
        return x * tf.nn.relu6(x + 3.0) / 6.0
    raise SearchError(f"activation {act!r} is not supported by the supernet")


def hard_sigmoid_ste(x):
    """Forward: the step 1(x > 0). Backward: the sigmoid's gradient."""
    soft = tf.sigmoid(x)
    return soft + tf.stop_gradient(tf.cast(x > 0, x.dtype) - soft)


class SuperLayer(keras.layers.Layer):
    """One layer of the space holding the weights of its largest choice."""

    def __init__(self, spec: Layer, index: int, **kw):
        super().__init__(name=f"b{index}", **kw)
        self.spec = spec
        self.index = index
        blocks = [c for c in spec.choices if not c.skip]
        if spec.se:
            raise SearchError(f"layer {index}: the supernet does not support SE layers yet")
        self.has_expand = spec.expand_conv_always or any(c.expand > 1 for c in blocks)
        if self.has_expand and any(c.expand == 1 for c in blocks) and not spec.expand_conv_always:
            raise SearchError(f"layer {index}: mixes e=1 (no expansion conv) with expanded choices")
        self.K = max(c.kernel for c in blocks)
        self.C = spec.cin * max(c.expand for c in blocks)
        self.residual = spec.identity_skip
        self.skip_conv = any(c.skip for c in spec.choices) and not self.residual
        self.masks = self._masks()
        self.plan = _plan_or_none(spec)  # None: choice mode only (fixed layers, FBNet's choices)
        self.bn_e = keras.layers.BatchNormalization(name="expand_bn") if self.has_expand else None
        self.bn_d = keras.layers.BatchNormalization(name="dw_bn")
        # Residual branches start near zero (zero BN gamma), so deep random paths train stably.
        self.bn_p = keras.layers.BatchNormalization(
            name="project_bn", gamma_initializer="zeros" if self.residual else "ones")
        self.bn_s = keras.layers.BatchNormalization(name="skip_bn") if self.skip_conv else None

    def _masks(self) -> dict[str, np.ndarray]:
        """Per-choice masks, stacked on a leading choice axis."""
        cin, C, K, cout = self.spec.cin, self.C, self.K, self.spec.cout
        n = len(self.spec.choices)
        km, cm = np.zeros((n, K, K, 1, 1), np.float32), np.zeros((n, C), np.float32)
        em, pm = np.zeros((n, cin, C), np.float32), np.zeros((n, C, cout), np.float32)
        keep = np.zeros(n, np.float32)
        for j, c in enumerate(self.spec.choices):
            if c.skip:
                continue
            keep[j] = 1.0
            lo = (K - c.kernel) // 2
            km[j, lo : lo + c.kernel, lo : lo + c.kernel] = 1.0
            width = cin * c.expand
            cm[j, :width] = 1.0
            g = c.groups
            for gi in range(g):  # block-diagonal masks of grouped 1x1 convs
                ei, eo = slice(gi * cin // g, (gi + 1) * cin // g), slice(gi * width // g, (gi + 1) * width // g)
                em[j, ei, eo] = 1.0
                po = slice(gi * cout // g, (gi + 1) * cout // g)
                pm[j, eo, po] = 1.0
            if not self.has_expand:
                em[j] = 0.0
        return {"kernel": km, "channels": cm, "expand": em, "project": pm, "keep": keep}

    def build(self, input_shape):
        cin, C, K, cout = self.spec.cin, self.C, self.K, self.spec.cout
        init = keras.initializers.HeNormal(seed=self.index)
        if self.has_expand:
            self.w_e = self.add_weight(shape=(1, 1, cin, C), initializer=init, name="expand_conv")
        self.w_d = self.add_weight(shape=(K, K, C, 1), initializer=keras.initializers.HeNormal(seed=100 + self.index),
                                   name="dw_conv")
        self.w_p = self.add_weight(shape=(1, 1, C, cout), initializer=keras.initializers.HeNormal(
            seed=200 + self.index), name="project_conv")
        if self.skip_conv:
            self.w_s = self.add_weight(shape=(1, 1, cin, cout), initializer=keras.initializers.HeNormal(
                seed=300 + self.index), name="skip_conv")
        if self.plan is not None:
            self.t = self.add_weight(shape=(3,), initializer=keras.initializers.Constant(-1.0), name="thresholds")
            # Reference squared norms at initialisation make the indicators scale-free.
            self.ref = self.add_weight(shape=(3,), initializer="ones", trainable=False, name="norm_reference")
        for bn, shape in ((self.bn_e, (None, None, None, C)), (self.bn_d, (None, None, None, C)),
                          (self.bn_p, (None, None, None, cout)), (self.bn_s, (None, None, None, cout))):
            if bn is not None:
                bn.build(shape)

    def reset_reference(self) -> None:
        """Take the current kernel's norms as the indicators' reference (after initialisation)."""
        if self.plan is not None:
            self.ref.assign(self._norms(self.w_d))

    # -- Single-Path NAS indicators ---------------------------------------------------------------
    def _norms(self, w_d):
        """Mean squared weights of (outer ring, first channel half, second half) of the kernel."""
        ks, _ = self.plan.kernels
        es, _ = self.plan.expands
        lo = (self.K - ks) // 2
        inner = np.zeros((self.K, self.K, 1, 1), np.float32)
        inner[lo : lo + ks, lo : lo + ks] = 1.0
        ring = w_d * (1.0 - inner)
        half = self.spec.cin * es
        ring_n = tf.reduce_sum(ring**2) / (float((1.0 - inner).sum()) * self.C)
        first = tf.reduce_mean(w_d[:, :, :half] ** 2)
        second = tf.reduce_mean(w_d[:, :, half:] ** 2)
        return tf.stack([ring_n, first, second])

    def indicators(self):
        """(keep, kernel_big, expand_big) as hard-forward, sigmoid-backward values."""
        x = tf.math.log(self._norms(self.w_d) / self.ref + 1e-12) - self.t
        d = hard_sigmoid_ste(x * 4.0)
        k_big, keep, e_big = d[0], d[1], d[2]
        if not self.plan.can_skip:
            keep = tf.constant(1.0)
        return keep, k_big, e_big

    def choice_weights(self):
        """Soft-routed weight of every choice, a product of indicators (sums to 1)."""
        keep, kb, eb = self.indicators()
        w = [tf.constant(0.0)] * len(self.spec.choices)
        for (k, e), j in self.plan.index.items():
            fk = kb if k == self.plan.kernels[1] else 1.0 - kb
            fe = eb if e == self.plan.expands[1] else 1.0 - eb
            w[j] = keep * fk * fe
        if self.plan.skip_index is not None:
            w[self.plan.skip_index] = 1.0 - keep
        return tf.stack(w)

    # -- forward ----------------------------------------------------------------------------------
    def call(self, x, choice=None, threshold: bool = False, training=None, linear: bool = False):
        act = self.spec.act
        if threshold and self.plan is not None:
            keep, kb, eb = self.indicators()
            ks, kl = self.plan.kernels
            lo = (self.K - ks) // 2
            inner = np.zeros((self.K, self.K, 1, 1), np.float32)
            inner[lo : lo + ks, lo : lo + ks] = 1.0
            kmask = inner + kb * (1.0 - inner)
            half = self.spec.cin * self.plan.expands[0]
            cmask = tf.concat([tf.ones(half), eb * tf.ones(self.C - half)], axis=0)
            emask, pmask = 1.0, 1.0
        else:
            j = 0 if choice is None else choice
            kmask = tf.gather(self.masks["kernel"], j)
            cmask = tf.gather(self.masks["channels"], j)
            emask = tf.gather(self.masks["expand"], j)[None, None]
            pmask = tf.gather(self.masks["project"], j)[None, None]
            keep = tf.gather(self.masks["keep"], j)
        h = x
        if self.has_expand:
            h = tf.nn.conv2d(h, self.w_e * emask, 1, "SAME")
            h = _act(self.bn_e(h, training=training), act, linear) * cmask
        s = self.spec.stride
        h = tf.nn.depthwise_conv2d(h, self.w_d * kmask, [1, s, s, 1], "SAME")
        h = _act(self.bn_d(h, training=training), act, linear) * cmask
        h = tf.nn.conv2d(h, self.w_p * pmask, 1, "SAME")
        h = self.bn_p(h, training=training)
        if self.residual:
            return x + keep * h
        if self.skip_conv:
            sk = self.bn_s(tf.nn.conv2d(x, self.w_s, s, "SAME"), training=training)
            return keep * h + (1.0 - keep) * sk
        return h


def _plan_or_none(layer: Layer) -> SuperkernelPlan | None:
    try:
        return superkernel_plan(layer)
    except SearchError:
        return None


class Supernet(keras.Model):
    """Stem, one SuperLayer per layer of the space, head and classifier."""

    def __init__(self, space: SearchSpace, **kw):
        super().__init__(name="supernet", **kw)
        self.space = space
        act = space.layers[0].act
        self.act = act
        self.stem_conv = keras.layers.Conv2D(space.stem_channels, 3, strides=space.stem_stride, padding="same",
                                             use_bias=False, name="stem_conv",
                                             kernel_initializer=keras.initializers.HeNormal(seed=1))
        self.stem_bn = keras.layers.BatchNormalization(name="stem_bn")
        self.blocks = [SuperLayer(layer, i) for i, layer in enumerate(space.layers)]
        self.head_conv = keras.layers.Conv2D(space.head_channels, 1, use_bias=False, name="head_conv",
                                             kernel_initializer=keras.initializers.HeNormal(seed=2))
        self.head_bn = keras.layers.BatchNormalization(name="head_bn")
        self.dropout = keras.layers.Dropout(0.1, seed=3)
        self.classifier = keras.layers.Dense(space.num_classes, name="classifier",
                                             kernel_initializer=keras.initializers.GlorotUniform(seed=4))
        self.choices = tf.Variable(np.zeros(len(space.layers), np.int32), trainable=False, name="choices")

    @property
    def searchable_blocks(self) -> list[SuperLayer]:
        return [b for b in self.blocks if not b.spec.fixed]

    def features(self, x, threshold: bool = False, training=None, linear: bool = False, collect: bool = False):
        h = self.stem_conv(x)
        h = _act(self.stem_bn(h, training=training), self.act, linear)
        acts = [h]
        for i, block in enumerate(self.blocks):
            h = block(h, choice=self.choices[i], threshold=threshold, training=training, linear=linear)
            acts.append(h)
        h = _act(self.head_bn(self.head_conv(h), training=training), self.act, linear)
        acts.append(h)
        return (h, acts) if collect else h

    def call(self, x, threshold: bool = False, training=None, linear: bool = False, batch_stats: bool = False):
        """`batch_stats`: evaluate with BatchNorm on the batch's own statistics, without dropout."""
        h = tf.reduce_mean(self.features(x, threshold, training or batch_stats, linear), axis=[1, 2])
        return self.classifier(self.dropout(h, training=training and not batch_stats))

    def thresholds(self) -> list[tf.Variable]:
        return [b.t for b in self.blocks if b.plan is not None]

    def weight_variables(self) -> list[tf.Variable]:
        ids = {id(v) for v in self.thresholds()}
        return [v for v in self.trainable_variables if id(v) not in ids]

    def decode(self) -> np.ndarray:
        """The architecture the hard indicators select (threshold mode)."""
        arch = np.zeros(len(self.blocks), np.int64)
        for i, block in enumerate(self.blocks):
            if block.plan is None:
                continue
            keep, kb, eb = (float(v) for v in block.indicators())
            arch[i] = decode_indicators(block.plan, keep > 0.5, kb > 0.5, eb > 0.5)
        return arch

    def margins(self) -> np.ndarray:
        """[layer, 3] signed distances of the indicator inputs from their thresholds."""
        out = np.full((len(self.blocks), 3), np.inf)
        for i, block in enumerate(self.blocks):
            if block.plan is not None:
                out[i] = (tf.math.log(block._norms(block.w_d) / block.ref + 1e-12) - block.t).numpy()
        return out


def build_supernet(space: SearchSpace, seed: int = 0) -> Supernet:
    keras.utils.set_random_seed(seed)
    net = Supernet(space)
    net(tf.zeros((1, space.resolution, space.resolution, 3)), training=False)
    for block in net.blocks:
        block.reset_reference()
    return net


def soft_latency(net: Supernet, table: np.ndarray, constant: float):
    """Single-Path NAS's differentiable runtime: constant plus, per layer, the indicator-weighted
    cost of its choices (fixed layers at their only choice)."""
    total = tf.constant(float(constant))
    for i, block in enumerate(net.blocks):
        row = np.nan_to_num(table[i, : len(block.spec.choices)]).astype(np.float32)
        if block.plan is not None:
            total += tf.reduce_sum(block.choice_weights() * row)
        elif block.spec.fixed:
            total += float(row[0])
        else:
            raise SearchError(f"layer {i}: the single-path strategy needs a superkernel layer")
    return total
