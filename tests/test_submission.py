"""Uploads: the five files found at the root or in one folder; junk ignored; danger refused."""
import os
import zipfile

import pytest

from helpers import GRADED_FILES, REFERENCE, submission_from
from autograder.submission import SubmissionError, collect


def zip_of(path, entries):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def reference_entries(prefix=""):
    return {prefix + f: (REFERENCE / f).read_bytes() for f in GRADED_FILES}


def test_files_at_the_root_of_a_folder(tmp_path):
    found, notes = collect(submission_from(REFERENCE, tmp_path / "up"), tmp_path / "out")
    assert sorted(found) == sorted(GRADED_FILES) and not notes
    assert (tmp_path / "out" / "models" / "vae.py").read_bytes() == (REFERENCE / "models/vae.py").read_bytes()


def test_files_in_one_folder_of_a_zip_beside_junk(tmp_path):
    entries = reference_entries("my_hw/")
    entries.update({"__MACOSX/my_hw/._utils.py": b"junk", "my_hw/.ipynb_checkpoints/utils-checkpoint.py": b"bad",
                    "my_hw/hw.ipynb": b"{}", "my_hw/data/big.bin": b"\0" * 100})
    found, notes = collect(zip_of(tmp_path / "up.zip", entries), tmp_path / "out")
    assert sorted(found) == sorted(GRADED_FILES)
    assert (tmp_path / "out" / "utils.py").read_bytes() == (REFERENCE / "utils.py").read_bytes()


def test_a_folder_holding_only_a_zip_is_unwrapped(tmp_path):
    (tmp_path / "up").mkdir()
    zip_of(tmp_path / "up" / "submission.zip", reference_entries())
    found, notes = collect(tmp_path / "up", tmp_path / "out")
    assert len(found) == 5 and "submission.zip" in notes[0]


def test_flat_model_files_are_accepted_with_a_note(tmp_path):
    entries = {("vae.py" if f == "models/vae.py" else "gan.py" if f == "models/gan.py" else f): d
               for f, d in reference_entries().items()}
    found, notes = collect(zip_of(tmp_path / "up.zip", entries), tmp_path / "out")
    assert len(found) == 5 and any("used vae.py as models/vae.py" in n for n in notes)


def test_missing_files_are_named(tmp_path):
    entries = reference_entries()
    del entries["ewc.py"]
    found, notes = collect(zip_of(tmp_path / "up.zip", entries), tmp_path / "out")
    assert "ewc.py" not in found and any("ewc.py" in n for n in notes)


@pytest.mark.parametrize("evil", ["../utils.py", "/etc/utils.py", "a/../../utils.py"])
def test_paths_that_escape_are_refused_and_nothing_is_written_outside(tmp_path, evil):
    entries = reference_entries("hw/")
    del entries["hw/utils.py"]
    entries[evil] = b"import os\n"
    found, notes = collect(zip_of(tmp_path / "up.zip", entries), tmp_path / "out")
    assert "utils.py" not in found and any("leaves the submission folder" in n for n in notes)
    assert not (tmp_path / "utils.py").exists()


def test_links_are_refused_in_zips_and_folders(tmp_path):
    link = zipfile.ZipInfo("utils.py")
    link.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(tmp_path / "up.zip", "w") as z:
        z.writestr(link, "/work/main/autograder/goldens/manifest.json")
    found, notes = collect(tmp_path / "up.zip", tmp_path / "out")
    assert "utils.py" not in found and any("link" in n for n in notes)
    folder = submission_from(REFERENCE, tmp_path / "folder")
    os.remove(folder / "ewc.py")
    os.symlink("/etc/passwd", folder / "ewc.py")
    found, notes = collect(folder, tmp_path / "out2")
    assert "ewc.py" not in found and any("link" in n for n in notes)


def test_a_zip_bomb_is_refused_without_unpacking_it(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("data.bin", "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 24)
            for _ in range(70):          # 1.1 GB of zeros, ~1 MB compressed
                f.write(chunk)
    with pytest.raises(SubmissionError, match="too large"):
        collect(path, tmp_path / "out")


def test_an_oversized_graded_file_is_not_read(tmp_path):
    entries = reference_entries()
    entries["utils.py"] = b"#" * (2 << 20)
    found, notes = collect(zip_of(tmp_path / "up.zip", entries), tmp_path / "out")
    assert "utils.py" not in found and any("larger than" in n for n in notes)


def test_not_a_zip_is_a_clear_error(tmp_path):
    (tmp_path / "up.rar").write_bytes(b"Rar!")
    with pytest.raises(SubmissionError, match="neither a folder nor a valid zip"):
        collect(tmp_path / "up.rar", tmp_path / "out")
