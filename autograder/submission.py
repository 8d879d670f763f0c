"""Find the graded files in an upload (a zip or a folder), safely.

The upload may hold them at its root or inside one folder, beside junk (__MACOSX, notebooks,
checkpoints, data). Only the graded files are read; nothing else is extracted. Links, paths that
escape the folder, oversized files and oversized archives are refused with a message.
"""
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from autograder.sandbox.scratch import gradings_root
from autograder.selfcheck.surface import GRADED_FILES

MAX_FILE_BYTES = 1 << 20            # a graded .py file
MAX_ARCHIVE_MEMBERS = 10_000
MAX_ARCHIVE_BYTES = 1 << 30         # declared uncompressed size of the whole zip
JUNK = {"__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git"}


class SubmissionError(Exception):
    """The upload cannot be graded at all (e.g. a corrupt zip); the message says what to do."""


def collect(upload, destination):
    """Copy the graded files of `upload` into `destination`; returns (found: {file: Path}, notes)."""
    upload, destination = Path(upload), Path(destination)
    notes = []
    if upload.is_dir() and not upload.is_symlink():
        entries = _folder_entries(upload, notes)
        zips = [p for p in entries if p.endswith(".zip")]
        if not any(p.endswith(".py") for p in entries) and len(zips) == 1:
            found, inner_notes = collect(upload / zips[0], destination)
            return found, [f"graded the files inside {zips[0]}"] + notes + inner_notes
        read = lambda name: _read_capped((upload / name).open("rb"), name)
    elif zipfile.is_zipfile(upload):
        archive = zipfile.ZipFile(upload)
        entries = _zip_entries(archive, notes)
        read = lambda name: _read_capped(archive.open(name), name)
    elif upload.exists():
        raise SubmissionError(f"{upload.name} is neither a folder nor a valid zip archive: upload the graded files, "
                              "or a zip of them.")
    else:
        raise SubmissionError(f"no submission found at {upload}")
    found = {}
    for graded, name in _match(entries, notes).items():
        try:
            data = read(name)
        except (OSError, zipfile.BadZipFile, ValueError) as error:
            notes.append(f"{name} could not be read ({error}); it was not graded")
            continue
        target = destination / graded
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        found[graded] = target
    missing = [f for f in GRADED_FILES if f not in found]
    if missing:
        notes.append("not found in your submission: " + ", ".join(missing)
                     + " (upload the graded files at the top of the zip, or in one folder, with their paths: "
                     + ", ".join(GRADED_FILES) + ")")
    return found, notes


def read(upload):
    """({graded file: bytes}, notes) of the upload, read through a private folder that is removed again."""
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=gradings_root()))   # 0700
    try:
        try:
            found, notes = collect(upload, folder)
        except SubmissionError as error:
            return {}, [str(error)]
        return {graded: path.read_bytes() for graded, path in found.items()}, notes
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _folder_entries(root, notes):
    entries = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if set(relative.parts) & JUNK:
            continue
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            if path.name.endswith(".py"):
                notes.append(f"{relative.as_posix()} is a link; links are not followed")
            continue
        if stat.S_ISREG(mode):
            entries.append(relative.as_posix())
    return entries


def _zip_entries(archive, notes):
    infos = archive.infolist()
    if len(infos) > MAX_ARCHIVE_MEMBERS or sum(i.file_size for i in infos) > MAX_ARCHIVE_BYTES:
        raise SubmissionError("the zip is too large to unpack (more than 1 GB or 10,000 files once "
                              "uncompressed): upload only the graded files.")
    entries = []
    for info in infos:
        name = info.filename
        path = PurePosixPath(name)
        if info.is_dir() or set(path.parts) & JUNK:
            continue
        if path.is_absolute() or ".." in path.parts or "\\" in name or ":" in name:
            notes.append(f"refused {name!r}: its path leaves the submission folder")
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            notes.append(f"refused {name!r}: it is a link")
            continue
        entries.append(name)
    return entries


def _match(entries, notes):
    """{graded file: entry}: the shallowest entry whose path ends with the graded path."""
    chosen = {}
    for graded in GRADED_FILES:
        suffix = PurePosixPath(graded).parts
        candidates = [e for e in entries if PurePosixPath(e).parts[-len(suffix):] == suffix]
        if not candidates and "/" in graded:  # models/vae.py uploaded flat as vae.py
            flat = [e for e in entries if PurePosixPath(e).name == PurePosixPath(graded).name
                    and len(PurePosixPath(e).parts) <= 2]
            if flat:
                notes.append(f"used {flat[0]} as {graded}")
                candidates = flat
        if candidates:
            candidates.sort(key=lambda e: (len(PurePosixPath(e).parts), e))
            chosen[graded] = candidates[0]
            if len(candidates) > 1:
                notes.append(f"{len(candidates)} files could be {graded} ({', '.join(candidates[:4])}); graded "
                             f"{candidates[0]}, the one nearest the top" + (" (the first in name order)" if
                             len(PurePosixPath(candidates[1]).parts) == len(PurePosixPath(candidates[0]).parts) else ""))
    return chosen



def _read_capped(stream, name):
    with stream:
        data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 1024} KB")
    return data
