"""Datasets for the accuracy signals: the embedded digits default, an image folder, or TFRecords.

Everything is loaded into memory as float32 images in [0, 1] with integer labels, split into
train, validation (what the search ranks on) and test (what the final report uses).
The embedded default is scikit-learn's digits (1,797 8x8 images of 10 classes), upscaled to
32x32x3, so `make demo` needs no download.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgelat.errors import DataError
from edgelat.search.dataset import Dataset
from edgelat.search.fashion_mnist import is_idx_folder, load_fashion_mnist


def _split(x: np.ndarray, y: np.ndarray, seed: int, name: str, num_classes: int,
           fractions: tuple[float, float] = (0.6, 0.2)) -> Dataset:
    """Stratified train/val/test split with a fixed seed."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[], [], []]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        a, b = int(round(len(idx) * fractions[0])), int(round(len(idx) * sum(fractions)))
        for part, sl in zip(parts, (idx[:a], idx[a:b], idx[b:]), strict=True):
            part.extend(sl.tolist())
    tr, va, te = (rng.permutation(np.array(p, dtype=np.int64)) for p in parts)
    return Dataset(name, x[tr], y[tr], x[va], y[va], x[te], y[te], num_classes)


def load_digits(resolution: int = 32, seed: int = 0) -> Dataset:
    """scikit-learn's digits, upscaled (nearest then bilinear smoothing) to `resolution` RGB."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None].repeat(3, axis=-1)
    data = _split(x, d.target.astype(np.int64), seed, "digits", 10)
    return data.resized(resolution)


def load_image_folder(path: Path, resolution: int, seed: int = 0) -> Dataset:
    """One sub-folder per class (keras.utils.image_dataset_from_directory); train/val/test
    sub-folders are used as the splits when present, otherwise a stratified 60/20/20 split."""
    import keras

    def read(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
        try:
            ds = keras.utils.image_dataset_from_directory(
                folder, image_size=(resolution, resolution), batch_size=None, shuffle=False, verbose=False)
        except Exception as exc:  # keras raises ValueError / NotFoundError with long texts
            raise DataError(f"{folder}: not an image folder: {str(exc).splitlines()[0]}") from None
        xs, ys = [], []
        for image, label in ds:
            xs.append(image.numpy() / 255.0)
            ys.append(int(label.numpy()))
        if not xs:
            raise DataError(f"{folder}: no images found")
        return np.stack(xs).astype(np.float32), np.array(ys, dtype=np.int64), list(ds.class_names)

    splits = [path / s for s in ("train", "val", "test")]
    if all(s.is_dir() for s in splits):
        (xa, ya, names), (xb, yb, nb), (xc, yc, nc) = (read(s) for s in splits)
        if not names == nb == nc:
            raise DataError(f"{path}: train, val and test must have the same class folders")
        return Dataset(path.name, xa, ya, xb, yb, xc, yc, len(names))
    x, y, names = read(path)
    return _split(x, y, seed, path.name, len(names))


def load_tfrecords(path: Path, resolution: int, seed: int = 0) -> Dataset:
    """TFRecord files of tf.train.Examples with an encoded 'image' and an int64 'label'."""
    import tensorflow as tf

    files = sorted(path.glob("*.tfrecord*")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no .tfrecord files")
    spec = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}
    xs, ys = [], []
    try:
        for raw in tf.data.TFRecordDataset([str(f) for f in files]):
            ex = tf.io.parse_single_example(raw, spec)
            img = tf.image.resize(tf.io.decode_image(ex["image"], channels=3, expand_animations=False),
                                  (resolution, resolution))
            xs.append(img.numpy() / 255.0)
            ys.append(int(ex["label"].numpy()))
    except tf.errors.OpError as exc:
        raise DataError(f"{path}: cannot read TFRecords (need 'image' bytes and 'label' int64): "
                        f"{str(exc.message).splitlines()[0]}") from None
    y = np.array(ys, dtype=np.int64)
    return _split(np.stack(xs).astype(np.float32), y, seed, path.stem, int(y.max()) + 1)


def load_dataset(data: str | None, resolution: int, seed: int = 0, train_images: int | None = None) -> Dataset:
    """`None` or 'digits' gives the embedded default; 'fashion-mnist' (or a folder of its IDX files)
    Fashion-MNIST; otherwise an image folder or TFRecords. `train_images` keeps a stratified subset
    of the training split."""

    if data == "fashion-mnist" or (data and is_idx_folder(Path(data))):
        return load_fashion_mnist(resolution, seed, None if data == "fashion-mnist" else data, train_images)
    if data in (None, "", "digits"):
        found = load_digits(resolution, seed)
    else:
        path = Path(data)
        if not path.exists():
            raise DataError(f"{path}: no such dataset (give 'digits', 'fashion-mnist', an image folder or "
                            "TFRecords)")
        if path.is_file() or any(path.glob("*.tfrecord*")):
            found = load_tfrecords(path, resolution, seed)
        else:
            found = load_image_folder(path, resolution, seed)
    return found.subset(train_images, seed)
