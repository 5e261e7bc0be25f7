"""Accuracy signals that rank architectures: inherited supernet accuracy, short training, and
zero-cost proxies (params, FLOPs, synflow, NASWOT, and NASGraph's average degree).

Every signal maps an [N, layers] array of choice indices to N scores, higher is better.
`is_accuracy` says whether the scores are accuracies in [0, 1] (needed by the soft reward).
"""

from __future__ import annotations

import numpy as np

from edgelat.core.registry import Registry
from edgelat.core.spaces import Layer, SearchSpace
from edgelat.errors import SearchError
from edgelat.search.accuracy_table import TableSignal
from edgelat.search.signal_base import AccuracySignal, SignalContext


def _space_total(space: SearchSpace, fn) -> np.ndarray:
    return np.nan_to_num(space.choice_matrix(fn))


class ParamsSignal(AccuracySignal):
    """Parameter count of the searchable layers (bigger networks tend to be more accurate)."""

    name, vectorised = "params", True

    def __init__(self, space: SearchSpace):
        self.table = _space_total(space, Layer.params)
        self.rows = np.arange(len(space.layers))

    @classmethod
    def from_context(cls, ctx: SignalContext) -> ParamsSignal:
        return cls(ctx.space)

    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        return self.table[self.rows, np.asarray(archs)].sum(axis=1)


class FlopsSignal(ParamsSignal):
    """Multiply-accumulates of the searchable layers."""

    name = "flops"

    def __init__(self, space: SearchSpace):
        self.table = _space_total(space, Layer.macs)
        self.rows = np.arange(len(space.layers))


class SupernetSignal(AccuracySignal):
    """Validation top-1 of the subnetwork with weights inherited from the trained supernet."""

    name, is_accuracy, needs_supernet = "supernet", True, True

    def __init__(self, net, x_val: np.ndarray, y_val: np.ndarray):
        self.net, self.x, self.y = net, x_val, y_val

    @classmethod
    def from_context(cls, ctx: SignalContext) -> SupernetSignal:
        return cls(ctx.supernet, ctx.data.x_val, ctx.data.y_val)

    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        from edgelat.search.training import accuracy_of

        return np.array([accuracy_of(self.net, a, self.x, self.y) for a in np.asarray(archs)])


class TrainSignal(AccuracySignal):
    """Validation top-1 after a short training from scratch (the most faithful, the slowest); a
    batch trains in parallel on a Ray cluster when a trainer is given (search --cluster)."""

    name, is_accuracy = "train", True

    def __init__(self, space: SearchSpace, data, epochs: int = 8, seed: int = 0, trainer=None):
        self.space, self.data, self.epochs, self.seed, self.trainer = space, data, epochs, seed, trainer

    @classmethod
    def from_context(cls, ctx: SignalContext) -> TrainSignal:
        return cls(ctx.space, ctx.data, ctx.epochs, ctx.seed, ctx.trainer)

    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        if self.trainer is not None:
            return self.trainer.accuracies(list(np.asarray(archs)), split="val")
        return np.array([short_train(self.space, a, self.data, self.epochs, self.seed)[1] for a in np.asarray(archs)])


def short_train(space: SearchSpace, arch: np.ndarray, data, epochs: int = 8, seed: int = 0, split: str = "val",
                progress=None):
    """Train `arch` from scratch for a few epochs; returns (model, top-1 on `split`). `progress(done, total,
    info)` hears every step."""
    from edgelat.core.builders import build_network
    from edgelat.search.training import fit_model
    from edgelat.search.weights import recalibrate_bn, top1

    model = build_network(space, arch, seed=seed)
    fit_model(model, data.x_train, data.y_train, epochs=epochs, batch=64, lr=5e-3, cosine=True, progress=progress)
    recalibrate_bn(model, data.x_train)  # a few hundred steps leave the running statistics near their init
    x, y = (data.x_val, data.y_val) if split == "val" else (data.x_test, data.y_test)
    return model, top1(model, x, y)


class _FreshSupernetSignal(AccuracySignal):
    """Zero-cost proxies computed on an untrained supernet with the candidate's path selected:
    the masked supernet computes exactly the subnetwork's function."""

    def __init__(self, space: SearchSpace, x: np.ndarray, batch: int = 32, seed: int = 0):
        from edgelat.search.supernet import build_supernet

        self.net = build_supernet(space, seed=seed)
        self.x = x[:batch].astype(np.float32)
        # Untrained BatchNorms as identities (gamma 1, beta 0): the supernet zero-inits residual gammas.
        bns = [self.net.stem_bn, self.net.head_bn] + [bn for b in self.net.blocks
                                                      for bn in (b.bn_e, b.bn_d, b.bn_p, b.bn_s) if bn is not None]
        for bn in bns:
            bn.gamma.assign(np.ones(bn.gamma.shape, np.float32))
            bn.beta.assign(np.zeros(bn.beta.shape, np.float32))

    @classmethod
    def from_context(cls, ctx: SignalContext) -> _FreshSupernetSignal:
        return cls(ctx.space, ctx.data.x_train, seed=ctx.seed)


