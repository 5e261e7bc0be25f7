"""What a dataset is for the accuracy signals: float32 images in [0, 1] with integer labels, in
train, validation and test splits; with the two helpers every loader shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgelat.errors import DataError


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def resolution(self) -> int:
        return int(self.x_train.shape[1])

    def resized(self, resolution: int) -> Dataset:
        """The same splits at another square resolution (bilinear)."""
        if resolution == self.resolution:
            return self
        return Dataset(self.name, *(resize(a, resolution) if a.ndim == 4 else a for a in (
            self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test)), self.num_classes)

    def subset(self, train_images: int | None, seed: int = 0) -> Dataset:
        """The same data with a stratified `train_images` of the training split (all when None)."""
        if train_images is None or train_images >= len(self.y_train):
            return self
        keep = stratified_subset(self.y_train, train_images, seed)
        return Dataset(self.name, self.x_train[keep], self.y_train[keep], self.x_val, self.y_val, self.x_test,
                       self.y_test, self.num_classes)

    def summary(self) -> str:
        return (f"{self.name}: {len(self.y_train)} train / {len(self.y_val)} val / {len(self.y_test)} test, "
                f"{self.resolution}x{self.resolution}, {self.num_classes} classes")


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of about `n` labels of `y`, the same share of every class (at least one each)."""
    classes = np.unique(y)
    if n < len(classes):
        raise DataError(f"--train-images: need at least one per class ({len(classes)}), got {n}")
    rng, share = np.random.default_rng(seed), n / len(y)
    picked = [rng.permutation(np.flatnonzero(y == c))[: max(1, int(round(share * np.sum(y == c))))] for c in classes]
    return np.sort(np.concatenate(picked))


def resize(images: np.ndarray, resolution: int) -> np.ndarray:
    import tensorflow as tf  # only when a resize is asked for: `import edgelat` stays free of TensorFlow

    out = tf.image.resize(images, (resolution, resolution), method="bilinear")
    return np.clip(out.numpy(), 0.0, 1.0).astype(np.float32)
