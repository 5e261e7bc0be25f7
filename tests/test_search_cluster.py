"""Short trainings on a real local Ray cluster (`search --cluster`): a batch spreads over two
workers at once, a killed worker costs only its own trial (Ray retries it), and the CLI runs the
final stand-alone trainings there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from ray_cluster import RayNode, wait_for_nodes

from edgelat.core.spaces import get_space
from edgelat.search.data import load_dataset

from conftest import run_cli

pytest.importorskip("ray", reason="the cluster tests need Ray: pip install 'edgelat[farm]'")

DATA = Path(__file__).resolve().parent.parent / "data"
SPACE_ARGS = ("single-path", 32, 0.35, 10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head and a second node, one CPU each; both killed at the end, whatever happens."""
    tmp = tmp_path_factory.mktemp("ray")
    nodes: list[RayNode] = []
    try:
        for name in ("head", "node2"):
            node = RayNode(name, tmp / "no-farm.toml", {}, head_address=nodes[0].address if nodes else None)
            node.start("{}")
            nodes.append(node)
            wait_for_nodes(nodes[0].address, len(nodes), nodes)
        yield nodes
    finally:
        for node in reversed(nodes):
            node.kill()


@pytest.fixture(scope="module")
def trainer(cluster):
    from edgelat.search.remote_trainer import RayTrainer

    data = load_dataset(None, 32, seed=0, train_images=300)
    t = RayTrainer(cluster[0].address, SPACE_ARGS, data, epochs=1, seed=0)
    yield t
    t.ray.shutdown()


def archs(n: int, seed: int) -> list[np.ndarray]:
    return list(get_space(*SPACE_ARGS[:3], num_classes=10).random(n, seed=seed))


@pytest.mark.slow
def test_a_batch_of_trainings_runs_on_two_workers_at_once(trainer):
    acc = trainer.accuracies(archs(2, 1), split="test")
    assert acc.shape == (2,) and np.all((acc >= 0) & (acc <= 1))
    runs = trainer.runs[-2:]
    assert len({(r["host"], r["pid"]) for r in runs}) >= 2
    # the two ran at the same time: one started before the other ended. (How much they overlap is the
    # machine's business: with a CPU hog on each core, a loaded make test saw one start well after the
    # other, and a share-of-overlap assertion failed there.)
    overlap = min(r["end"] for r in runs) - max(r["start"] for r in runs)
    assert overlap > 0, runs


@pytest.mark.slow
def test_a_killed_worker_costs_only_its_own_trial(trainer):
    """SIGKILL one worker process mid-training: Ray retries that task, and every score arrives."""
    killed: list[int] = []

    def kill_one_training():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            ps = subprocess.run(["pgrep", "-f", "ray::_train_task"], capture_output=True, text=True).stdout.split()
            if ps:
                time.sleep(1.0)  # let it get into its training
                os.kill(int(ps[0]), signal.SIGKILL)
                killed.append(int(ps[0]))
            time.sleep(0.2)

    before = len(trainer.runs)
    killer = threading.Thread(target=kill_one_training)
    killer.start()
    acc = trainer.accuracies(archs(2, 2), split="test")
    killer.join()
    assert killed, "no training process was seen"
    assert acc.shape == (2,) and np.all((acc >= 0) & (acc <= 1))
    runs = trainer.runs[before:]
    assert len(runs) == 2 and killed[0] not in {r["pid"] for r in runs}  # the killed trial ran again elsewhere


@pytest.mark.slow
def test_cli_runs_the_final_trainings_on_the_cluster(tmp_path, cluster):
    model = tmp_path / "lin.json"
    assert run_cli("fit", "--table", str(DATA / "pixel1_mbconv.csv"), "--kind", "linear", "--cv", "0",
                   "-o", str(model)).returncode == 0
    res = run_cli("search", "--space", "single-path", "--device", "pixel1", "--predictor", str(model),
                  "--target-ms", "3", "--resolution", "32", "--width", "0.35", "--accuracy", "params",
                  "--evaluations", "10", "--ri-samples", "1", "--final-eval", "train", "--train-epochs", "1",
                  "--train-images", "300", "--cluster", cluster[0].address, "--no-export",
                  "--out", str(tmp_path / "o"), "--json")
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads(res.stdout)
    ri = doc["relative_improvement"]
    assert ri["evaluation"] == "train: test top-1" and len(ri["random_sampling"]) == 1 and 0 <= ri["method"] <= 1
    assert "each trained 1 epochs from scratch; --final-eval none skips it" in res.stderr  # the cost, announced
    assert "final evaluation (train) of 3 networks: 3/3" in res.stderr
    assert "cluster: 2 trainings on" in res.stderr  # random search's network and the sample
    arch = json.loads((tmp_path / "o" / "arch.json").read_text())
    assert any(line.startswith("cluster: 2 trainings on") for line in arch["log"])
    bad = run_cli("search", "--predictor", str(model), "--target-ms", "3", "--accuracy", "params",
                  "--cluster", cluster[0].address, "--out", str(tmp_path / "p"))
    assert bad.returncode == 2 and "--cluster: nothing here trains" in bad.stderr