class SynflowSignal(_FreshSupernetSignal):
    """SynFlow (Tanaka et al. 2020): sum of |theta * dR/dtheta| for R the output sum of the
    network with absolute weights, linear activations and an all-ones input (data-free)."""

    name = "synflow"

    def __init__(self, space: SearchSpace, x: np.ndarray, seed: int = 0):
        super().__init__(space, x, 1, seed)
        import tensorflow as tf

        for v in self.net.weights:  # absolute weights; BN at its initial identity statistics
            v.assign(tf.abs(v))
        self.ones = tf.ones((1, space.resolution, space.resolution, 3), tf.float32)
        self.variables = [v for v in self.net.trainable_variables if "threshold" not in v.path]

    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        out = []
        for a in np.asarray(archs):
            self.net.choices.assign(np.asarray(a, np.int32))
            with tf.GradientTape() as tape:
                r = tf.reduce_sum(tf.cast(self.net(self.ones, training=False, linear=True), tf.float64))
            grads = tape.gradient(r, self.variables)
            s = sum(float(tf.reduce_sum(tf.abs(tf.cast(v, tf.float64) * tf.cast(g, tf.float64))))
                    for v, g in zip(self.variables, grads, strict=True) if g is not None)
            out.append(np.log(s) if s > 0 else -np.inf)
        return np.array(out)


class NaswotSignal(_FreshSupernetSignal):
    """NASWOT (Mellor et al. 2021): log|det K| of the Hamming kernel of the binary ReLU codes
    of a minibatch; networks that separate inputs better score higher."""

    name = "naswot"

    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        out = []
        for a in np.asarray(archs):
            self.net.choices.assign(np.asarray(a, np.int32))
            _, acts = self.net.features(tf.constant(self.x), training=False, collect=True)
            codes = np.concatenate([(t.numpy() > 0).reshape(len(self.x), -1) for t in acts], axis=1)
            c = codes.astype(np.float64)
            k = c @ c.T + (1 - c) @ (1 - c).T
            sign, logdet = np.linalg.slogdet(k)
            out.append(logdet if sign > 0 else -np.inf)
        return np.array(out)


class NasgraphSignal(_FreshSupernetSignal):
    """NASGraph (Huang et al. 2023), simplified: the network becomes a graph whose nodes are the
    channels of every active convolution; an edge joins input channel i to output channel j
    when a data-free forward pass of a unit input on i alone leaves j positive after the
    activation. The score is the graph's average degree 2E/N."""

    name = "nasgraph"

    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        return np.array([self._degree(a) for a in np.asarray(archs)])

    def _degree(self, arch: np.ndarray) -> float:
        edges, nodes = 0.0, 0.0
        for block, j in zip(self.net.blocks, arch, strict=True):
            choice = block.spec.choices[j]
            if choice.skip:
                continue
            m = block.masks
            if block.has_expand:
                w = block.w_e.numpy()[0, 0] * m["expand"][j]
                g, b = (np.asarray(v) for v in block.bn_e.get_weights()[:2])
                edges += float(np.sum((w * g + b) > 0) * 1.0)
                nodes += float(w.shape[0])
            width = block.spec.cin * choice.expand
            dw = (block.w_d.numpy() * m["kernel"][j])[..., :width, 0]
            g, b = (np.asarray(v)[:width] for v in block.bn_d.get_weights()[:2])
            edges += float(np.sum((dw.sum(axis=(0, 1)) * g + b) > 0))
            wp = block.w_p.numpy()[0, 0, :width] * m["project"][j][:width]
            edges += float(np.sum(wp > 0))
            nodes += 2.0 * width + block.spec.cout
        return 2.0 * edges / max(nodes, 1.0)


SIGNALS: Registry[type[AccuracySignal]] = Registry("accuracy signal", SearchError)
"""Name -> signal class; `SIGNALS.get(name).from_context(ctx)` builds the signal `--accuracy NAME` uses."""
for _name, _cls in (("supernet", SupernetSignal), ("synflow", SynflowSignal), ("naswot", NaswotSignal),
                    ("nasgraph", NasgraphSignal), ("params", ParamsSignal), ("flops", FlopsSignal),
                    ("train", TrainSignal), ("table", TableSignal)):
    SIGNALS.register(_name, _cls)
