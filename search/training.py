"""Training loops: plain Keras fitting, the weight-sharing supernet (random paths) and the single-path search.

`fit_model` is the one plain loop (short training from scratch, fine-tuning). The other two
run compiled `tf.function` steps over in-memory arrays. The supernet samples one path
per layer and batch uniformly (as in SPOS / OFA's progressive training without shrinking),
so every subnetwork's inherited weights are trained. The single-path search trains weights and
thresholds together with CE + lambda * ln R, R the superkernel's differentiable runtime.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from edgelat.search.supernet import SearchError, Supernet, soft_latency

Advance = Callable[[int, int, dict], None]  # (step, total, info), e.g. Progress.advance


def adam(lr: float, decay_steps: int | None = None) -> keras.optimizers.Adam:
    """Adam at `lr`, decayed by a cosine to 5 % of it over `decay_steps` when given."""
    rate = lr if decay_steps is None else keras.optimizers.schedules.CosineDecay(lr, decay_steps, alpha=0.05)
    return keras.optimizers.Adam(learning_rate=rate)


# Tracing a search network's train step costs about 20 s here (AMD EPYC, 2 cores), an eager step
# about 0.9 s and a traced one 0.05 s: trainings of up to this many steps run eagerly.
EAGER_MAX_STEPS = 16


class _StepProgress(keras.callbacks.Callback):
    """Reports every training step to a progress callback (the CLI's heartbeat)."""

    def __init__(self, progress: Advance, total: int):
        super().__init__()
        self.progress, self.total, self.done = progress, total, 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        self.progress(self.done, self.total, {"loss": float((logs or {}).get("loss", float("nan")))})


def fit_model(model: keras.Model, x: np.ndarray, y: np.ndarray, *, epochs: int, batch: int, lr: float,
              cosine: bool = False, seed: int | None = None, progress: Advance | None = None) -> None:
    """Train a classifier (logits, integer labels) with Adam on shuffled batches; `seed` reseeds Keras first.
    Short trainings (at most EAGER_MAX_STEPS steps) run eagerly, since tracing would cost more."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    steps = -(-len(y) // batch) * epochs
    decay_steps = max(1, len(y) // batch) * epochs if cosine else None
    model.compile(optimizer=adam(lr, decay_steps), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=steps <= EAGER_MAX_STEPS)
    callbacks = [_StepProgress(progress, steps)] if progress else []
    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, shuffle=True, callbacks=callbacks)


def _batches(n: int, batch: int, rng: np.random.Generator):
    order = rng.permutation(n)
    for i in range(0, n - batch + 1 if n >= batch else 1, batch):
        yield order[i : i + batch]


def random_choices(net: Supernet, rng: np.random.Generator) -> np.ndarray:
    counts = np.array([len(b.spec.choices) for b in net.blocks])
    return (rng.random(len(counts)) * counts).astype(np.int32)


def train_supernet(net: Supernet, x: np.ndarray, y: np.ndarray, epochs: int = 10, batch: int = 64,
                   lr: float = 3e-3, seed: int = 0, progress: Advance | None = None) -> list[float]:
    """Train shared weights on uniformly sampled paths; returns the loss per epoch."""
    rng = np.random.default_rng(seed)
    steps_per_epoch = max(1, len(y) // batch)
    opt = adam(lr, epochs * steps_per_epoch)
    variables = net.weight_variables()
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(reduce_retracing=True)  # XLA (jit_compile) is ~10x slower here: depthwise on CPU
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = ce(yb, net(xb, training=True))
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    total, done, history = epochs * steps_per_epoch, 0, []
    for _ in range(epochs):
        losses = []
        for idx in _batches(len(y), batch, rng):
            net.choices.assign(random_choices(net, rng))
            losses.append(float(step(tf.constant(x[idx]), tf.constant(y[idx]))))
            done += 1
            if progress:
                progress(done, total, {"loss": losses[-1]})
        history.append(float(np.mean(losses)))
    return history


def accuracy_of(net: Supernet, arch: np.ndarray, x: np.ndarray, y: np.ndarray, batch: int = 512) -> float:
    """Top-1 of one subnetwork with inherited weights. BatchNorm uses the evaluation batch's own
    statistics (the supernet's running statistics mix every path), as one-shot methods recalibrate."""
    net.choices.assign(np.asarray(arch, np.int32))
    correct = 0
    for i in range(0, len(y), batch):
        logits = _eval_step(net, tf.constant(x[i : i + batch]))
        correct += int(np.sum(np.argmax(logits.numpy(), axis=1) == y[i : i + batch]))
    return correct / len(y)


def _eval_step(net: Supernet, xb):
    """One compiled evaluation function per supernet, kept on the net itself."""
    fn = getattr(net, "_edgelat_eval_fn", None)
    if fn is None:
        fn = tf.function(lambda t: net(t, batch_stats=True), reduce_retracing=True)
        object.__setattr__(net, "_edgelat_eval_fn", fn)
    return fn(xb)


@dataclass
class SinglePathResult:
    arch: np.ndarray
    history: list[dict] = field(default_factory=list)


def train_single_path(net: Supernet, x: np.ndarray, y: np.ndarray, table: np.ndarray, constant: float, *,
                      target_ms: float | None = None, lam: float = 0.02, epochs: int = 5, batch: int = 64,
                      lr: float = 1e-3, threshold_lr: float = 0.3, dual_lr: float = 0.2, dual_gain: float = 2.0,
                      seed: int = 0,
                      progress: Advance | None = None) -> SinglePathResult:
    """Single-Path NAS: weights and thresholds trained together on CE + lambda * ln R.

    With `target_ms` the loss is CE + lambda * ln(R / T) and lambda is the dual variable of
    R = T: it rises while the decoded architecture's latency is over the target and falls,
    below zero if need be, while under it, so the search uses the budget it is given instead of
    collapsing far below it; users give a budget in ms instead of tuning lambda. Without a
    target, lambda is fixed (`lam`). The controller is proportional-integral (`dual_gain` on the
    current log-ratio, `dual_lr` on its running sum) and the threshold step decays with a cosine,
    so the architecture settles instead of oscillating around the target. Thresholds use plain
    SGD so that the CE and runtime gradients keep their relative sizes (Adam would normalise both).
    """
    if not net.thresholds():
        raise SearchError("the space has no superkernel layers to search")
    rng = np.random.default_rng(seed)
    opt_w = adam(lr)
    total, done = epochs * max(1, len(y) // batch), 0  # steps
    opt_t = keras.optimizers.SGD(learning_rate=keras.optimizers.schedules.CosineDecay(threshold_lr, total, alpha=0.1))
    w_vars, t_vars = net.weight_variables(), net.thresholds()
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    lam_var = tf.Variable(float(lam if target_ms is None else 0.0), trainable=False)
    integral = 0.0
    rows = np.arange(len(net.blocks))
    target = float(target_ms) if target_ms is not None else 1.0

    @tf.function(reduce_retracing=True)
    def step(xb, yb):
        with tf.GradientTape() as tape:
            ce_loss = ce(yb, net(xb, threshold=True, training=True))
            runtime = soft_latency(net, table, constant)
            loss = ce_loss + lam_var * tf.math.log(runtime / target)
        grads = tape.gradient(loss, w_vars + t_vars)
        opt_w.apply_gradients(zip(grads[: len(w_vars)], w_vars, strict=True))
        opt_t.apply_gradients(zip(grads[len(w_vars) :], t_vars, strict=True))
        return ce_loss, runtime

    result = SinglePathResult(np.zeros(len(net.blocks), np.int64))
    for epoch in range(epochs):
        for idx in _batches(len(y), batch, rng):
            ce_loss, runtime = step(tf.constant(x[idx]), tf.constant(y[idx]))
            arch = net.decode()
            hard = float(np.nan_to_num(table[rows, arch]).sum() + constant)
            if target_ms is not None:
                error = math.log(hard / target_ms)
                integral += dual_lr * error
                lam_var.assign(integral + dual_gain * error)
            done += 1
            info = {"epoch": epoch, "ce": float(ce_loss), "soft_ms": float(runtime), "hard_ms": hard,
                    "lambda": float(lam_var), "arch": arch.tolist()}
            result.history.append(info)
            if progress:
                progress(done, total, info)
    result.arch = net.decode()
    return result
