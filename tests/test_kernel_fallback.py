"""Ops no kernel predictor covers (grouped and dilated convolutions, BATCH_MATMUL, TRANSPOSE_CONV,
TANH, GELU, layer norms, ...): counted by the one op breakdown, priced by the fallback and marked,
refused under --strict, and the total's interval widened."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgelat.core.op_breakdown import kernel_op, op_terms, tflite_op
from edgelat.core.tflite_file import read_graph
from edgelat.core.tflite_ops import model_kernels
from edgelat.errors import DataError
from edgelat.predictors import persistence
from edgelat.predictors.kernel_pricing import predict_kernels
from edgelat.predictors.kernels import KernelPredictor
from edgelat.profiler.kernel_sampling import sample_kernels

from conftest import run_cli

pytestmark = pytest.mark.slow  # converts models with TensorFlow


def _exotic(keras):
    """A small model of ops with no kernel type: grouped, dilated and transposed convolutions, a matmul
    of two activations, layer norm, GELU and TANH, and a bilinear resize."""
    inp = keras.Input((16, 16, 8), batch_size=1)
    x = keras.layers.Conv2D(16, 3, padding="same", groups=4)(inp)
    x = keras.layers.Conv2D(16, 3, padding="same", dilation_rate=2, activation="tanh")(x)
    x = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same")(x)
    tokens = keras.layers.Reshape((32 * 32, 8))(x)
    attn = keras.ops.matmul(keras.ops.transpose(tokens, (0, 2, 1)), tokens)  # 8x8 from two activations
    y = keras.layers.LayerNormalization()(keras.layers.Dense(8, activation="gelu")(keras.layers.Flatten()(attn)))
    z = keras.layers.Resizing(48, 48, interpolation="bilinear")(x)
    return keras.Model(inp, [y, z])


@pytest.fixture(scope="module")
def exotic(tmp_path_factory):
    keras = pytest.importorskip("keras")
    from edgelat.core.convert import convert_model

    keras.utils.set_random_seed(0)
    folder, model = tmp_path_factory.mktemp("exotic"), _exotic(keras)
    paths = {}
    for dtype in ("fp32", "int8"):
        paths[dtype] = folder / f"exotic-{dtype}.tflite"
        paths[dtype].write_bytes(convert_model(model, dtype, calibration_samples=2).data)
    return paths


def _physical_ms(ops) -> np.ndarray:
    """Synthetic latencies that are exactly a launch plus MACs plus activations moved."""
    return np.array([2e-3 * t[0] + 1e-6 * t[1] + 4e-7 * t[3] for t in (op_terms(o) for o in ops)])


def _predictor(dtypes=("fp32",), n: int = 240) -> KernelPredictor:
    specs = sample_kernels(n, seed=3, dtypes=dtypes)
    return KernelPredictor().fit(specs, _physical_ms([kernel_op(s) for s in specs]))


def test_the_breakdown_counts_matrix_ops_it_has_no_kernel_type_for(exotic):
    graph = read_graph(exotic["fp32"])
    by_name = {}
    for op in graph.ops:
        by_name.setdefault(op.name, []).append(tflite_op(graph, op))
    grouped, dilated = by_name["CONV_2D"][:2]
    assert grouped.macs == 16 * 16 * 16 * 3 * 3 * (8 // 4)  # a group sees 2 of the 8 channels
    assert dilated.macs == 16 * 16 * 16 * 3 * 3 * 16  # dilation spreads the window, not the work
    assert by_name["TRANSPOSE_CONV"][0].macs == 16 * 16 * 16 * 3 * 3 * 8  # every input pixel, every tap
    assert by_name["BATCH_MATMUL"][0].macs == 8 * 8 * (32 * 32)  # [8, 1024] x [1024, 8]
    assert by_name["BATCH_MATMUL"][0].weight_elems == 0  # two activations, no weights
    assert all(o.macs == 0 for name, ops in by_name.items() if name in ("TANH", "RESIZE_BILINEAR") for o in ops)


def test_kernel_and_graph_count_a_known_op_the_same_way(exotic):
    graph = read_graph(exotic["fp32"])
    for k in model_kernels(graph):
        if k.spec is not None and k.spec.kind in ("fc", "add", "mul", "reshape"):
            a, b = kernel_op(k.spec), tflite_op(graph, graph.ops[k.index])
            assert (a.macs, a.in_elems, a.out_elems) == (b.macs, b.in_elems, b.out_elems), k.op
            bias_and_shape = k.spec.output_shape()[-1] + 4  # a bias the converter may leave out, a shape operand
            assert a.weight_elems == pytest.approx(b.weight_elems, abs=bias_and_shape), k.op


def test_ops_without_a_predictor_are_priced_by_the_fallback_and_marked(exotic):
    model = _predictor()
    result = predict_kernels(model, exotic["fp32"])
    fallback = [r for r in result["ops"] if r["priced_as"] == "fallback"]
    assert {"TANH", "BATCH_MATMUL", "TRANSPOSE_CONV", "RESIZE_BILINEAR"} <= {r["op"] for r in fallback}
    assert result["fallback_ops"] == len(fallback) and all(r["latency_ms"] > 0 and r["why"] for r in fallback)
    graph = read_graph(exotic["fp32"])
    truth = _physical_ms([tflite_op(graph, graph.ops[r["index"]]) for r in fallback])
    priced = np.array([r["latency_ms"] for r in fallback])
    assert np.allclose(priced, truth, rtol=0.05)  # the device is exactly physical here, so is the fallback
    assert sum(r["share"] for r in result["ops"]) == pytest.approx(1.0)
    assert not result["calibrated"] and any(n.startswith("uncalibrated:") and "fit --calibrate" in n
                                            for n in result["notes"])  # and says how to calibrate
    with pytest.raises(DataError, match=r"exotic-fp32.tflite: op \w+ cannot be priced .*--strict"):
        predict_kernels(model, exotic["fp32"], strict=True)


def test_no_fallback_without_kernels_of_that_dtype(exotic):
    with pytest.raises(DataError, match="exotic-int8.tflite: op .* cannot be priced .*knows 0 int8 kernel type"):
        predict_kernels(_predictor(("fp32",)), exotic["int8"])
    result = predict_kernels(_predictor(("fp32", "int8")), exotic["int8"])
    assert result["dtype"] == "int8" and result["fallback_ops"] > 0


def test_predict_cli_marks_fallback_ops_and_widens_the_interval(exotic, tmp_path):
    model = _predictor()
    model_path = persistence.save(model, tmp_path / "k.json", {"interval": {"level": 0.9, "low": 0.95,
                                                                            "high": 1.05, "n": 200}})
    res = run_cli("predict", "--predictor", str(model_path), "--tflite", str(exotic["fp32"]), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    low, high = out["interval_ms"]
    priced = out["latency_ms"] - out["fallback_ms"]
    fb = model.fallback_["fp32"]["interval"]
    assert low == pytest.approx(0.95 * priced + fb["low"] * out["fallback_ms"])
    assert high == pytest.approx(1.05 * priced + fb["high"] * out["fallback_ms"])
    assert any("fallback" in n for n in out["notes"])
    res = run_cli("predict", "--predictor", str(model_path), "--tflite", str(exotic["fp32"]), "--top", "30")
    assert res.returncode == 0 and "fallback (MACs, bytes)" in res.stdout
    res = run_cli("predict", "--predictor", str(model_path), "--tflite", str(exotic["fp32"]), "--strict")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "--strict" in res.stderr
