"""Regenerate the golden files from the reference: python -m staff goldens [--check]

Each golden file holds hidden inputs and the reference's outputs on them (fixed seeds), as .npz
without pickle; manifest.json records versions and sha256 checksums. --check recomputes everything
and verifies the committed files (checksums and values); it exits 1 on any difference. It also proves
the judge's trusted numpy recomputations against the reference's provided helpers (staff/trusted.py).
A golden file is rewritten only when its bytes change: the same arrays give the same bytes (no zip
timestamps), so regenerating without a real change leaves git clean.
"""
import argparse
import hashlib
import io
import json
import platform
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from autograder.checks import training
from autograder.checks.inputs import GOLDENS, flatten, gan_state, rng, small_net_state, vae_state
from autograder.selfcheck.local import local_run
from staff import REPO, trusted


def offline_digits():
    sys.path.insert(0, str(REPO / "reference"))
    import data
    images, labels = data.read_offline_mnist()
    g = rng("golden", "digits")
    order = g.permutation(len(labels))
    train, test = order[:1000], order[1000:1500]
    return {"train_x": images[train], "train_y": labels[train], "test_x": images[test], "test_y": labels[test]}


def cases(run):
    """{name: {'inputs': {...}, 'expected': {...}}} computed by the reference."""
    out = {}
    digits = offline_digits()
    out["digits"] = {"inputs": digits, "expected": {}}

    g = rng("golden", "vae")
    z_dim = 3   # batch 8 / z_dim 3: a transposed KL (n / z_dim times) differs from a doubled one
    inputs = {"state": vae_state(g, z_dim), "z_dim": z_dim,
              "x": (g.random((8, 784)) < digits["test_x"][:8] / 255.0).astype(np.float32),
              "eps": g.normal(size=(8, z_dim)).astype(np.float32)}
    result = run("vae_bound", **inputs)
    out["vae_bound"] = {"inputs": inputs, "expected": {k: result[k] for k in ("nelbo", "kl", "rec", "nelbo_grad", "rec_grad")}}

    g = rng("golden", "gan_losses")
    inputs = {"real": (g.normal(size=12) * 4).astype(np.float32), "fake": (g.normal(size=(12, 1)) * 4).astype(np.float32)}
    result = run("gan_losses", **inputs)
    out["gan_losses"] = {"inputs": inputs, "expected": {k: v for k, v in result.items() if not k.endswith("_error")}}

    g = rng("golden", "gan_step")
    inputs = {"state": gan_state(g, 8), "z_dim": 8, "x_real": digits["test_x"][:16].astype(np.float32) / 255.0, "seed": 5}
    result = run("gan_step", **inputs)
    out["gan_step"] = {"inputs": inputs, "expected": {"d_loss": result["d_loss"], "g_loss": result["g_loss"]}}

    g = rng("golden", "diffusion")
    inputs = {"betas": np.linspace(1e-3, 0.2, 20).astype(np.float32), "t": 7,
              "x0": g.normal(size=(3, 4)).astype(np.float32), "xt": g.normal(size=(3, 4)).astype(np.float32)}
    result = run("diffusion", **inputs)
    mean, var = result["q_posterior"]
    out["diffusion"] = {"inputs": inputs, "expected": {"q_posterior": {"mean": mean, "var": var},
                                                       "alpha_bars": result["alpha_bars"][0]}}

    g = rng("golden", "fisher")
    inputs = {"state": small_net_state(g, 20, 16, 5), "x": g.normal(size=(40, 20)).astype(np.float32),
              "y": g.integers(0, 5, 40), "batch_size": 8, "train_mode": True}
    result = run("fisher", **inputs)
    out["fisher"] = {"inputs": inputs, "expected": {"fisher": result["fisher"]}}

    # test 5.4's baseline: the judge's own numpy training (no reference code), stored so that a
    # grading reads it instead of training it (0.15 s); the sizes it was trained with are checked
    after_a, naive = training.train_ewc_baseline(digits)
    out["ewc_baseline"] = {"inputs": training.ewc_sizes(), "expected": {"after_a": after_a, "naive": naive}}
    return out


