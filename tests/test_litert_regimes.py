"""More kinds of hardware from one CPU: LiteRT at another batch size, and without XNNPACK."""

from pathlib import Path

import pytest

from edgelat.devices.backends import open_backend
from edgelat.devices.catalog import load_device_file
from edgelat.errors import DeviceFileError

HOST = 'name = "{name}"\nkind = "host"\ntransport = "local"\nruntime = "{runtime}"\ndelegate = "{delegate}"\n' \
       'threads = 1\nbatch = {batch}\ncpu_mask = "0x1"\n'


def device(tmp_path: Path, name="regime", runtime="litert", delegate="xnnpack", batch=1):
    path = tmp_path / f"{name}.toml"
    path.write_text(HOST.format(name=name, runtime=runtime, delegate=delegate, batch=batch))
    return load_device_file(path)


def test_batch_and_builtin_are_checked_in_the_device_file(tmp_path):
    assert device(tmp_path, batch=16).batch == 16 and device(tmp_path, delegate="builtin").litert_delegate == "none"
    assert device(tmp_path).litert_delegate == "xnnpack"
    with pytest.raises(DeviceFileError, match="'batch': must be within 1..4096, got 0"):
        device(tmp_path, batch=0)
    with pytest.raises(DeviceFileError, match="'batch'.*runtime 'litert'"):
        device(tmp_path, runtime="benchmark_model", delegate="none", batch=4)
    with pytest.raises(DeviceFileError, match="'builtin'.*runtime 'litert'"):
        device(tmp_path, runtime="benchmark_model", delegate="builtin")


@pytest.mark.slow
def test_the_runner_times_the_batch_and_the_kernels_asked_for(tmp_path, cache_dir):
    from edgelat.core.blockspec import BlockSpec
    from edgelat.profiler.cache import TFLiteCache
    from edgelat.profiler.conversion_pool import ConversionPool

    spec = BlockSpec.from_key("mbconv-i16-c16-o16-e3-k3-s1-se0-relu6-fp32")
    with ConversionPool(TFLiteCache(cache_dir), workers=1) as pool:
        model = pool.submit(spec).result().path
    seen = {}
    for name, delegate, batch in (("b1", "xnnpack", 1), ("b8", "builtin", 8)):
        with open_backend(device(tmp_path, name, delegate=delegate, batch=batch)) as backend:
            m = backend.measure(model, 2, 5)
        assert m.ok, m.error
        seen[name] = (m.info["input_shape"], m.info["delegate"])
    assert seen == {"b1": ([1, 16, 16, 16], "xnnpack"), "b8": ([8, 16, 16, 16], "none")}
