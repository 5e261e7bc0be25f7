"""Context timing: the bytes a network streams per inference, counted from the space, equal those
of its real converted file; blocks of a space are timed in that context by default on the host,
recorded as such, and each method resumes apart."""

from __future__ import annotations

import json
import sqlite3
from math import prod

import pytest

from edgelat.core.footprint import streamed_bytes, typical_streamed_bytes
from edgelat.core.spaces import get_space
from edgelat.core.tflite_ops import model_kernels

from conftest import run_cli

pytestmark = pytest.mark.slow  # converts networks and times them


@pytest.mark.parametrize("dtype", ["fp32", "int8"])
def test_streamed_bytes_of_a_space_match_the_converted_networks_ops(dtype):
    pytest.importorskip("tensorflow")
    from edgelat.core.builders import build_network
    from edgelat.core.convert import convert_model
    from edgelat.core.sizes import DTYPE_BYTES
    from edgelat.predictors.kernel_context import kernel_bytes

    # 64 px: at 32 the last maps are 1x1, where the converter adds RESHAPEs around the residual ADDs
    space = get_space("single-path", 64, width=0.35, num_classes=10)
    archs = space.random(2, seed=4)
    for arch in archs:
        data = convert_model(build_network(space, arch, batch_size=1), dtype, calibration_samples=2).data
        specs = [k.spec for k in model_kernels(data)]
        assert all(specs)
        counted = sum(kernel_bytes(s)[0] + prod(s.output_shape()) * DTYPE_BYTES[s.dtype] for s in specs)
        assert streamed_bytes(space, arch, dtype)[0] == pytest.approx(counted, rel=1e-9)
    assert typical_streamed_bytes(space, "fp32") == pytest.approx(4 * typical_streamed_bytes(space, "int8"), rel=1e-6)


def test_a_spaces_blocks_are_timed_in_context_by_default_and_each_method_resumes_apart(tmp_path, cache_dir):
    store = tmp_path / "ctx.sqlite"
    args = ["profile", "--device", "host", "--space", "single-path", "--resolution", "32", "--width", "0.35",
            "--limit", "2", "--store", str(store), "--cache-dir", str(cache_dir), "--runs", "5", "--warmup", "1",
            "--min-time-ms", "0", "--json"]
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    sweep = typical_streamed_bytes(get_space("single-path", 32, width=0.35), "fp32")
    assert json.loads(res.stdout)["timing"] == f"context (fp32 {sweep / 2**20:.1f} MiB)"
    res = run_cli(*args, "--timing", "cold")
    assert json.loads(res.stdout)["measured"] == 2  # not done: those were timed in context
    assert json.loads(run_cli(*args, "--timing", "context").stdout)["already_done"] == 2
    timings = sorted(t for (t,) in sqlite3.connect(store).execute("SELECT timing FROM measurements"))
    assert timings[:2] == ["cold-" + timings[0].split("-")[1]] * 2 and timings[2:] == [f"context-{sweep}"] * 2
    res = run_cli("profile", "--device", "host", "--sample", "random", "--n", "2", "--timing", "context",
                  "--store", str(store))
    assert res.returncode == 2 and "--timing context: needs the blocks of a space" in res.stderr.strip()

