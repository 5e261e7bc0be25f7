"""Fashion-MNIST (Xiao et al. 2017, MIT license) from its four IDX files, read with numpy.

No download code: Debian's `dataset-fashion-mnist` installs the files under
/usr/share/datasets/fashion-mnist/ (`make test` installs it where apt-get runs as root), or
`$EDGELAT_FASHION_MNIST` / `--dataset PATH` names a folder holding them. The official test split is
the test set; a fixed stratified tenth of the training split is the validation set the search
ranks on. The 28x28 grey images are padded (to 32) or resized, and replicated to 3 channels.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from edgelat.errors import DataError
from edgelat.search.dataset import Dataset, resize, stratified_subset

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
         "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
HOW_TO_GET = ("install Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist), or set "
              "EDGELAT_FASHION_MNIST to a folder of its four IDX files")
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
VALIDATION_SHARE = 0.1


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip-compressed or not) as an array: magic 0 0 type ndim, big-endian int32 dims, data."""
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] not in _IDX_TYPES or not raw[3]:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    ndim, dtype = raw[3], np.dtype(_IDX_TYPES[raw[2]])
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">i4", ndim, 4))
    want = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - 4 - 4 * ndim != want:
        raise DataError(f"{path}: IDX data is {len(raw) - 4 - 4 * ndim} bytes, its header says {want} "
                        f"(shape {shape})")
    return np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(shape)


def find_folder(path: str | None = None) -> Path:
    """The folder holding the IDX files: `path`, else $EDGELAT_FASHION_MNIST, else Debian's."""
    folder = Path(path or os.environ.get("EDGELAT_FASHION_MNIST") or DEBIAN_DIR)
    missing = [name for name in FILES.values() if _file(folder, name) is None]
    if missing:
        raise DataError(f"fashion-mnist: {folder} lacks {missing[0]}[.gz]; {HOW_TO_GET}")
    return folder


def is_idx_folder(folder: Path) -> bool:
    """Whether `folder` holds Fashion-MNIST's training images (so `--dataset FOLDER` means this dataset)."""
    return _file(folder, FILES["x_train"]) is not None


def _file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def load_fashion_mnist(resolution: int = 32, seed: int = 0, path: str | None = None,
                       train_images: int | None = None) -> Dataset:
    """The splits as float32 RGB in [0, 1] at `resolution`; `train_images` keeps a stratified subset
    of the training split (validation and test are never cut). Only kept images are converted."""
    folder = find_folder(path)
    arrays = {k: read_idx(_file(folder, name)) for k, name in FILES.items()}  # type: ignore[arg-type]
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"fashion-mnist: {folder}: {part} images {x.shape} do not match labels {y.shape}")
    y_all = arrays["y_train"].astype(np.int64)
    val = stratified_subset(y_all, round(VALIDATION_SHARE * len(y_all)), 0)  # fixed: not the search's seed
    train = np.setdiff1d(np.arange(len(y_all)), val)
    if train_images is not None and train_images < len(train):
        train = train[stratified_subset(y_all[train], train_images, seed)]
    img = lambda a: _images(a, resolution)  # noqa: E731
    return Dataset("fashion-mnist", img(arrays["x_train"][train]), y_all[train], img(arrays["x_train"][val]),
                   y_all[val], img(arrays["x_test"]), arrays["y_test"].astype(np.int64), 10)


def _images(x: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 [N, 28, 28] -> float32 [N, r, r, 3]: zero-padded when r >= 28 and the margin is even
    (32: the LeNet convention), else bilinear-resized."""
    x = x.astype(np.float32)[..., None] / 255.0
    margin = resolution - x.shape[1]
    if margin >= 0 and margin % 2 == 0:
        x = np.pad(x, ((0, 0), (margin // 2,) * 2, (margin // 2,) * 2, (0, 0)))
    else:
        x = resize(x, resolution)
    return np.repeat(x, 3, axis=-1)
