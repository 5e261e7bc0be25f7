"""A batch of short trainings on a real local Ray cluster with one worker CPU, then two (issue #14):
the wall time of each and the ratio. The same RayTrainer as `search --cluster` uses.

Run with nothing else on the machine (2 cores: two workers take both).
"""

from __future__ import annotations

import argparse
import time

from edgelat.core.spaces import get_space
from edgelat.profiler.store import host_info
from edgelat.search.data import load_dataset
from edgelat.search.remote_trainer import RayTrainer

SPACE_ARGS = ("single-path", 32, 0.35, 10)


def batch_wall_s(workers: int, data, networks: int, epochs: int) -> float:
    """Wall time of training `networks` networks on a fresh local cluster of `workers` CPUs."""
    import ray

    ray.init(num_cpus=workers, log_to_driver=False, include_dashboard=False)
    try:
        trainer = RayTrainer("auto", SPACE_ARGS, data, epochs=epochs, seed=0)
        archs = list(get_space(*SPACE_ARGS[:3], num_classes=10).random(networks, seed=1))
        start = time.perf_counter()
        trainer.accuracies(archs, split="val")
        return time.perf_counter() - start
    finally:
        ray.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="fashion-mnist", help="fashion-mnist (if installed) or digits")
    ap.add_argument("--networks", type=int, default=4)
    ap.add_argument("--train-images", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    data = load_dataset(args.data, 32, seed=0, train_images=args.train_images)
    walls = {w: batch_wall_s(w, data, args.networks, args.epochs) for w in (1, 2)}
    print(f"{args.networks} trainings ({args.train_images} {args.data} images, {args.epochs} epochs, single-path "
          f"w0.35 at 32 px), {host_info()['cpu']}: 1 worker {walls[1]:.1f} s, 2 workers {walls[2]:.1f} s, "
          f"speed-up {walls[1] / walls[2]:.2f}x")


if __name__ == "__main__":
    main()
