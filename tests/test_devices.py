"""The device catalog: built-in files, user files, and errors that name the file and field."""

import json

import pytest

from edgelat.devices.catalog import get_device, list_devices, load_device_file
from edgelat.errors import DeviceFileError

from conftest import run_cli

REQUIRED = {"host", "pixel1", "pixel3", "pixel3-gpu", "pixel3-dsp", "pixel4", "pixel4-gpu", "pixel4-dsp",
            "pixel6", "raspi4", "stm32f746"}


def test_builtin_catalog_has_the_promised_devices():
    devs = {d.name: d for d in list_devices()}
    assert REQUIRED <= set(devs)
    assert devs["pixel1"].cpus == [3] and devs["pixel1"].threads == 1 and devs["pixel1"].transport == "adb"
    assert devs["pixel4-dsp"].delegate == "hexagon" and devs["pixel4-dsp"].kind == "dsp"
    assert devs["pixel3-gpu"].delegate == "gpu"
    mcu = devs["stm32f746"]
    assert (mcu.transport, mcu.clock_mhz, mcu.memory["sram"], mcu.memory["flash"]) == ("sim", 216, 320 * 1024, 1024**2)
    assert devs["host"].transport == "local"


def write(tmp_path, text, name="dev.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = 'name = "myboard"\nkind = "edge-cpu"\ntransport = "adb"\nruntime = "litert"\nthreads = 2\n'


def test_user_device_file_loads(tmp_path):
    dev = get_device(device_file=write(tmp_path, GOOD + 'cpu_mask = "0xc"\n[memory]\nram = "2GB"\n'))
    assert dev.name == "myboard" and dev.cpus == [2, 3] and dev.memory["ram"] == 2 * 1024**3


@pytest.mark.parametrize(
    "text, field",
    [
        (GOOD.replace('kind = "edge-cpu"\n', ""), "kind"),
        (GOOD.replace('"edge-cpu"', '"toaster"'), "kind"),
        (GOOD.replace("threads = 2", 'threads = "two"'), "threads"),
        (GOOD.replace("threads = 2", "threads = 0"), "threads"),
        (GOOD + "thread = 1\n", "thread"),
        (GOOD + 'cpu_mask = "zz"\n', "cpu_mask"),
        (GOOD + '[memory]\nsram = "lots"\n', "memory.sram"),
        (GOOD.replace('"edge-cpu"', '"mcu"').replace('"adb"', '"sim"'), "memory.sram"),
    ],
)
def test_malformed_device_file_names_file_and_field(tmp_path, text, field):
    path = write(tmp_path, text)
    with pytest.raises(DeviceFileError) as info:
        load_device_file(path)
    assert str(path) in str(info.value) and f"'{field}'" in str(info.value)


def test_unknown_device_lists_known_ones():
    with pytest.raises(DeviceFileError, match="unknown device 'pixel99'.*pixel1"):
        get_device("pixel99")


def test_devices_cli_json_and_table(tmp_path):
    res = run_cli("devices", "--json", "--device-file", str(write(tmp_path, GOOD)))
    assert res.returncode == 0, res.stderr
    names = {d["name"] for d in json.loads(res.stdout)}
    assert REQUIRED | {"myboard"} <= names
    table = run_cli("devices")
    assert table.returncode == 0 and "stm32f746" in table.stdout and "320KB" in table.stdout


def test_devices_cli_bad_file_is_one_line_exit_2(tmp_path):
    path = write(tmp_path, "name = [unclosed\n")
    res = run_cli("devices", "--device-file", str(path))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "TOML" in lines[0] and "Traceback" not in res.stderr
