"""Real TensorFlow conversion of blocks to TFLite fp32 and full-integer int8."""

import numpy as np
import pytest

from edgelat.core.blockspec import BlockSpec
from edgelat.profiler.cache import TFLiteCache, tensorflow_version
from edgelat.profiler.conversion_pool import ConversionPool

tf = pytest.importorskip("tensorflow")
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

from edgelat.core.builders import build_block_model  # noqa: E402
from edgelat.core.convert import convert_block, convert_model  # noqa: E402

pytestmark = pytest.mark.slow  # converts with TensorFlow


def interp(data: bytes) -> Interpreter:
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    return it


def op_names(it: Interpreter) -> set[str]:
    return {op["op_name"] for op in it._get_ops_details()}


def test_builder_names_every_layer_deterministically():
    spec = BlockSpec(16, 16, 16, 6, 5, 1, 1, "hswish")
    names = [layer.name for layer in build_block_model(spec, prefix="b7_").layers]
    assert names == [
        "b7_input", "b7_expand_conv", "b7_expand_bn", "b7_expand_act", "b7_dw_conv", "b7_dw_bn", "b7_dw_act",
        "b7_se_squeeze", "b7_se_reduce", "b7_se_reduce_act", "b7_se_expand", "b7_se_gate", "b7_se_excite",
        "b7_project_conv", "b7_project_bn", "b7_add",
    ]
    assert names == [layer.name for layer in build_block_model(spec, prefix="b7_").layers]
    no_expand = [layer.name for layer in build_block_model(BlockSpec(16, 16, 24, 1, 3, 2)).layers]
    assert "b0_expand_conv" not in no_expand and "b0_add" not in no_expand


def test_fp32_conversion_shapes_ops_and_names():
    spec = BlockSpec(16, 16, 16, 6, 5, 1, 1, "hswish", "fp32")
    out = convert_block(spec)
    assert out.convert_s > 0 and out.total_s >= out.convert_s
    it = interp(out.data)
    (inp,), (outp,) = it.get_input_details(), it.get_output_details()
    assert list(inp["shape"]) == [1, 16, 16, 16] and inp["dtype"] == np.float32
    assert list(outp["shape"]) == [1, 16, 16, 16]
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "HARD_SWISH", "ADD", "MUL", "MEAN"} <= op_names(it)
    tensor_names = " ".join(t["name"] for t in it.get_tensor_details())
    for part in ("b0_expand_conv", "b0_dw_conv", "b0_project_conv", "b0_se_reduce"):
        assert part in tensor_names  # ops map back to their block and layer


def test_int8_conversion_is_full_integer():
    spec = BlockSpec(16, 8, 16, 3, 3, 2, 0, "relu6", "int8")
    it = interp(convert_block(spec, calibration_samples=4).data)
    assert it.get_input_details()[0]["dtype"] == np.int8
    assert it.get_output_details()[0]["dtype"] == np.int8
    assert list(it.get_output_details()[0]["shape"]) == [1, 8, 8, 16]
    float_tensors = [t["name"] for t in it.get_tensor_details() if t["dtype"] == np.float32]
    assert float_tensors == []  # no float op left anywhere


def test_conversion_is_deterministic_and_matches_the_keras_path():
    spec = BlockSpec(8, 8, 8, 3, 3, 1, 0, "relu6", "fp32")
    a, b = convert_block(spec).data, convert_block(spec).data
    assert a == b
    model = build_block_model(spec)
    frozen = interp(convert_model(model).data)
    keras_path = interp(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    x = np.random.default_rng(0).standard_normal((1, 8, 8, 8)).astype(np.float32)
    outs = []
    for it in (frozen, keras_path):
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    ops = [[op["op_name"] for op in it._get_ops_details()] for it in (frozen, keras_path)]
    assert ops[0] == ops[1]
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs[0], model(x, training=False).numpy(), rtol=1e-4, atol=1e-4)


def test_cache_key_and_pool_reuse(tmp_path):
    cache = TFLiteCache(tmp_path, calibration_samples=3)
    fp, q = BlockSpec(8, 8, 8, 1, 3, 1), BlockSpec(8, 8, 8, 1, 3, 1, dtype="int8")
    assert cache.path(fp).parent.name == f"tf-{tensorflow_version()}"
    assert cache.path(fp).name == fp.key + ".tflite" and cache.path(q).name == q.key + "-cal3.tflite"
    with ConversionPool(cache, workers=1) as pool:
        first = pool.submit(q).result()
        second = pool.submit(q).result()
    assert first.error is None and not first.cached and first.path.stat().st_size > 0
    assert second.cached and second.path == first.path
    assert interp(first.path.read_bytes()).get_input_details()[0]["dtype"] == np.int8
