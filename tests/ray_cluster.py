"""A real Ray cluster on loopback for the farm tests: a head and extra node processes on this machine.

Nodes use 127.0.0.2 (Ray rewrites 127.0.0.1 to the machine's outward address), one CPU each, a
small object store and no dashboard. Each node runs `ray start --block` in its own session; stopping
or killing a node SIGKILLs its whole process tree (Ray's workers start sessions of their own, so
they are found through their parents), so nothing outlives a test, even a failed one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loopback import free_port, kill_tree

RAY = Path(sys.executable).parent / "ray"
NODE_IP = "127.0.0.2"
# Once any local ray.init() has left ~/.ray/auth_token, Ray 2.60 starts these nodes with token
# authentication and the drivers here cannot join them. A loopback test cluster needs none; the
# setting reaches the nodes, the waiting driver, this process's drivers and the CLI subprocesses.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


class RayNode:
    """One `ray start --block` process (head when `head_address` is None)."""

    def __init__(self, name: str, farm_file: Path, env: dict[str, str], head_address: str | None = None,
                 num_cpus: int = 1) -> None:
        self.name, self.farm_file, self.head_address, self.num_cpus = name, farm_file, head_address, num_cpus
        self.env = env
        self.temp_dir = Path(tempfile.mkdtemp(prefix="elray", dir="/tmp"))  # short: Ray's socket paths
        self.port = free_port() if head_address is None else None
        self.client_port = free_port() if head_address is None else None  # Ray client: ray://NODE_IP:client_port
        self.proc: subprocess.Popen | None = None
        self.log = self.temp_dir / f"{name}.log"

    @property
    def address(self) -> str:
        return self.head_address or f"{NODE_IP}:{self.port}"

    def start(self, resources_json: str) -> None:
        argv = [str(RAY), "start", "--block", "--node-ip-address", NODE_IP, f"--num-cpus={self.num_cpus}",
                "--object-store-memory=100000000", "--disable-usage-stats", "--resources", resources_json,
                f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}",
                f"--runtime-env-agent-port={free_port()}", f"--node-manager-port={free_port()}",
                f"--object-manager-port={free_port()}"]
        if self.head_address is None:
            argv += ["--head", f"--port={self.port}", "--include-dashboard=false", "--temp-dir", str(self.temp_dir),
                     f"--ray-client-server-port={self.client_port}"]
        else:
            argv += ["--address", self.head_address]
        env = {**os.environ, **self.env, "EDGELAT_FARM": str(self.farm_file), "RAY_USAGE_STATS_ENABLED": "0"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def kill(self) -> None:
        """SIGKILL the node and every process below it."""
        if self.proc is None:
            return
        kill_tree(self.proc)
        self.proc = None
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""


def wait_for_nodes(address: str, count: int, nodes: list[RayNode], timeout: float = 120) -> None:
    """Until `count` nodes are alive (asked by a throwaway driver process, so this one never imports Ray)."""
    code = ("import ray, sys, time; ray.init(address=sys.argv[1], log_to_driver=False, logging_level='ERROR')\n"
            "end = time.monotonic() + float(sys.argv[3])\n"
            "while sum(n['Alive'] for n in ray.nodes()) < int(sys.argv[2]) and time.monotonic() < end:\n"
            "    time.sleep(0.2)\n"
            "print(sum(n['Alive'] for n in ray.nodes()))")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in nodes:
            if node.proc is not None and node.proc.poll() is not None:
                raise RuntimeError(f"ray node {node.name} exited: {node.log_tail()}")
        res = subprocess.run([sys.executable, "-c", code, address, str(count), str(timeout)], capture_output=True,
                             text=True, timeout=timeout + 60, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
        if res.returncode == 0 and res.stdout.strip().splitlines()[-1] == str(count):
            return
        time.sleep(0.5)
    raise RuntimeError(f"{count} ray node(s) not up in {timeout:.0f} s: {nodes[-1].log_tail()}")
