"""Fashion-MNIST: the IDX reader, the splits, the one-line error when the files are missing, and a
tiny search on the real dataset (Debian's dataset-fashion-mnist, installed by `make test`)."""

import gzip
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgelat.errors import DataError, EdgelatError
from edgelat.search.data import load_dataset
from edgelat.search.fashion_mnist import FILES, find_folder, load_fashion_mnist, read_idx

from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent


def write_idx(path: Path, a: np.ndarray, code: int = 0x08, compress: bool = True) -> None:
    raw = bytes([0, 0, code, a.ndim]) + np.array(a.shape, ">i4").tobytes() + a.astype(a.dtype.newbyteorder(">"))\
        .tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def tiny_folder(folder: Path, n_train: int = 200, n_test: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Four IDX files shaped like Fashion-MNIST's: 28x28 uint8 images whose pixel (0, 0) is the label."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    ys = {"train": np.arange(n_train) % 10, "test": rng.integers(0, 10, n_test)}
    for part, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        x[:, 0, 0] = ys[part] * 20
        write_idx(folder / f"{FILES['x_' + part]}.gz", x)
        write_idx(folder / f"{FILES['y_' + part]}.gz", ys[part].astype(np.uint8))
    return ys["train"], ys["test"]


def test_idx_files_are_read_with_their_shapes_and_types(tmp_path):
    a = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", a, code=0x0C, compress=False)
    assert np.array_equal(read_idx(tmp_path / "a.idx"), a)
    b = np.arange(6, dtype=np.uint8)
    write_idx(tmp_path / "b.idx.gz", b)
    assert np.array_equal(read_idx(tmp_path / "b.idx.gz"), b)
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DataError, match="bad.idx: not an IDX file"):
        read_idx(tmp_path / "bad.idx")
    (tmp_path / "short.idx").write_bytes((tmp_path / "a.idx").read_bytes()[:-5])
    with pytest.raises(DataError, match=r"short.idx: IDX data is 91 bytes, its header says 96"):
        read_idx(tmp_path / "short.idx")


def test_splits_pad_to_32_rgb_keep_the_official_test_and_a_stratified_validation(tmp_path):
    y_train, y_test = tiny_folder(tmp_path / "fm")
    d = load_fashion_mnist(32, seed=1, path=str(tmp_path / "fm"))
    assert d.x_train.shape[1:] == (32, 32, 3) and d.x_train.dtype == np.float32
    assert len(d.y_val) == 20 and np.bincount(d.y_val, minlength=10).tolist() == [2] * 10  # a tenth, per class
    assert len(d.y_train) == 180 and np.array_equal(d.y_test, y_test)
    # zero padding of 2 px; the label pixel moved to (2, 2), grey in all three channels
    assert np.all(d.x_test[:, :2] == 0) and np.allclose(d.x_test[:, 2, 2, 0] * 255, y_test * 20, atol=1e-3)
    assert np.array_equal(d.x_test[..., 0], d.x_test[..., 2])
    # the validation part is fixed (not the search's seed); --train-images cuts the training part only
    d2 = load_dataset(str(tmp_path / "fm"), 24, seed=5, train_images=50)
    assert np.array_equal(d2.y_val, d.y_val) and len(d2.y_train) == 50 and d2.x_train.shape[1:] == (24, 24, 3)
    assert np.bincount(d2.y_train).tolist() == [5] * 10


def test_missing_files_are_one_line_that_says_how_to_get_them(tmp_path):
    with pytest.raises(EdgelatError, match="apt-get install dataset-fashion-mnist"):
        find_folder(str(tmp_path))
    res = run_cli("search", "--dataset", "fashion-mnist", "--accuracy", "params", "--predictor", "x.json",
                  "--target-ms", "5", "--out", str(tmp_path / "o"), env={"EDGELAT_FASHION_MNIST": str(tmp_path)})
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "train-images-idx3-ubyte" in res.stderr and "dataset-fashion-mnist" in res.stderr


@pytest.fixture(scope="module")
def fashion_mnist() -> Path:
    """The real files, installed by `make test` where apt-get runs as root (else skip, with why)."""
    res = subprocess.run(["bash", str(ROOT / "data" / "install_fashion_mnist.sh")], capture_output=True, text=True)
    if res.returncode == 77:
        pytest.skip(res.stderr.strip())
    assert res.returncode == 0, res.stderr
    return find_folder()


@pytest.mark.slow
def test_a_tiny_search_on_real_fashion_mnist(tmp_path, fashion_mnist):
    d = load_fashion_mnist(32, train_images=300)
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (300, 6000, 10000)
    model = tmp_path / "lin.json"
    assert run_cli("fit", "--table", str(ROOT / "data" / "pixel1_mbconv.csv"), "--kind", "linear", "--cv", "0",
                   "-o", str(model)).returncode == 0
    res = run_cli("search", "--dataset", "fashion-mnist", "--train-images", "300", "--accuracy", "train",
                  "--train-epochs", "1", "--evaluations", "1", "--ri-samples", "1", "--strategy", "random",
                  "--space", "single-path", "--resolution", "32", "--width", "0.35", "--predictor", str(model),
                  "--target-ms", "3", "--no-export", "--out", str(tmp_path / "o"), "--json")
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads(res.stdout)
    assert doc["accuracy_signal"] == "train" and doc["relative_improvement"]["evaluation"] == "train: test top-1"
    assert 0.1 < doc["relative_improvement"]["method"] <= 1.0  # better than chance on 10 classes after 1 epoch
    assert "fashion-mnist: 300 train / 6000 val / 10000 test" in res.stderr
