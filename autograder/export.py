"""Gradescope's "Export Submissions", as regrade reads it.

The export (a zip, or that zip extracted) holds one folder per submission, `submission_<id>/`, and
`submission_metadata.yml` beside them (often inside one top folder, `assignment_<id>_export/`). The
metadata maps each folder to its submission, with Ruby-symbol keys:

    submission_123456:
      :submitters:
      - :name: Ada Lovelace
        :sid: '1815'
        :email: ada@example.edu
      :created_at: 2026-11-30 23:58:12.000000000 -08:00
      :score: 87.5
      :history: [...]          # earlier submissions of the same students (not regraded)

(the format Otter-Grader's GradescopeParser reads; `:results` may hold the results.json Gradescope
kept). regrade grades the folders and adds who submitted each one, when, and the score Gradescope holds.
"""
import re
import zipfile
from pathlib import Path

import yaml

METADATA = "submission_metadata.yml"
FIELDS = ["submission_id", "submitted_at", "names", "emails", "sids", "old_score"]


class ExportError(Exception):
    """The export cannot be read (the message says why)."""


class _Loader(yaml.SafeLoader):
    """Safe YAML that reads a tag it does not know (a Ruby object Gradescope serialized) as plain data."""


def _untagged(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_Loader.add_multi_constructor("!", _untagged)


def root_of(folder):
    """The folder that holds submission_metadata.yml: `folder` itself or its one top folder; None when
    there is no metadata (a plain folder of submissions)."""
    folder = Path(folder)
    if (folder / METADATA).is_file():
        return folder
    inner = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))]
    if len(inner) == 1 and (inner[0] / METADATA).is_file():
        return inner[0]
    return None


def extract(zip_path, destination):
    """Unzip an export (zipfile keeps every member inside `destination`); the folder to regrade."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(destination)
    except (zipfile.BadZipFile, OSError) as error:
        raise ExportError(f"{zip_path} is not a readable zip ({error})") from None
    return root_of(destination) or Path(destination)


def _get(entry, key):
    return entry.get(f":{key}", entry.get(key))


def _score(value):
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def read(root):
    """{submission folder: {submission_id, submitted_at, names, emails, sids, old_score}} of
    root/submission_metadata.yml; several submitters (a group) are joined with '; '."""
    try:
        raw = yaml.load((Path(root) / METADATA).read_text(), Loader=_Loader) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ExportError(f"{METADATA} cannot be read ({error})") from None
    if not isinstance(raw, dict):
        raise ExportError(f"{METADATA} is not a mapping of submission folders")
    rows = {}
    for folder, entry in raw.items():
        entry = entry if isinstance(entry, dict) else {}
        people = [p for p in (_get(entry, "submitters") or []) if isinstance(p, dict)]
        joined = lambda key: "; ".join(str(_get(p, key) or "") for p in people)
        number = re.search(r"(\d+)$", str(folder))
        rows[str(folder)] = {"submission_id": str(_get(entry, "id") or (number.group(1) if number else "")),
                             "submitted_at": str(_get(entry, "created_at") or ""),
                             "names": joined("name"), "emails": joined("email"), "sids": joined("sid"),
                             "old_score": _score(_get(entry, "score"))}
    return rows
