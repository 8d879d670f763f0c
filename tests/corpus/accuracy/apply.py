"""Apply a corpus variant to a copy of the reference's graded files.

A variant (one entry of a YAML file in this folder) names a graded function and the new body of its
solution region (the lines between `### BEGIN SOLUTION` and `### END SOLUTION`). `apply_variant`
copies the five graded files into a destination and substitutes the variant's code, re-indented to
the markers' indentation, for the region; the marker lines themselves are removed.
"""
from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import yaml

from autograder.selfcheck.surface import GRADED_FILES  # noqa: E402  (the one definition)

YAML_TO_FILE = {Path(file).stem: file for file in GRADED_FILES}   # vae.yaml holds the variants of models/vae.py
assert len(YAML_TO_FILE) == len(GRADED_FILES), "two graded files share a name: name their YAML files by hand"

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"


def load_variants(folder) -> list[dict]:
    """All variants of the YAML files in `folder`, each with a `file` key (the graded file it edits)."""
    folder = Path(folder)
    variants = []
    for stem, file in YAML_TO_FILE.items():
        path = folder / f"{stem}.yaml"
        if not path.exists():
            continue
        entries = yaml.safe_load(path.read_text()) or []
        for entry in entries:
            variant = dict(entry)
            variant["file"] = file
            variants.append(variant)
    return variants


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _find_def(lines: list[str], function: str) -> int:
    """Index of the `def` line of `function` ('name' or 'Class.method')."""
    if "." in function:
        cls, meth = function.split(".", 1)
        class_re = re.compile(rf"^(\s*)class\s+{re.escape(cls)}\b")
        for i, line in enumerate(lines):
            m = class_re.match(line)
            if not m:
                continue
            class_indent = len(m.group(1))
            def_re = re.compile(rf"^(\s*)def\s+{re.escape(meth)}\s*\(")
            for j in range(i + 1, len(lines)):
                stripped = lines[j].strip()
                if stripped and len(_indent_of(lines[j])) <= class_indent and not stripped.startswith(("#", ")")):
                    break  # left the class body
                d = def_re.match(lines[j])
                if d and len(d.group(1)) > class_indent:
                    return j
        raise ValueError(f"method {function} not found")
    def_re = re.compile(rf"^\s*def\s+{re.escape(function)}\s*\(")
    for i, line in enumerate(lines):
        if def_re.match(line):
            return i
    raise ValueError(f"function {function} not found")


def find_region(lines: list[str], function: str) -> tuple[int, int]:
    """Indices of the BEGIN and END marker lines of `function`'s first solution region."""
    start = _find_def(lines, function)
    begin = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == BEGIN), None)
    if begin is None:
        raise ValueError(f"no {BEGIN} after def {function}")
    end = next((i for i in range(begin + 1, len(lines)) if lines[i].strip() == END), None)
    if end is None:
        raise ValueError(f"no {END} after def {function}")
    return begin, end


def extract_region(source: str, function: str) -> str:
    """The body of `function`'s solution region, dedented to zero indentation."""
    lines = source.splitlines(keepends=True)
    begin, end = find_region(lines, function)
    return textwrap.dedent("".join(lines[begin + 1:end]))


def replace_region(source: str, function: str, code: str) -> str:
    """`source` with the first solution region after `def function` replaced by `code`."""
    lines = source.splitlines(keepends=True)
    begin, end = find_region(lines, function)
    indent = _indent_of(lines[begin])
    body = textwrap.dedent(code).rstrip("\n") + "\n"
    new = [(indent + ln if ln.strip() else ln) for ln in body.splitlines(keepends=True)]
    new = [ln if ln.endswith("\n") else ln + "\n" for ln in new]
    return "".join(lines[:begin] + new + lines[end + 1:])


def apply_variant(reference_root: Path, variant: dict, destination: Path) -> Path:
    """Copy the five graded files into `destination` and apply `variant` to its file."""
    reference_root = Path(reference_root)
    destination = Path(destination)
    for rel in GRADED_FILES:
        target = destination / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(reference_root / rel, target)
    target = destination / variant["file"]
    target.write_text(replace_region(target.read_text(), variant["function"], variant["code"]))
    return destination
