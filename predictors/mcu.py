"""Fast analytic MCU estimate of a whole int8 network: peak SRAM, flash and (estimated) latency.

For searches that score thousands of candidates per second without building a model. A network
is a sequence of layers: `Conv` (stem or head), `BlockSpec` MBConv blocks, `Pool` (global
average) and `Classifier`. Peak SRAM follows MCUNet: the maximum over ops of the live activation
bytes (the op's inputs and outputs plus tensors kept for a later residual add), each buffer
16-byte aligned, plus TFLM's bookkeeping (tensor and node structs, per-channel requantisation
parameters). Flash is int8 weights + int32 biases + the flatbuffer's metadata + the runtime
footprint. Latency comes from the calibrated cycle model of devices/mcu/cycle_model.py: an ESTIMATE.

For a converted .tflite, `edgelat.devices.mcu.tflm.mcu_report` gives the exact TFLM arena instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from edgelat.core.blockspec import BlockSpec
from edgelat.devices.catalog import Device
from edgelat.devices.mcu import ops as mcu_ops
from edgelat.devices.mcu.cycle_model import RUNTIME_FLASH_BYTES, check_core, op_cycles
from edgelat.devices.mcu.ops import McuOp
from edgelat.devices.mcu.tflm import MemoryFit
from edgelat.errors import PredictorError

# TFLM bookkeeping in the arena tail on a 64-bit host, from RecordingMicroAllocator's report on
# this project's converted blocks and networks: TfLiteEvalTensor 24 B per tensor (constants
# included), NodeAndRegistration 64 B per op, kernel op data ~72 B per op plus 8 B per output
# channel of conv/dw/fc (requantisation multiplier and shift), the persistent input/output
# tensors (~192 B) and ~700 B of allocator state.
EVAL_TENSOR_BYTES, NODE_BYTES, OPDATA_BYTES, CHANNEL_BYTES, TAIL_BASE_BYTES = 24, 64, 72, 8, 892
# Flatbuffer metadata besides weights and biases (operators, tensor records and names,
# per-channel quantisation of weights and biases), fitted on the same converted networks.
FLATBUFFER_BYTES_PER_OP, FLATBUFFER_BYTES_PER_CHANNEL, FLATBUFFER_BYTES_BASE = 400, 20, 1200
ALIGN = 16
MAC_KINDS = ("conv", "pw", "dw", "fc")


@dataclass(frozen=True)
class Conv:
    """A plain conv (stem kxk stride 2, or a 1x1 head), SAME padding, fused relu/relu6 or separate hswish."""

    input_hw: int
    cin: int
    cout: int
    kernel: int = 3
    stride: int = 1
    act: str = "relu6"


@dataclass(frozen=True)
class Pool:
    """Global average pooling."""

    input_hw: int
    channels: int


@dataclass(frozen=True)
class Classifier:
    cin: int
    classes: int


McuLayer = Conv | Pool | Classifier | BlockSpec


@dataclass(frozen=True)
class McuEstimate(MemoryFit):
    """Analytic memory and estimated latency of a network on one MCU."""

    peak_sram_bytes: int
    flash_bytes: int
    cycles: float
    latency_ms: float
    sram_available: int
    flash_available: int
    estimated: bool = True


@lru_cache(maxsize=65536)
def _layer_ops(layer: McuLayer) -> tuple[McuOp, ...]:
    if isinstance(layer, BlockSpec):
        if layer.dtype != "int8":
            raise PredictorError(f"{layer.key}: MCU estimates are for int8 blocks")
        ops, _ = mcu_ops.mbconv(layer.input_hw, layer.cin, layer.cout, layer.expand, layer.kernel, layer.stride,
                                layer.se_channels, layer.act)
        return tuple(ops)
    if isinstance(layer, Conv):
        op, ho = mcu_ops.conv2d(layer.input_hw, layer.cin, layer.cout, layer.kernel, layer.stride)
        return (op, mcu_ops.elementwise("act", ho, layer.cout)) if layer.act == "hswish" else (op,)
    if isinstance(layer, Pool):
        return (mcu_ops.global_pool(layer.input_hw, layer.channels),)
    if isinstance(layer, Classifier):
        return (mcu_ops.fully_connected(layer.cin, layer.classes),)
    raise PredictorError(f"not an MCU network layer: {layer!r}")


def network_ops(layers: Sequence[McuLayer]) -> list[McuOp]:
    """The int8 ops of a layer sequence, in order."""
    return [op for layer in layers for op in _layer_ops(layer)]


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def peak_sram(ops: Sequence[McuOp]) -> int:
    """MCUNet-style peak: max over ops of live activation bytes, plus TFLM's arena bookkeeping."""
    head = max(_aligned(op.in_bytes) + _aligned(op.out_bytes) + _aligned(op.extra_live) for op in ops)
    weighted = [op for op in ops if op.kind in MAC_KINDS]
    n_tensors = 1 + len(ops) + 2 * len(weighted)  # input, one output per op, weights and biases
    channels = sum(op.channels for op in weighted)
    tail = (EVAL_TENSOR_BYTES * n_tensors + (NODE_BYTES + OPDATA_BYTES) * len(ops) + CHANNEL_BYTES * channels
            + TAIL_BASE_BYTES)
    return head + tail


