"""Finding MBConv blocks in real converted .tflite networks, without TensorFlow in the parser."""

import subprocess
import sys

import pytest

from edgelat.core.blockspec import BlockSpec
from edgelat.predictors.blocks_in_tflite import predict_tflite, read_graph
from edgelat.predictors.linear import LinearPredictor

BLOCKS = [
    BlockSpec(16, 16, 16, 6, 5, 1, 1, "hswish"),  # SE, hard-swish, residual
    BlockSpec(16, 16, 24, 1, 3, 2, 0, "relu6"),  # no expansion conv, strided
    BlockSpec(8, 24, 24, 3, 3, 1, 0, "relu"),  # residual, relu
]


@pytest.fixture(scope="module", params=["fp32", "int8"])
def network(request, tmp_path_factory):
    keras = pytest.importorskip("keras")
    from edgelat.core.builders import mbconv
    from edgelat.core.convert import convert_model

    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3), batch_size=1)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="stem")(inp)
    for i, spec in enumerate(BLOCKS):
        x = mbconv(x, spec, f"b{i}_")
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(10)(x)
    path = tmp_path_factory.mktemp("net") / f"net-{request.param}.tflite"
    path.write_bytes(convert_model(keras.Model(inp, out), request.param, calibration_samples=2).data)
    return request.param, path


def test_blocks_are_recovered_exactly(network):
    dtype, path = network
    from edgelat.predictors.blocks_in_tflite import find_blocks

    blocks, notes = find_blocks(read_graph(path))
    assert [spec for spec, _ in blocks] == [b.with_dtype(dtype) for b in BLOCKS], notes


def test_whole_model_prediction_reports_uncovered_ops(network, tmp_path):
    dtype, path = network
    specs = [b.with_dtype(dtype) for b in BLOCKS] * 3
    model = LinearPredictor().fit(specs, [1.0 + i for i in range(len(specs))])
    out = predict_tflite(model, path)
    assert [b["key"] for b in out["blocks"]] == [b.with_dtype(dtype).key for b in BLOCKS]
    assert out["latency_ms"] == pytest.approx(sum(b["latency_ms"] for b in out["blocks"]))
    # exactly the ops outside the blocks: stem conv, global pooling, classifier
    assert out["uncovered_ops"] == {"CONV_2D": 1, "MEAN": 1, "FULLY_CONNECTED": 1}
    assert any("not priced" in n for n in out["notes"])


def test_parser_does_not_import_tensorflow(network):
    _, path = network
    code = ("import sys; from edgelat.predictors.blocks_in_tflite import read_graph; "
            f"g = read_graph({str(path)!r}); print(len(g.ops), 'tensorflow' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    n_ops, tf_loaded = res.stdout.split()
    assert int(n_ops) > 8 and tf_loaded == "False"


def test_junk_file_is_a_clear_error(tmp_path):
    from edgelat.errors import DataError

    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(DataError, match="junk.tflite"):
        read_graph(junk)


def test_an_int8_model_under_an_fp32_block_predictor_says_so():
    from edgelat.predictors.workflow import _check_dtypes

    result = {"blocks": [{"key": "mbconv-i8-c16-o16-e3-k3-s1-se0-relu6-int8", "latency_ms": 0.1}], "notes": ["x"]}
    _check_dtypes(result, ["fp32"])
    assert "blocks are int8, but the predictor was fitted on fp32 blocks only" in result["notes"][0]
    same = {"blocks": [{"key": "mbconv-i8-c16-o16-e3-k3-s1-se0-relu6-fp32", "latency_ms": 0.1}]}
    _check_dtypes(same, ["fp32"])
    assert "notes" not in same
