"""Goldens are rewritten only when they change (stable bytes), and the judge's trusted numpy
recomputations are proven against the reference's provided helpers, naming the one that disagrees."""
import hashlib
import json
import shutil

import numpy as np

from helpers import REFERENCE

from staff import goldens, trusted


def test_the_same_arrays_give_the_same_bytes_and_load_back():
    arrays = {"inputs/x": np.arange(6, dtype=np.float32).reshape(2, 3), "expected/n": np.int64(3)}
    first, second = goldens.npz_bytes(arrays), goldens.npz_bytes(dict(arrays))
    assert first == second
    path_like = __import__("io").BytesIO(first)
    with np.load(path_like, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(arrays)
        assert all(np.array_equal(npz[k], arrays[k]) and npz[k].dtype == np.asarray(arrays[k]).dtype for k in arrays)


def test_regenerating_rewrites_only_what_changed(tmp_path):
    manifest, changed = goldens.write(tmp_path)
    assert sorted(changed) == sorted([*manifest["files"], "manifest.json"])
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert goldens.write(tmp_path)[1] == []   # nothing changed: nothing written
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stamps

    # a real change to one file (here: damaged) is rewritten, and only that file
    with np.load(tmp_path / "gan_losses.npz") as npz:
        damaged = {k: npz[k] * 2 if npz[k].dtype.kind == "f" else npz[k] for k in npz.files}
    (tmp_path / "gan_losses.npz").write_bytes(goldens.npz_bytes(damaged))
    assert goldens.write(tmp_path)[1] == ["gan_losses.npz"]

    # rounding alone (another CPU) is no change: the committed file is kept, and the manifest names it
    with np.load(tmp_path / "diffusion.npz") as npz:
        rounded = {k: np.nextafter(npz[k], np.inf) if npz[k].dtype.kind == "f" else npz[k] for k in npz.files}
    kept = goldens.npz_bytes(rounded)
    (tmp_path / "diffusion.npz").write_bytes(kept)
    manifest, changed = goldens.write(tmp_path)
    assert changed == ["manifest.json"] and (tmp_path / "diffusion.npz").read_bytes() == kept
    assert json.loads((tmp_path / "manifest.json").read_text())["files"]["diffusion.npz"]["sha256"] == \
        hashlib.sha256(kept).hexdigest()


def reference_copy(destination):
    shutil.copytree(REFERENCE, destination, ignore=shutil.ignore_patterns("data", "__pycache__", "runs"))
    return destination


def edit(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new))


def test_the_trusted_recomputations_agree_with_the_reference_s_helpers():
    assert trusted.disagreements() == []


def test_an_edited_helper_is_named(tmp_path):
    edited = reference_copy(tmp_path / "reference")
    edit(edited / "utils.py", "v = F.softplus(h) + 1e-8", "v = F.softplus(h) + 1e-3")
    edit(edited / "models" / "nns.py", "nn.Linear(784, 512), nn.LeakyReLU(0.2),", "nn.Linear(784, 512), nn.LeakyReLU(0.1),")
    edit(edited / "utils.py", "element_wise.sum(-1)", "element_wise.mean(-1)")
    lines = trusted.disagreements(edited)
    named = sorted(helper for _, helper, _ in trusted.PROOFS if any(helper in line for line in lines))
    assert named == sorted(["utils.gaussian_parameters", "models/nns.py Encoder (v1) with utils.gaussian_parameters",
                            "utils.kl_normal against N(0, 1)", "models/nns.py Discriminator (GAN arch 'mlp')"]), lines
    assert all("autograder/checks/numeric.py" in line for line in lines)


def test_a_helper_whose_signature_changed_is_named_not_a_crash(tmp_path):
    edited = reference_copy(tmp_path / "reference")
    edit(edited / "utils.py", "def log_bernoulli_with_logits(x, logits):", "def log_bernoulli_with_logits(logits, x, eps):")
    (line,) = trusted.disagreements(edited)
    assert "utils.log_bernoulli_with_logits" in line and "TypeError" in line
