"""Build the zip course staff upload to Gradescope: python -m autograder package [--out FILE]

It holds what grading needs and nothing more: setup.sh, run_autograder, the requirements, the
grader (checks, goldens, config) and the handout the submissions are laid over. Not the reference
solution (the goldens carry what the checks need from it), not the project's tests. At grading time
the judge makes all of it owner-only before any student code runs (grade.protect_sources).
"""
import zipfile
from pathlib import Path

from autograder.grade import SOURCE

INCLUDED = ["setup.sh", "run_autograder", "requirements.txt", "requirements-nodeps.txt", "autograder",
            "student_template"]
SKIPPED = {"__pycache__", ".pytest_cache", ".hypothesis", "data", "runs"}


def files():
    for name in INCLUDED:
        path = SOURCE / name
        if path.is_file():
            yield path
        else:
            yield from (p for p in sorted(path.rglob("*")) if p.is_file()
                        and not set(p.relative_to(SOURCE).parts) & SKIPPED)


def package(out):
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files():
            info = zipfile.ZipInfo.from_file(path, path.relative_to(SOURCE).as_posix())
            info.external_attr = (0o755 if path.name in ("setup.sh", "run_autograder") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
            count += 1
    print(f"wrote {out} ({count} files, {out.stat().st_size / 1e6:.1f} MB): upload it as the autograder on Gradescope")
    return out
