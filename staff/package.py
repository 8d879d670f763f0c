"""Build the zip course staff upload to Gradescope: python -m staff package [--out FILE] [--allow-dirty]

It holds what grading needs and nothing more: setup.sh, run_autograder, the requirements, the
grader (`autograder/`: judge, checks, goldens, config, worker), the handout the submissions are
laid over, and `autograder/version.json` (the commit, whether uncommitted edits were in it, the build
time, the pins), which every results.json then names. Not the reference solution (the goldens carry
what the checks need from it), not the project's tests, not these staff tools. setup.sh and
run_autograder are stored as executable.

It refuses (PackageRefused; nothing is written to --out) a package that cannot grade, checking in
this order: uncommitted changes (unless allow_dirty), a config.yaml that does not validate, a handout
or goldens that no longer match reference/ (and numeric.py's recomputations that disagree with the
reference's helpers), and finally, graded by the very zip it is about to ship (extracted, through
`python -m autograder grade` as run_autograder calls it), a reference that does not get full marks
on every test or a handout that does not get 0 with "not written yet" on every test.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from autograder import version
from autograder.selfcheck.surface import GRADED_FILES
from staff import REPO

INCLUDED = version.SHIPPED
EXECUTABLE = {"setup.sh", "run_autograder"}
SKIPPED = {"__pycache__", ".pytest_cache", ".hypothesis", "data", "runs"}
VERSION_MEMBER = version.VERSION_FILE.relative_to(version.SOURCE).as_posix()


class PackageRefused(Exception):
    """The checkout is not fit to package; the message says what is wrong and what to run."""


def files():
    for name in INCLUDED:
        path = REPO / name
        if path.is_file():
            yield path
        else:
            yield from (p for p in sorted(path.rglob("*")) if p.is_file() and p != version.VERSION_FILE
                        and not set(p.relative_to(REPO).parts) & SKIPPED and p.suffix != ".pyc")


def check_tree(allow_dirty):
    """The version {'commit', 'dirty', 'uncommitted'} of the checkout; refused when it has uncommitted
    changes and allow_dirty is off (a package must be reproducible from its commit)."""
    try:
        changed = version.uncommitted()
        commit = version.from_git()["commit"]
    except (OSError, subprocess.SubprocessError) as error:
        if not allow_dirty:
            raise PackageRefused(f"cannot read the commit from git ({error}); package a git checkout, "
                                 "or pass --allow-dirty to package it as 'unknown'") from None
        return {"commit": "unknown", "dirty": True, "uncommitted": []}
    if changed and not allow_dirty:
        shown = "\n".join(f"  {path}" for path in changed[:20]) + ("\n  ..." if len(changed) > 20 else "")
        raise PackageRefused(f"the checkout has {len(changed)} uncommitted change(s); commit them first "
                             f"(or pass --allow-dirty, recorded in the package's version file):\n{shown}")
    return {"commit": commit, "dirty": bool(changed), "uncommitted": changed}


def check_config():
    """config.yaml must load as grading loads it: the same validation (autograder/config.py)."""
    import yaml
    from autograder.config import PATH, ConfigError, load_config
    try:
        load_config(PATH)
    except (ConfigError, yaml.YAMLError, OSError) as error:
        raise PackageRefused(f"autograder/config.yaml does not validate, so every grading would fail:\n  {error}") from None


def check_generated():
    """The committed handout and goldens must be what reference/ generates today, and numeric.py's
    recomputations must agree with the reference's helpers (goldens --check proves both)."""
    for verb in ("handout", "goldens"):
        result = subprocess.run([sys.executable, "-m", "staff", verb, "--check"], cwd=REPO,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise PackageRefused(f"`python -m staff {verb} --check` failed (regenerate with `python -m staff {verb}`, "
                                 f"or fix what it names):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def pins():
    """{package: version} of requirements.txt (the grader's exact pins)."""
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return dict(line.split("#")[0].strip().split("==", 1) for line in lines if "==" in line.split("#")[0])


def write_zip(out, built):
    count = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files():
            info = zipfile.ZipInfo.from_file(path, path.relative_to(REPO).as_posix())
            info.external_attr = (0o100755 if path.name in EXECUTABLE else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
            count += 1
        info = zipfile.ZipInfo(VERSION_MEMBER, date_time=datetime.now().timetuple()[:6])
        info.external_attr, info.compress_type = 0o100644 << 16, zipfile.ZIP_DEFLATED
        archive.writestr(info, json.dumps(built, indent=2, sort_keys=True) + "\n")
    return count + 1


def grade_with(source, upload, results_path):
    """Grade `upload` with the grader extracted at `source`, as run_autograder does; the results."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("AUTOGRADER_CONFIG", None)
    try:
        done = subprocess.run([sys.executable, "-B", "-m", "autograder", "grade", str(upload), "--results",
                               str(results_path)], cwd=source, env=env, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise PackageRefused(f"the packaged grader did not finish grading {Path(upload).name} in 900 s") from None
    try:
        return json.loads(Path(results_path).read_text())
    except (OSError, ValueError):
        raise PackageRefused(f"the packaged grader wrote no results file (exit status {done.returncode}):\n"
                             f"{done.stdout[-1500:]}{done.stderr[-1500:]}") from None


def grading_problems(what, outcome, expected_commit):
    """What is wrong with the packaged grader's results for the reference ('reference') or the
    untouched handout ('handout'); [] when they are what a working grader gives."""
    problems = []
    for t in outcome["tests"]:
        flagged = t.get("extra_data", {}).get("grader_failure")
        first_line = (t["output"].strip().splitlines() or [""])[0][:200]
        if flagged:
            problems.append(f"test {t['number']}: the grader failed: {first_line}")
        elif what == "reference" and t["score"] != t["max_score"]:
            problems.append(f"test {t['number']}: {t['score']:g} / {t['max_score']:g}: {first_line}")
        elif what == "handout" and (t["score"] != 0 or "not written yet" not in t["output"]):
            problems.append(f"test {t['number']}: {t['score']:g} / {t['max_score']:g}, "
                            f"not 0 with 'not written yet': {first_line}")
    if not outcome["tests"]:
        problems.append(f"no test was graded: {outcome['output'][:300]}")
    named = outcome.get("extra_data", {}).get("grader_version", {}).get("commit")
    if named != expected_commit:
        problems.append(f"results.json names grader commit {named!r}, not the packaged {expected_commit!r}")
    return problems


def check_grades(zip_path, commit):
    """Extract the zip and grade the reference and the untouched handout with it."""
    work = Path(tempfile.mkdtemp(prefix="staff-package-"))
    try:
        source = work / "source"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(source)
        for what, root in (("reference", REPO / "reference"), ("handout", REPO / "student_template")):
            upload = work / what
            for f in GRADED_FILES:
                (upload / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(root / f, upload / f)
            outcome = grade_with(source, upload, work / f"{what}.json")
            problems = grading_problems(what, outcome, commit)
            if problems:
                wanted = "full marks on every test" if what == "reference" else "0 with 'not written yet' on every test"
                raise PackageRefused(f"graded with this package, the {what} does not get {wanted} "
                                     f"({outcome['score']:g} / 100):\n" + "\n".join(f"  {p}" for p in problems))
            print(f"package: graded with the package, the {what} gets {outcome['score']:g} / 100", flush=True)
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=False)


def package(out, *, allow_dirty=False, grade=True):
    """Check the checkout, build the zip, grade with it; write `out` only when every check passed.
    grade=False skips grading with the zip (staff simulate grades with it anyway)."""
    tree = check_tree(allow_dirty)
    check_config()
    check_generated()
    built = {**tree, "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "pins": pins(),
             "built_by": "python -m staff package"}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}-", suffix=".partial")
    os.close(fd)
    try:
        count = write_zip(partial, built)
        if grade:
            check_grades(partial, built["commit"])
        os.replace(partial, out)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    print(f"wrote {out} ({count} files, {out.stat().st_size / 1e6:.1f} MB), grader {version.describe(built)}: "
          "upload it as the autograder on Gradescope")
    return out
