"""One store in hard times: two campaigns writing it at once, and a disk that fills up mid-campaign."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgelat.profiler.store import Store
from edgelat.profiler.store_schema import SCHEMA_VERSION

from conftest import query, run_cli, start_cli, wait_for


def profile_args(store, ranges, cache, device_args, n=8):
    return ["profile", "--sample", "random", "--ranges", str(ranges), "--n", str(n), "--dtype", "fp32",
            "--store", str(store), "--cache-dir", str(cache), "--runs", "20", "--warmup", "2", "--json",
            *device_args]


def host_twin(path: Path, name: str) -> Path:
    """A device file for this machine's CPU under another name: a second device writing the same store."""
    path.write_text(f'name = "{name}"\nkind = "host"\ntransport = "local"\nruntime = "litert"\n'
                    f'delegate = "xnnpack"\nthreads = 1\ncpu_mask = "0x2"\n')
    return path


def counts(store: Path) -> dict[str, tuple[int, int]]:
    """Per device: (ok rows, distinct blocks among them)."""
    rows = query(store, "SELECT device, COUNT(*), COUNT(DISTINCT block_key) FROM measurements "
                        "WHERE status='ok' GROUP BY device")
    return {d: (n, k) for d, n, k in rows}


@pytest.mark.slow
def test_two_campaigns_write_one_store_at_once(tmp_path, tiny_ranges, cache_dir):
    """Two `profile` processes (this CPU as two devices) share a store created by neither: both finish,
    every block is in it once per device, and the file passes SQLite's integrity check."""
    store = tmp_path / "shared.sqlite"
    twin = host_twin(tmp_path / "twin.toml", "host-twin")
    procs = [start_cli(profile_args(store, tiny_ranges, cache_dir, args))
             for args in (["--device", "host"], ["--device-file", str(twin)])]
    outs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
        summary = json.loads(out)
        assert summary["measured"] == 8 and summary["failed"] == 0
    assert counts(store) == {"host": (8, 8), "host-twin": (8, 8)}
    with Store(store) as s:
        assert s.integrity_ok()


@pytest.fixture()
def small_disk(tmp_path):
    """A 3 MiB tmpfs, mounted for the test (root only; elsewhere the test skips with the reason)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Fill `disk` to the last byte with one file; returns it (delete it to free the space)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def one_line_error(err: str, path: Path) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("edgelat: error: ") and str(path) in lines[-1], err
    assert "Traceback" not in err, err
    return lines[-1]


@pytest.mark.slow
def test_a_full_disk_stops_the_campaign_and_it_resumes_after_space_is_freed(small_disk, tiny_ranges, cache_dir):
    store = small_disk / "store.sqlite"
    args = profile_args(store, tiny_ranges, cache_dir, ["--device", "host"], n=40)
    proc = start_cli(args)
    wait_for(lambda: len(query(store, "SELECT id FROM measurements WHERE status='ok'")) >= 3, proc)
    filler = fill(small_disk)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 2, err
    assert "is full" in one_line_error(err, store)
    kept = query(store, "SELECT block_key FROM measurements WHERE status='ok'")
    with Store(store) as s:
        assert s.integrity_ok()
    filler.unlink()
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["already_done"] == len(kept)
    assert counts(store) == {"host": (40, 40)}  # nothing lost, nothing measured twice


@pytest.mark.slow
def test_a_full_cache_disk_and_a_full_output_disk_are_one_line_errors(small_disk, tmp_path, tiny_ranges):
    cache = small_disk / "cache"
    cache.mkdir()
    fill(small_disk)
    store = tmp_path / "store.sqlite"
    res = run_cli(*profile_args(store, tiny_ranges, cache, ["--device", "host"], n=3))
    assert res.returncode == 2
    assert "disk is full, so the conversion cache was not written" in one_line_error(res.stderr, cache)
    assert not list(cache.rglob("*.tmp"))  # no half-written file left behind

    with Store(store) as s:  # a store with rows to export, onto the full disk
        assert s.integrity_ok()
    res = run_cli(*profile_args(store, tiny_ranges, tmp_path / "cache", ["--device", "host"], n=3))
    assert res.returncode == 0, res.stderr
    target = small_disk / "blocks.csv"
    res = run_cli("export", str(store), "-o", str(target))
    assert res.returncode == 2
    assert "full" in one_line_error(res.stderr, target)


def test_schema_creation_races_are_waited_out(tmp_path):
    """Many processes opening a new store at the same moment all get a usable store (no 'locked', no
    duplicate schema row)."""
    path = tmp_path / "race.sqlite"
    code = f"from edgelat.profiler.store import Store\nwith Store({str(path)!r}) as s: print(s.integrity_ok())"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(6)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.strip() == "True", err
    assert query(path, "SELECT value FROM meta WHERE key='schema_version'") == [(str(SCHEMA_VERSION),)]
