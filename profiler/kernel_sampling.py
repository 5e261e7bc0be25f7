"""Which kernels to profile: those of given .tflite models, and a sampler of the configurations
real CNNs use (nn-Meter samples around such a prior too).

Without prior models the sampler draws from distributions typical of mobile CNNs (feature maps
of 7 to 224 pixels, 8 to 2,048 channels, mostly 1x1 and 3x3 convolutions). With prior kernels
(`--from-model`'s), it perturbs them: channels times 0.5 to 2, feature maps one step up or down.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from edgelat.core.kernelspec import QUANT_KINDS, KernelSpec
from edgelat.errors import DataError

# Kinds and their share of a sample (convolutions dominate real models' time, so their space too).
KIND_WEIGHTS = {"conv2d": 30, "dwconv2d": 18, "add": 7, "mul": 6, "mean": 4, "avgpool": 3, "maxpool": 3,
                "concat": 4, "pad": 3, "fc": 4, "hswish": 3, "sigmoid": 3, "relu": 3, "relu6": 2, "softmax": 2,
                "reshape": 2, "slice": 1, "sub": 2, "quantize": 1, "dequantize": 1}
MAX_MACS = 300_000_000  # bigger than any layer of ResNet50 at 224 px: not worth the profiling time
SIZES = (4, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 120, 128, 160, 192, 224)


def _channels(rng: random.Random, low: int = 8, high: int = 2048) -> int:
    """Log-uniform channels, rounded to a multiple of 8 (4 below 16)."""
    c = math.exp(rng.uniform(math.log(low), math.log(high)))
    step = 8 if c >= 16 else 4
    return max(step, int(round(c / step)) * step)


def _out_hw(hw: int, k: int, s: int, padding: str) -> int:
    return -(-hw // s) if padding == "same" else (hw - k) // s + 1


def _windowed(kind: str, rng: random.Random, hw: int, c: int) -> KernelSpec:
    if kind == "conv2d":
        k = rng.choices((1, 3, 5, 7), (60, 32, 5, 3))[0]
        cout = _channels(rng) if k == 1 else _channels(rng, 8, 512)
    elif kind == "dwconv2d":
        k, cout = rng.choices((3, 5, 7), (60, 30, 10))[0], c
    else:
        k, cout = rng.choice((2, 3)), c
    s = rng.choices((1, 2), (75, 25))[0]
    padding = "valid" if k == 1 or rng.random() < 0.2 else "same"
    if hw < k:
        hw = k
    out = _out_hw(hw, k, s, padding)
    act = "none" if kind in ("maxpool", "avgpool") else rng.choice(("none", "relu", "relu6"))
    return KernelSpec(kind, (f"{hw}x{hw}x{c}",), f"{out}x{out}x{cout}", k, s, padding, act)


def _elementwise(kind: str, rng: random.Random, hw: int, c: int) -> KernelSpec:
    fmap = f"{hw}x{hw}x{c}"
    if kind in ("add", "sub"):
        other = rng.choice((fmap, fmap, f"c{c}", "c"))
        act = rng.choice(("none", "relu")) if kind == "add" else "none"
        return KernelSpec(kind, (fmap, other), fmap, act=act)
    if kind == "mul":
        return KernelSpec(kind, (fmap, rng.choice((fmap, f"1x1x{c}", f"c{c}", "c"))), fmap)
    if kind == "concat":
        parts = [_channels(rng, 8, 512) for _ in range(rng.choice((2, 2, 3, 4)))]
        return KernelSpec(kind, tuple(f"{hw}x{hw}x{p}" for p in parts), f"{hw}x{hw}x{sum(parts)}")
    if kind == "mean":
        return KernelSpec(kind, (fmap,), rng.choice((f"{c}", f"1x1x{c}")))
    if kind == "pad":
        d = rng.choice((1, 2, 3))
        return KernelSpec(kind, (fmap,), f"{hw + d}x{hw + d}x{c}")
    if kind == "slice":
        return KernelSpec(kind, (f"{hw + 1}x{hw + 1}x{c}",), fmap)
    return KernelSpec(kind, (fmap,), fmap, dtype="int8" if kind in QUANT_KINDS else "fp32")  # activations


def _vector(kind: str, rng: random.Random) -> KernelSpec:
    n = _channels(rng, 16, 2048)
    if kind == "fc":
        return KernelSpec(kind, (f"{n}",), f"{rng.choice((10, 100, 1000, _channels(rng, 8, 1280)))}",
                          act=rng.choice(("none", "relu")))
    if kind == "reshape":
        return KernelSpec(kind, (f"1x1x{n}",), f"{n}") if rng.random() < 0.5 else \
            KernelSpec(kind, (f"{n}",), f"1x1x{n}")
    m = rng.choice((10, 100, 1000, n))  # softmax over classes
    return KernelSpec(kind, (f"{m}",), f"{m}")


def sample_kernel(rng: random.Random, kind: str | None = None, hw: int | None = None, c: int | None = None
                  ) -> KernelSpec:
    """One kernel drawn from the built-in prior (`kind`, feature map and channels may be fixed)."""
    kind = kind or rng.choices(list(KIND_WEIGHTS), list(KIND_WEIGHTS.values()))[0]
    hw = hw or rng.choice(SIZES)
    c = c or _channels(rng, 8, 1024 if hw <= 28 else 256)
    if kind in ("fc", "reshape", "softmax"):
        return _vector(kind, rng)
    if kind in ("conv2d", "dwconv2d", "maxpool", "avgpool"):
        return _windowed(kind, rng, hw, c)
    return _elementwise(kind, rng, hw, c)


def near_kernel(rng: random.Random, spec: KernelSpec) -> KernelSpec:
    """A kernel like `spec`: same kind, its feature map one size step away, channels x0.5 to x2."""
    (shape, _), = spec.input_shapes()[:1]
    if len(shape) != 3:
        return sample_kernel(rng, spec.kind)
    i = min(range(len(SIZES)), key=lambda j: abs(SIZES[j] - shape[0]))
    hw = SIZES[max(0, min(len(SIZES) - 1, i + rng.choice((-1, 0, 0, 1))))]
    c = max(8, int(round(shape[2] * 2 ** rng.uniform(-1, 1) / 8)) * 8)
    return sample_kernel(rng, spec.kind, hw, c)


def sample_kernels(n: int, seed: int = 0, dtypes: Sequence[str] = ("fp32",),
                   prior: Sequence[KernelSpec] = ()) -> list[KernelSpec]:
    """`n` distinct kernels per dtype: near `prior` kernels (half of them) when given, else from
    the built-in prior; reproducible for a seed. Fewer than `n` after 50·n draws is an error.
    QUANTIZE and DEQUANTIZE exist in int8 only: beside fp32, int8 gets them on top of its `n`.
    A draw equal to a `prior` kernel (in any dtype) is not counted: those are measured anyway."""
    rng = random.Random(seed)
    quant, both = "int8" in dtypes, "int8" in dtypes and len(set(dtypes)) > 1
    known = {_shape_key(p) for p in prior}
    seen: dict[str, KernelSpec] = {}
    counted = tries = 0
    while counted < n and tries < 50 * n:
        tries += 1
        spec = near_kernel(rng, rng.choice(prior)) if prior and rng.random() < 0.5 else sample_kernel(rng)
        is_quant = spec.kind in QUANT_KINDS
        key = _shape_key(spec)
        if spec.macs() <= MAX_MACS and (quant or not is_quant) and key not in seen and key not in known:
            seen[key] = spec
            counted += not (both and is_quant)
    if counted < n:
        raise DataError(f"--kernels {n}: only {counted} distinct kernels could be drawn "
                        f"{'around the given models' if prior else 'from the built-in prior'}; ask for fewer")
    return [s.with_dtype(d) for d in dtypes for s in seen.values() if d == "int8" or s.kind not in QUANT_KINDS]


def _shape_key(spec: KernelSpec) -> str:
    """The key without its dtype."""
    return spec.key.rsplit("-", 1)[0]
