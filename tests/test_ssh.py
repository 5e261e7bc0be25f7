"""Linux boards over a real OpenSSH sshd on loopback: the transport, its refusals (key, host key),
campaigns with resume after sshd dies, deploy with int8 agreement, and the emulated ARM64 board."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sshd_daemon import Sshd, keygen, ssh_board_file

from edgelat.devices.backends.linux_board import LinuxBoardBackend
from edgelat.devices.catalog import get_device, load_device_file
from edgelat.devices.deploy import with_overrides
from edgelat.errors import CommandTimeoutError, DeviceAuthError, MissingDependencyError, OptionError, TransportError

from conftest import run_cli, wait_for

FAST = ("--runs", "5", "--warmup", "1", "--min-time-ms", "5")


def ssh(address: str, **kw):
    from edgelat.devices.ssh_transport import SshTransport

    return SshTransport(address, **kw)


def profile_args(device_file, store, ranges, cache, n, *extra):
    return ["profile", "--device-file", str(device_file), "--sample", "random", "--ranges", str(ranges),
            "--n", str(n), "--store", str(store), "--cache-dir", str(cache), *FAST, "--json", *extra]


def ok_keys(store: Path) -> list[str]:
    db = sqlite3.connect(store)
    try:
        return [k for (k,) in db.execute("SELECT block_key FROM measurements WHERE status='ok' ORDER BY id")]
    finally:
        db.close()


def test_shell_push_pull_checksum_through_a_config_alias(sshd, tmp_path):
    with ssh(Sshd.alias) as t:  # HostName, Port, User, IdentityFile and known_hosts come from the config
        assert t.endpoint.port == sshd.port and t.is_local
        res = t.shell("echo out; echo err >&2; exit 3")
        assert (res.output, res.exit_code) == ("out\nerr\n", 3)
        payload = os.urandom(200_000)
        local = tmp_path / "payload.bin"
        local.write_bytes(payload)
        remote = str(tmp_path / "remote.bin")
        t.push(local, remote, mode=0o600)
        assert t.checksum(remote) == hashlib.sha256(payload).hexdigest() and t.checksum(remote + ".x") is None
        assert oct(Path(remote).stat().st_mode & 0o777) == "0o600" and not Path(remote + ".part").exists()
        t.pull(remote, tmp_path / "back.bin")
        assert (tmp_path / "back.bin").read_bytes() == payload
    with ssh(sshd.address) as t:  # user@host:port, the rest from the config's `Host *`
        assert t.shell("echo $USER").output.strip() == sshd.user


def test_a_refused_key_is_one_line_and_never_a_prompt(sshd, tmp_path, tiny_ranges):
    sshd.write_client_config(key=keygen(tmp_path / "stranger"))
    with pytest.raises(DeviceAuthError, match=r"refused our keys .*ssh-copy-id") as exc:
        ssh(Sshd.alias).connect()
    assert "\n" not in str(exc.value)
    board = ssh_board_file(tmp_path / "b.toml", Sshd.alias, tmp_path / "work")
    res = run_cli(*profile_args(board, tmp_path / "s.sqlite", tiny_ranges, tmp_path / "c", 1))
    assert res.returncode == 2 and "refused our keys" in res.stderr and "Traceback" not in res.stderr
    assert [ln for ln in res.stderr.splitlines() if "refused" in ln][0].startswith(f"edgelat: error: {Sshd.alias} (")


def test_unknown_or_changed_host_keys_are_refused_never_accepted(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    sshd.write_client_config(known_hosts=empty)
    with pytest.raises(DeviceAuthError, match=r"is not in .*never accepts one silently.*ssh-keyscan -p") as exc:
        ssh(Sshd.alias).connect()
    assert "SHA256:" in str(exc.value) and empty.read_text() == ""  # nothing was written to known_hosts
    other = keygen(tmp_path / "other_host_key")
    empty.write_text(f"[127.0.0.1]:{sshd.port} {Path(f'{other}.pub').read_text()}")
    with pytest.raises(DeviceAuthError, match=r"does NOT match .*ssh-keygen -R"):
        ssh(Sshd.alias).connect()


def test_slow_command_dead_daemon_and_missing_extra(sshd, monkeypatch):
    with ssh(Sshd.alias) as t:
        with pytest.raises(CommandTimeoutError, match="still answers"):
            t.shell("sleep 5", timeout_s=1.0)
    sshd.kill()
    t = ssh(Sshd.alias, retries=1, backoff_s=0.05)
    with pytest.raises(TransportError, match=r"unreachable .*connection refused.*re-run the same command"):
        t.shell("true")
    assert t.gone
    monkeypatch.setitem(sys.modules, "paramiko", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'edgelat\[ssh\]'"):
        ssh("pi@board")


def test_files_already_on_the_board_are_reused_not_sent_again(sshd, tmp_path):
    """A run interrupted before its clean-up leaves its models behind; the next run keeps them."""
    board = load_device_file(ssh_board_file(tmp_path / "b.toml", Sshd.alias, tmp_path / "work"))
    model = tmp_path / "m.tflite"
    model.write_bytes(os.urandom(4096))
    first = LinuxBoardBackend(board)
    first.prepare([model])
    remote = Path(first.remote_path(model))
    sent_at = remote.stat().st_mtime_ns
    first.t.close()  # gone without cleaning up, as a killed campaign is
    time.sleep(0.05)
    with LinuxBoardBackend(board) as second:
        second.prepare([model])
        assert second.remote_path(model) == str(remote) and remote.stat().st_mtime_ns == sent_at
        model.write_bytes(os.urandom(4096))  # changed bytes are sent again
        second._pushed.clear()
        second.prepare([model])
        assert remote.read_bytes() == model.read_bytes()
    assert not remote.exists()  # the clean-up at the end


def test_ssh_and_serial_overrides_choose_the_transport():
    pi = with_overrides(get_device("raspi4"), ssh="pi@10.0.0.7:2222")
    assert (pi.transport, pi.address, pi.serial) == ("ssh", "pi@10.0.0.7:2222", None)
    back = with_overrides(get_device("raspi4-ssh"), serial="10.0.0.7:5555")
    assert (back.transport, back.serial) == ("adb", "10.0.0.7:5555")
    with pytest.raises(OptionError, match="--ssh reaches Linux boards"):
        with_overrides(get_device("pixel4"), ssh="pi@x")
    with pytest.raises(OptionError, match="not both"):
        with_overrides(get_device("raspi4"), serial="a:1", ssh="pi@x")


def test_farm_units_reached_over_ssh_are_discovered_while_sshd_answers(sshd, tmp_path):
    from edgelat.devices.discovery import discover_units

    farm = tmp_path / "farm.toml"
    farm.write_text(f'node = "n"\nhost_cpu = false\n[[unit]]\ndevice = "raspi4"\nssh = "{Sshd.alias}"\n')
    (unit,) = discover_units(farm)
    assert unit.uid == f"raspi4@n:{Sshd.alias}" and unit.device.transport == "ssh"
    sshd.kill()
    warnings: list[str] = []
    assert discover_units(farm, warn=warnings.append) == [] and "does not answer on its SSH port" in warnings[0]


@pytest.mark.slow
def test_board_campaign_over_ssh_with_resume_and_cleanup(sshd, tmp_path, tiny_ranges, cache_dir):
    """`--ssh` on a board whose file says adb: the same runner, hygiene and store, over SSH."""
    work = tmp_path / "work"
    board = tmp_path / "board.toml"
    board.write_text('name = "pi"\nkind = "edge-cpu"\ntransport = "adb"\nruntime = "litert"\ncpu_mask = "0x1"\n'
                     f'workdir = "{work}"\npython = "{sys.executable}"\n')
    store = tmp_path / "s.sqlite"
    res = run_cli(*profile_args(board, store, tiny_ranges, cache_dir, 3), "--ssh", Sshd.alias)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["measured"] == 3 and len(set(ok_keys(store))) == 3
    db = sqlite3.connect(store)
    info = json.loads(db.execute("SELECT info FROM measurements WHERE status='ok' LIMIT 1").fetchone()[0])
    db.close()
    assert info["device_identity"]["uname"].startswith("Linux") and info["affinity"] == [0]
    assert not (work / "models").exists() and not (work / "litert_timer.py").exists()  # cleaned up
    again = run_cli(*profile_args(board, store, tiny_ranges, cache_dir, 3), "--ssh", Sshd.alias)
    assert (json.loads(again.stdout)["already_done"], json.loads(again.stdout)["measured"]) == (3, 0)


@pytest.mark.slow
def test_sshd_killed_mid_campaign_then_resumed(sshd, tmp_path, tiny_ranges, cache_dir):
    board = ssh_board_file(tmp_path / "b.toml", Sshd.alias, tmp_path / "work")
    store = tmp_path / "k.sqlite"
    cmd = [sys.executable, "-m", "edgelat.cli", *profile_args(board, store, tiny_ranges, cache_dir, 5)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: store.exists() and len(ok_keys(store)) >= 2, proc, timeout=180)
    sshd.kill()  # and not back: a clear stop after bounded reconnects
    _, errtext = proc.communicate(timeout=180)
    assert proc.returncode == 2 and "unreachable" in errtext and "re-run the same command to resume" in errtext
    done_before = set(ok_keys(store))
    sshd.start()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["already_done"] == len(done_before) and summary["measured"] == 5 - len(done_before)
    keys = ok_keys(store)
    assert len(keys) == 5 and len(set(keys)) == 5  # nothing lost, nothing measured twice


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """One small block as fp32 and int8 .tflite (real conversions, in a subprocess)."""
    root = tmp_path_factory.mktemp("ssh-models")
    block = "mbconv-i8-c8-o8-e3-k3-s1-se0-relu6"
    paths = {dt: root / f"{block}-{dt}.tflite" for dt in ("fp32", "int8")}
    code = ("import sys; from edgelat.core.blockspec import BlockSpec; from edgelat.core.convert import "
            "convert_block\nfor key, out in zip(sys.argv[1::2], sys.argv[2::2]):\n"
            "    open(out, 'wb').write(convert_block(BlockSpec.from_key(key)).data)")
    subprocess.run([sys.executable, "-c", code, *[a for dt, p in paths.items() for a in (f"{block}-{dt}", str(p))]],
                   check=True, timeout=300)
    return paths


@pytest.mark.slow
def test_deploy_over_ssh_with_int8_agreement(sshd, models, tmp_path):
    (models["int8"].parent / "arch.json").write_text(json.dumps({"predicted_ms": 0.05, "device": "ssh-board"}))
    board = ssh_board_file(tmp_path / "b.toml", sshd.address, tmp_path / "work")
    res = run_cli("deploy", str(models["int8"]), "--device-file", str(board), "--compare-fp32", str(models["fp32"]),
                  "--samples", "4", *FAST, "--json")
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["runtime"] == "ai_edge_litert" and r["measured_ms"] > 0 and r["backend"]["target"] == sshd.address
    assert r["predicted_ms"] == 0.05 and r["fp32_agreement"]["samples"] == 4
    assert not (tmp_path / "work" / "models").exists()


@pytest.mark.slow
def test_thermal_hygiene_over_ssh_flags_a_board_that_stays_hot(sshd, models, tmp_path):
    zone = tmp_path / "thermal" / "thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "type").write_text("cpu-thermal\n")
    (zone / "temp").write_text("91000\n")
    board = load_device_file(ssh_board_file(tmp_path / "hot.toml", Sshd.alias, tmp_path / "w",
                                            thermal_path=str(tmp_path / "thermal"), thermal_limit_c=80.0,
                                            cooldown_s=1.0))
    with LinuxBoardBackend(board) as b:
        m = b.measure(models["fp32"], warmup=1, runs=3)  # stays hot: waits, measures, repeats once, then flags
    assert m.ok and m.info["throttled"] is True and m.info["attempts"] == 2
    assert "91.0 C > thermal_limit_c 80" in m.info["throttled_reason"]
    assert m.info["before"]["temps_c"] == {"cpu-thermal": 91.0}


@pytest.mark.slow
def test_campaign_on_emulated_arm64_board_over_ssh(sshd, arm64_python, tmp_path, tiny_ranges, cache_dir):
    board = ssh_board_file(tmp_path / "arm64.toml", Sshd.alias, tmp_path / "work", python=arm64_python)
    with LinuxBoardBackend(load_device_file(board)) as b:
        assert b.hello["machine"] == "aarch64" and b.runtime == "ai_edge_litert"
    store = tmp_path / "arm.sqlite"
    res = run_cli(*profile_args(board, store, tiny_ranges, cache_dir, 2))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["measured"] == 2 and len(set(ok_keys(store))) == 2