def npz_bytes(arrays):
    """What np.savez writes (np.load reads it), minus what varies between runs: every member carries
    the same fixed zip timestamp, in the order given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue())
    return buffer.getvalue()


def write_if_changed(path, data):
    """Write `data` to `path` unless it already holds exactly that; True when written."""
    if path.is_file() and path.read_bytes() == data:
        return False
    path.write_bytes(data)
    return True


def same_arrays(path, arrays):
    """Whether the golden file at `path` holds `arrays` up to rounding (`agrees`): then it is kept as
    it is, so that regenerating on another CPU, whose sums round differently, rewrites nothing."""
    try:
        with np.load(path, allow_pickle=False) as old:
            return sorted(old.files) == sorted(arrays) and all(agrees(old[k], np.asarray(arrays[k])) for k in arrays)
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


def write(destination):
    """(manifest, names of the files rewritten) of the goldens the reference computes now."""
    destination.mkdir(parents=True, exist_ok=True)
    import torch
    run = local_run(REPO / "reference")
    manifest = {"generated_by": "python -m staff goldens",
                "versions": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__},
                "files": {}}
    changed = []
    for name, case in cases(run).items():
        path = destination / f"{name}.npz"
        flat = flatten(case)
        if same_arrays(path, flat):
            data = path.read_bytes()
        else:
            data = npz_bytes(flat)
            path.write_bytes(data)
            changed.append(path.name)
        manifest["files"][path.name] = {"sha256": hashlib.sha256(data).hexdigest(), "keys": sorted(flat)}
    if write_if_changed(destination / "manifest.json", (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()):
        changed.append("manifest.json")
    return manifest, changed


ULPS = 64   # rounding differences allowed, in units of the dtype's epsilon times the array's scale


def agrees(committed, fresh):
    """Same shape and dtype; integers equal; floats equal up to rounding: another CPU (AVX2 vs AVX-512)
    or library build sums in another order, which moves float32 results by a few epsilons of the
    array's largest value. A changed solution moves them by far more."""
    if committed.shape != fresh.shape or committed.dtype != fresh.dtype:
        return False
    if committed.dtype.kind not in "fc":
        return bool(np.array_equal(committed, fresh))
    a, b = committed.astype(np.float64), fresh.astype(np.float64)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    finite = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(a[~finite & ~np.isnan(a)], b[~finite & ~np.isnan(b)]):
        return False
    if not finite.any():
        return True
    scale = np.abs(a[finite]).max()
    tolerance = ULPS * np.finfo(committed.dtype).eps * max(scale, np.finfo(committed.dtype).tiny)
    return bool(np.all(np.abs(a[finite] - b[finite]) <= tolerance))


def check():
    problems = []
    try:
        manifest = json.loads((GOLDENS / "manifest.json").read_text())
    except (OSError, ValueError) as error:
        print(f"goldens: manifest.json unreadable ({error}); regenerate with: python -m staff goldens")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        fresh, _ = write(Path(tmp))
        for name in sorted(set(manifest["files"]) | set(fresh["files"])):
            path = GOLDENS / name
            if name not in manifest["files"] or not path.exists():
                problems.append(f"{name}: missing")
                continue
            if hashlib.sha256(path.read_bytes()).hexdigest() != manifest["files"][name]["sha256"]:
                problems.append(f"{name}: checksum differs from manifest.json")
                continue
            with np.load(path, allow_pickle=False) as old, np.load(Path(tmp) / name, allow_pickle=False) as new:
                if sorted(old.files) != sorted(new.files):
                    problems.append(f"{name}: keys differ")
                    continue
                for key in old.files:
                    if not agrees(old[key], new[key]):
                        problems.append(f"{name}: {key} differs from what the reference computes now")
    for p in problems:
        print(f"goldens: {p}")
    print("goldens: out of date; regenerate with: python -m staff goldens" if problems else "goldens: up to date")
    disagreements = trusted.disagreements()
    for d in disagreements:
        print(f"goldens: {d}")
    if not disagreements:
        print(f"goldens: the judge's trusted recomputations agree with the reference's helpers ({len(trusted.PROOFS)} proofs)")
    return 1 if problems or disagreements else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    manifest, changed = write(GOLDENS)
    print(f"goldens: {len(manifest['files'])} golden files in {GOLDENS}; "
          + (f"rewritten: {', '.join(changed)}" if changed else "none changed"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