def model_bytes(ops: Sequence[McuOp]) -> int:
    """Estimated .tflite size: weights, biases and flatbuffer metadata."""
    channels = sum(op.channels for op in ops if op.kind in MAC_KINDS)
    return (sum(op.const_bytes for op in ops) + FLATBUFFER_BYTES_PER_OP * len(ops)
            + FLATBUFFER_BYTES_PER_CHANNEL * channels + FLATBUFFER_BYTES_BASE)


def estimate_network(layers: Sequence[McuLayer], device: Device) -> McuEstimate:
    """Peak SRAM, flash and estimated latency of `layers` on the MCU `device`."""
    if device.kind != "mcu":
        raise PredictorError(f"device {device.name!r} is a {device.kind}, not an mcu")
    check_core(device.core, device.source)
    ops = network_ops(layers)
    if not ops:
        raise PredictorError("empty network")
    cycles = sum(op_cycles(op, device.core) for op in ops)
    return McuEstimate(peak_sram(ops), model_bytes(ops) + RUNTIME_FLASH_BYTES, cycles,
                       cycles / (float(device.clock_mhz) * 1e3), device.memory["sram"], device.memory["flash"])


def space_network(space, indices) -> list[McuLayer]:
    """The layers of one architecture of a core.spaces.SearchSpace (int8): stem 3x3 (its stride),
    the chosen blocks (a skip that changes the shape is a 1x1 conv), 1x1 head, pooling, classifier."""
    idx = space.validate([list(indices)])[0]
    hw = space.stem_hw
    layers: list[McuLayer] = [Conv(space.resolution, 3, space.stem_channels, 3, space.stem_stride)]
    cin = space.stem_channels
    for layer, i in zip(space.layers, idx, strict=True):
        choice = layer.choices[int(i)]
        if choice.skip:
            if not layer.identity_skip:
                layers.append(Conv(layer.input_hw, layer.cin, layer.cout, 1, layer.stride, layer.act))
        elif choice.groups != 1:
            raise PredictorError(f"choice {choice.name!r}: grouped 1x1 convolutions have no MCU estimate yet")
        else:
            layers.append(layer.block(choice, "int8"))
        hw, cin = layer.output_hw, layer.cout
    layers += [Conv(hw, cin, space.head_channels, 1, 1), Pool(hw, space.head_channels),
               Classifier(space.head_channels, space.num_classes)]
    return layers


class McuPredictor:
    """Latency, peak SRAM and flash of a space's architectures on one MCU, from the analytic
    estimate above, memoised per architecture: the search's latency model on microcontrollers."""

    name = "mcu-cycle-model (estimate)"

    def __init__(self, space, device: Device):
        self.space, self.device = space, device
        self._cache: dict[bytes, McuEstimate] = {}

    def estimate(self, arch) -> McuEstimate:
        """The whole estimate of one architecture (choice indices)."""
        key = np.asarray(arch, np.int8).tobytes()
        if key not in self._cache:
            self._cache[key] = estimate_network(space_network(self.space, arch), self.device)
        return self._cache[key]

    def predict(self, archs) -> np.ndarray:
        """Estimated latency in ms of each architecture of `archs` ([N, layers])."""
        return np.array([self.estimate(a).latency_ms for a in np.asarray(archs)])

    def sram(self, archs) -> np.ndarray:
        """Estimated peak SRAM bytes of each architecture."""
        return np.array([self.estimate(a).peak_sram_bytes for a in np.asarray(archs)], float)

    def flash(self, archs) -> np.ndarray:
        """Estimated flash bytes of each architecture."""
        return np.array([self.estimate(a).flash_bytes for a in np.asarray(archs)], float)
