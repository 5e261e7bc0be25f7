"""Board path overhead, over ADB and SSH: loopback "boards" against the host runner, and 100-block campaigns.

1. Bias: a few blocks measured by the host runner directly and by the same timing core pushed over
   the real adbd (tests/adbd) and the real sshd (tests/sshd) as Linux boards, alternating, several
   rounds; per-block median ratio against the host.
2. Wall time of a 100-block campaign over each transport (conversion cached first, so the figure is
   the board path: pushes, one runner process per block, hygiene snapshots, store writes).

Needs the test adbd (`bash tests/adbd/build.sh`) and, for SSH, sshd (`bash tests/sshd/install.sh`).
Usage: python benchmarks/adb_overhead.py [--rounds 3] [--transports adb,ssh]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from adbd_daemon import BUILD, Adbd, board_device_file  # noqa: E402
from sshd_daemon import INSTALL, Sshd, keygen, ssh_board_file  # noqa: E402

from edgelat.core.blockspec import BlockSpec  # noqa: E402
from edgelat.devices.adb_transport import load_signer  # noqa: E402
from edgelat.devices.backends.host import HostBackend  # noqa: E402
from edgelat.devices.backends.linux_board import LinuxBoardBackend  # noqa: E402
from edgelat.devices.catalog import Device, get_device, load_device_file  # noqa: E402
from edgelat.devices.policy import BLOCK_POLICY  # noqa: E402
from edgelat.profiler.cache import TFLiteCache  # noqa: E402
from edgelat.profiler.campaign import run_campaign  # noqa: E402
from edgelat.profiler.conversion_pool import ConversionPool  # noqa: E402
from edgelat.profiler.sampling import BlockRanges, random_blocks  # noqa: E402
from edgelat.profiler.store import Store  # noqa: E402

BIAS_BLOCKS = [
    "mbconv-i28-c24-o24-e3-k3-s1-se0-relu6-fp32",
    "mbconv-i28-c24-o40-e6-k5-s2-se0-relu6-fp32",
    "mbconv-i14-c40-o80-e6-k3-s1-se0-hswish-fp32",
    "mbconv-i14-c80-o80-e3-k5-s1-se1-hswish-fp32",
    "mbconv-i7-c112-o160-e6-k3-s1-se0-relu6-fp32",
    "mbconv-i56-c16-o24-e3-k3-s2-se0-relu6-fp32",
]
CAMPAIGN_RANGES = {"input_hw": [8, 16], "cin": [8, 16, 24], "cout": [8, 16, 24], "expand": [1, 3, 6],
                   "kernel": [3, 5], "stride": [1, 2], "se": [0, 1], "act": ["relu6", "hswish"]}


def convert_all(specs: list[BlockSpec], cache: TFLiteCache) -> dict[str, Path]:
    with ConversionPool(cache, 2) as pool:
        results = [f.result() for f in [pool.submit(s) for s in specs]]
    bad = [r for r in results if r.path is None]
    if bad:
        raise SystemExit(f"conversion failed: {bad[0].spec.key}: {bad[0].error}")
    return {r.spec.key: r.path for r in results}


def start_boards(tmp: Path, transports: list[str]) -> tuple[dict[str, Path], list]:
    """A loopback daemon per transport, and a board device file for each."""
    files: dict[str, Path] = {}
    daemons: list = []
    if "adb" in transports:
        res = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(f"cannot build the test adbd: {res.stderr.strip()[-300:]}")
        key = tmp / "adbkey"
        load_signer(key)
        (tmp / "adb_keys").write_text(Path(f"{key}.pub").read_text())
        os.environ["EDGELAT_ADB_KEY"] = str(key)
        (tmp / "adb-root").mkdir()
        daemons.append(Adbd(Path(res.stdout.strip().splitlines()[-1]), tmp / "adb-root", tmp / "adb_keys", key))
        daemons[-1].start()
        files["adb"] = board_device_file(tmp / "adb-board.toml", daemons[-1], tmp / "adb-work")
    if "ssh" in transports:
        if subprocess.run(["bash", str(INSTALL)]).returncode != 0:
            raise SystemExit("no sshd here (tests/sshd/install.sh)")
        (tmp / "ssh-root").mkdir()
        daemons.append(Sshd(tmp / "ssh-root", keygen(tmp / "id_ed25519")))
        daemons[-1].start()
        os.environ["EDGELAT_SSH_CONFIG"] = str(daemons[-1].client_config)
        os.environ.pop("SSH_AUTH_SOCK", None)
        files["ssh"] = ssh_board_file(tmp / "ssh-board.toml", Sshd.alias, tmp / "ssh-work")
    return files, daemons


def bias(boards: dict[str, Device], rounds: int, cache: TFLiteCache) -> None:
    """Part 1: the same blocks on the host runner and on each board, alternating."""
    paths = convert_all([BlockSpec.from_key(k) for k in BIAS_BLOCKS], cache)
    names = ["host", *boards]
    print(f"1) bias: {len(BIAS_BLOCKS)} blocks, {rounds} rounds, host runner vs loopback boards over "
          f"{', '.join(boards)} (same litert_timer core, CPU 0, 1 thread, 50 runs, min 200 ms)")
    ms: dict[str, dict[str, list[float]]] = {n: {k: [] for k in BIAS_BLOCKS} for n in names}
    backends = {"host": HostBackend(get_device("host"))} | {n: LinuxBoardBackend(d) for n, d in boards.items()}
    try:
        for _ in range(rounds):
            for k in BIAS_BLOCKS:
                for name, backend in backends.items():
                    m = backend.measure(paths[k], 10, 50, 200.0)
                    if not m.ok:
                        raise SystemExit(f"{name} {k}: {m.error}")
                    ms[name][k].append(m.latency_ms)
    finally:
        for backend in backends.values():
            backend.close()
    print(f"{'block':<46} {'host ms':>9}" + "".join(f" {n + '/host':>9}" for n in boards)
          + "   (medians over rounds; fastest round in brackets)")
    ratios: dict[str, dict[str, list[float]]] = {n: {"median": [], "min": []} for n in boards}
    for k in BIAS_BLOCKS:
        h, h_min = statistics.median(ms["host"][k]), min(ms["host"][k])
        for n in boards:
            ratios[n]["median"].append(statistics.median(ms[n][k]) / h)
            ratios[n]["min"].append(min(ms[n][k]) / h_min)
        print(f"{k:<46} {h:>9.4f}" + "".join(f" {ratios[n]['median'][-1] - 1:>+9.2%}" for n in boards)
              + "   [" + " ".join(f"{ratios[n]['min'][-1] - 1:+.2%}" for n in boards) + "]")
    for n, r in ratios.items():
        med, fast = r["median"], r["min"]
        print(f"{n}: mean bias {statistics.mean(med) - 1:+.2%} (fastest rounds {statistics.mean(fast) - 1:+.2%}), "
              f"largest |bias| {max(abs(x - 1) for x in med):.2%} ({max(abs(x - 1) for x in fast):.2%})")
    if {"adb", "ssh"} <= set(boards):
        pair = [s / a for s, a in zip(ratios["ssh"]["min"], ratios["adb"]["min"], strict=True)]
        print(f"ssh against adb, fastest rounds: mean {statistics.mean(pair) - 1:+.2%}, largest "
              f"{max(abs(x - 1) for x in pair):.2%}")


def campaign(name: str, board: Device, n_blocks: int, cache: TFLiteCache, tmp: Path) -> None:
    """Part 2: a campaign of cached blocks over one transport; wall time against timed work."""
    specs = random_blocks(BlockRanges(CAMPAIGN_RANGES), n_blocks, seed=0)
    convert_all(specs, cache)
    with LinuxBoardBackend(board) as bb, Store(tmp / f"{name}.sqlite") as store, ConversionPool(cache, 2) as pool:
        r = run_campaign(board, specs, store, bb, pool, policy=BLOCK_POLICY)  # 10 warm-up, >= 50 runs, >= 200 ms
        timed = sum(row["mean_ms"] * row["runs"] for row in store.rows(device=board.name)) / 1e3
    print(f"2) {r.requested}-block campaign over {name.upper()} (10 warm-up, >= 50 runs and >= 200 ms per block; "
          f"conversions cached): wall {r.wall_s:.1f} s, {r.measured} measured, {len(r.failures)} failed; timed "
          f"work {timed:.1f} s, so transport + runner start-up + hygiene {(r.wall_s - timed) / r.requested:.2f} "
          f"s per block")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="bias rounds (0: skip part 1)")
    ap.add_argument("--campaign-blocks", type=int, default=100, help="0: skip part 2")
    ap.add_argument("--transports", default="adb,ssh", help="comma-separated: adb, ssh")
    args = ap.parse_args()
    transports = args.transports.split(",")
    cache = TFLiteCache()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files, daemons = start_boards(tmp, transports)
        try:
            boards = {n: load_device_file(f) for n, f in files.items()}
            if args.rounds:
                bias(boards, args.rounds, cache)
            for name, board in boards.items() if args.campaign_blocks else ():
                campaign(name, board, args.campaign_blocks, cache, tmp)
        finally:
            for daemon in daemons:
                daemon.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
