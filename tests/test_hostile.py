"""Issue 6: hostile and broken submissions, graded end to end through run_autograder.

Each case is the reference's five graded files overlaid with the files of tests/corpus/hostile/<case>/
(case.yaml says which graded file is hostile), or a submission built by a function of this module
(the cases about the upload itself: zips with '../' or absolute paths, links, a zip bomb). Every case
is graded by `run_autograder` in a Gradescope-like root with a config whose time limits are lowered,
and must leave:
  1. a valid results.json;
  2. exactly the honest files' points (config.yaml's total less the hostile files' points): the hostile
     files earn nothing and the honest ones keep everything;
  3. no secret in results.json: no check source, no golden checksum or golden value, no line of the
     reference solution (unless the submission itself holds that line);
  4. a grading that ended within its time limits;
  5. no process of the worker's user alive;
  6. nothing changed outside the grading's scratch space (the source tree, the results folder, canary
     files in /tmp and /root, the world-writable folders).
The machine-state helpers (process tracker, tree snapshots, world-writable folders) are in
support/machine.py, the leak detector in support/secrets.py.
Needs root: the worker runs as its own user (`python -m autograder install-user`).
"""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

SOURCE = Path(__file__).resolve().parent.parent
from autograder.results import SCHEMA  # noqa: E402

REFERENCE = SOURCE / "reference"
CORPUS = SOURCE / "tests" / "corpus" / "hostile"
from autograder.selfcheck.surface import GRADED_FILES  # noqa: E402
WORKER_USER = "gradeworker"

TEST_TIMEOUT_S = 8             # every test of the test config ...
TRAINING_TIMEOUT_S = 15        # ... but the training runs (3 s on an idle 2-core machine)
STARTUP_TIMEOUT_S = 20        # the worker starts in 1-2 s; a hang at import costs this much
MARGIN_S = 30                  # the judge's own start, goldens, hypothesis, the results file

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the worker as its own user")


# --- the test config ---------------------------------------------------------------------------------

def base_config():
    return yaml.safe_load((SOURCE / "autograder" / "config.yaml").read_text())


def lowered(config):
    config = json.loads(json.dumps(config))
    for t in config["tests"]:
        cap = TRAINING_TIMEOUT_S if t["check"].startswith("checks.training") else TEST_TIMEOUT_S
        t["timeout_s"] = min(t["timeout_s"], cap)
    config["limits"]["startup_timeout_s"] = STARTUP_TIMEOUT_S
    return config


CONFIG = lowered(base_config())
POINTS = {f: sum(t["points"] for t in CONFIG["tests"] if t["file"] == f) for f in GRADED_FILES}
TOTAL = sum(t["points"] for t in CONFIG["tests"])
# Every test may time out, and a worker that hangs at import costs a start-up time limit before the
# worker is started again without that file.
TIME_LIMIT_S = sum(t["timeout_s"] for t in CONFIG["tests"]) + 2 * STARTUP_TIMEOUT_S + MARGIN_S


def test_config_keeps_the_points():
    assert TOTAL == 100
    assert [t["points"] for t in CONFIG["tests"]] == [t["points"] for t in base_config()["tests"]]


from support.machine import (canary_state, diff, gradescope_root, kill_processes,  # noqa: E402,F401
                             machine, new_shared_entries, remove, scratch_parent, settled_worker_processes,
                             shared_listing, tree_snapshot)
from support.secrets import leaks, secrets  # noqa: E402


# --- the cases --------------------------------------------------------------------------------------

def reference_file(graded):
    return (REFERENCE / graded).read_bytes()


def write_reference(folder, skip=()):
    for graded in GRADED_FILES:
        if graded not in skip:
            target = folder / graded
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(reference_file(graded))


def zip_members(archive, members):
    """members: (ZipInfo or name, bytes)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in members:
            if isinstance(info, str):
                info = zipfile.ZipInfo(info, date_time=(2024, 1, 1, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


def symlink_info(name, target):
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    info.create_system = 3   # unix
    return info, target.encode()


def build_zip_paths(submission):
    """Members whose paths leave the folder: '../' (one of them a second utils.py), absolute paths, a
    backslash path and a drive letter. utils.py is only there under such paths (refused)."""
    members = [(g, reference_file(g)) for g in GRADED_FILES if g != "utils.py"]
    members += [("../utils.py", reference_file("utils.py")),
                ("/utils.py", reference_file("utils.py")),
                ("models/../../utils.py", reference_file("utils.py")),
                ("../escaped_hostile.py", b"print('escaped')\n"),
                ("../../../../../../tmp/hostile_escape_traversal.txt", b"escaped\n"),
                ("/tmp/hostile_escape_absolute.txt", b"escaped\n"),
                ("/work/main/autograder/checks/utils.py", b"FORGED = True\n"),
                ("..\\hostile_escape_backslash.py", b"escaped\n"),
                ("C:/hostile_escape_drive.py", b"escaped\n")]
    zip_members(submission / "submission.zip", members)


def build_zip_symlink(submission):
    """utils.py and models/vae.py as links to the reference solution; a link to the goldens."""
    members = [(g, reference_file(g)) for g in GRADED_FILES if g not in ("utils.py", "models/vae.py")]
    members += [symlink_info("utils.py", str(REFERENCE / "utils.py")),
                symlink_info("models/vae.py", "../../../../../../" + str(REFERENCE / "models" / "vae.py")),
                symlink_info("goldens", str(SOURCE / "autograder" / "goldens")),
                symlink_info("manifest.py", str(SOURCE / "autograder" / "goldens" / "manifest.json"))]
    zip_members(submission / "submission.zip", members)


def build_zip_bomb(submission):
    """A member that expands to 1.1 GB of zeros (about 1 MB compressed), beside the five files."""
    archive = submission / "submission.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for g in GRADED_FILES:
            z.writestr(g, reference_file(g))
        chunk = bytes(1 << 24)
        with z.open("data/bomb.bin", "w", force_zip64=True) as member:
            for _ in range(int(1.1 * (1 << 30)) // len(chunk) + 1):
                member.write(chunk)
    assert archive.stat().st_size < 8 << 20


def build_folder_links_and_big_file(submission):
    """A folder upload (what Gradescope unpacks) where utils.py links to the reference, models/ links
    to the reference's models, goldens links to the goldens, and diffusion.py is 2 MB (the cap of a
    graded file is 1 MB)."""
    write_reference(submission, skip=("utils.py", "models/vae.py", "models/gan.py"))
    (submission / "utils.py").symlink_to(REFERENCE / "utils.py")
    (submission / "models").symlink_to(REFERENCE / "models", target_is_directory=True)
    (submission / "goldens").symlink_to(SOURCE / "autograder" / "goldens", target_is_directory=True)
    (submission / "diffusion.py").write_bytes(reference_file("diffusion.py") + b"\n" + (b"#" * 1023 + b"\n") * 2048)


GENERATED = {
    "zip_paths": (build_zip_paths, {
        "description": "a zip whose members climb out with '../', or have absolute, backslash or drive-letter "
                       "paths (into /tmp, /work/main/autograder/checks); utils.py exists only under such paths",
        "hostile_file": "utils.py"}),
    "zip_symlink": (build_zip_symlink, {
        "description": "a zip whose utils.py and models/vae.py are symlinks to the reference, plus links to the goldens",
        "hostile_file": ["utils.py", "models/vae.py"]}),
    "zip_bomb": (build_zip_bomb, {
        "description": "a zip with a member expanding to 1.1 GB: refused as a whole, quickly, without unpacking",
        "hostile_file": "all"}),
    "folder_links_big_file": (build_folder_links_and_big_file, {
        "description": "a folder upload whose utils.py and models/ are symlinks into the reference solution, "
                       "and whose diffusion.py is 2 MB: all three refused, ewc.py graded",
        "hostile_file": ["utils.py", "models/vae.py", "models/gan.py", "diffusion.py"]}),
}


def folder_cases():
    return sorted(p.name for p in CORPUS.iterdir() if (p / "case.yaml").is_file()) if CORPUS.is_dir() else []


def case_params():
    return [pytest.param(name, id=name) for name in folder_cases() + sorted(GENERATED)]


def load_case(name):
    if name in GENERATED:
        return dict(GENERATED[name][1])
    case = yaml.safe_load((CORPUS / name / "case.yaml").read_text())
    assert "description" in case and "hostile_file" in case, f"{name}/case.yaml needs description and hostile_file"
    return case


def hostile_files(case):
    hostile = case["hostile_file"]
    if hostile is None:
        return []
    if hostile == "all":
        return list(GRADED_FILES)
    hostile = [hostile] if isinstance(hostile, str) else list(hostile)
    assert set(hostile) <= set(GRADED_FILES), hostile
    return hostile


def build_submission(name, submission):
    """The submission folder of a case: generated, or the reference's files overlaid with the case's."""
    submission.mkdir(parents=True)
    if name in GENERATED:
        GENERATED[name][0](submission)
        return
    case = load_case(name)
    files = submission / "homework" if case.get("zip") else submission
    write_reference(files)
    folder = CORPUS / name
    for path in folder.rglob("*"):
        if path.is_file() and path.name != "case.yaml" and "__pycache__" not in path.parts:
            target = files / path.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    if case.get("zip"):   # zip: true - upload a zip of one folder holding the files
        zip_members(submission / "submission.zip",
                    [(p.relative_to(submission).as_posix(), p.read_bytes()) for p in sorted(files.rglob("*")) if p.is_file()])
        shutil.rmtree(files)


def submitted_text(submission):
    """All text the submission itself holds (a line it contains may appear in its feedback)."""
    chunks = []
    for path in submission.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 4 << 20:
            data = path.read_bytes()
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as z:
                    data = b"\n".join(z.read(i) for i in z.infolist()
                                      if i.file_size < 4 << 20 and not stat.S_ISLNK(i.external_attr >> 16))
            chunks.append(data.decode("utf-8", "replace"))
    return "\n".join(chunks)


def test_leak_detector_sees_each_kind_of_secret():
    s = secrets()
    assert s["solution"] and s["checks"] and s["hashes"] and s["numbers"]
    planted = "\n".join([sorted(s["solution"])[0], sorted(s["checks"])[0], sorted(s["hashes"])[0],
                          "x = " + sorted(s["numbers"])[0]])
    kinds = {leak.split(" ")[0] + " " + leak.split(" ")[1] for leak in leaks(planted, submitted="")}
    assert kinds == {"reference solution", "check source", "golden checksum", "golden value"}, kinds
    # A line the submission itself holds is its own (only the checksums are secret whatever the submission says).
    assert [leak.split(" ")[1] for leak in leaks(planted, submitted=planted)] == ["checksum"]


def test_corpus_is_well_formed():
    names = folder_cases()
    assert len(names) + len(GENERATED) >= 22
    for name in names:
        case = load_case(name)
        hostile_files(case)
        files = [p.relative_to(CORPUS / name).as_posix() for p in (CORPUS / name).rglob("*") if p.is_file()]
        assert set(files) - {"case.yaml"} <= set(GRADED_FILES), (name, files)
        assert set(case) <= {"description", "hostile_file", "zip", "charged", "listen", "max_rss_mb"}, (name, sorted(case))


# --- the test ---------------------------------------------------------------------------------------

class Listeners:
    """UDP and TCP sockets on 127.0.0.1 (the ports network_exfiltrate sends to): what reached them."""

    PORTS = {"udp": 48613, "tcp": 48614}

    def __init__(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp.bind(("127.0.0.1", self.PORTS["udp"]))   # a second test run at the same moment: fails loudly
        self.tcp.bind(("127.0.0.1", self.PORTS["tcp"]))
        self.tcp.listen(8)
        for sock in (self.udp, self.tcp):
            sock.setblocking(False)

    def received(self):
        found = []
        try:
            found.append(f"{len(self.udp.recv(1 << 16))} bytes by UDP")
        except BlockingIOError:
            pass
        try:
            self.tcp.accept()
            found.append("a TCP connection")
        except BlockingIOError:
            pass
        self.udp.close()
        self.tcp.close()
        return found


def slot_user(log):
    """The uid of the worker user this grading's log says it used, or None (any worker user's)."""
    import pwd
    import re
    found = re.search(r"grade: worker slot \d+, user (\S+)", log)
    try:
        return pwd.getpwnam(found.group(1)).pw_uid if found else None
    except KeyError:
        return None


def run_grader(root, config_path, scratch_parent, limit):
    """run_autograder as Gradescope runs it; the judge's scratch folders go under scratch_parent."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOGRADER_", "PYTEST_"))}
    env.update(AUTOGRADER_ROOT=str(root), AUTOGRADER_CONFIG=str(config_path), AUTOGRADER_SCRATCH=str(scratch_parent),
               TMPDIR=str(scratch_parent))
    (root / "source").symlink_to(SOURCE)                       # Gradescope's /autograder/source
    shutil.copy2(SOURCE / "run_autograder", root / "run_autograder")   # ... and the copy it runs, from root
    process = subprocess.Popen([str(root / "run_autograder")], cwd=root, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    started, output = time.monotonic(), []
    reader = threading.Thread(target=lambda: output.append(process.stdout.read()), daemon=True)
    reader.start()
    reader.join(limit)
    if reader.is_alive():
        os.killpg(process.pid, signal.SIGKILL)
        reader.join()
        pytest.fail(f"grading did not end within {limit:.0f} s:\n{output[0].decode(errors='replace')[-3000:]}")
    _, status, usage = os.wait4(process.pid, 0)   # reaped here: its rusage covers the judge and its workers
    process.returncode = os.waitstatus_to_exitcode(status)
    return (time.monotonic() - started, process.returncode, output[0].decode(errors="replace"),
            usage.ru_maxrss / 1024)


@pytest.mark.parametrize("name", case_params())
def test_hostile_submission(name, tmp_path, machine, scratch_parent, gradescope_root):
    case = load_case(name)
    hostile = hostile_files(case)
    honest_points = TOTAL - sum(POINTS[f] for f in hostile)

    root = gradescope_root
    build_submission(name, root / "submission")
    (root / "submission").chmod(0o700)    # it holds the reference's files: not for the worker's eyes
    (root / "results").mkdir(parents=True)
    (root / "results" / "keep.txt").write_text("the grader may only write results.json here\n")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(CONFIG))
    submitted = submitted_text(root / "submission")

    shared_before, canaries_before = shared_listing(), canary_state()
    results_before = tree_snapshot(root / "results")

    since, log = time.time(), ""
    listening = Listeners() if case.get("listen") else None
    try:
        elapsed, status, log, peak_mb = run_grader(root, config_path, scratch_parent, TIME_LIMIT_S)
    finally:
        uid = slot_user(log)
        alive = settled_worker_processes(scratch_parent, since, uid=uid)
        kill_processes(scratch_parent, since, uid=uid)

    problems = []
    if status != 0:
        problems.append(f"run_autograder exited with status {status}")
    # 1. a valid results.json
    results_path = root / "results" / "results.json"
    text = results_path.read_text()
    results = json.loads(text)
    jsonschema.validate(results, SCHEMA)
    assert len(results["tests"]) == len(CONFIG["tests"]), results["output"]
    score = results["score"]
    summary = "\n".join(f"{t['number']} {t['score']}/{t['max_score']}: {t['output'][:300]!r}" for t in results["tests"])
    # 2. the honest parts only, and all of them
    if score > honest_points + 1e-6:
        problems.append(f"score {score} > {honest_points:g} ({TOTAL:g} minus the points of {hostile}): hostile files earned points")
    if score < honest_points - 1e-6:
        problems.append(f"score {score} < {honest_points:g} ({TOTAL:g} minus the points of {hostile}): honest files lost points")
    if abs(score - sum(t["score"] for t in results["tests"])) > 1e-3:
        problems.append("the score is not the sum of the tests' scores")
    flagged = [t["number"] for t in results["tests"] if (t.get("extra_data") or {}).get("grader_failure")]
    if case.get("charged") and flagged:
        problems.append(f"tests flagged as the grader's failure, not charged to the submission: {flagged}")
    if case.get("max_rss_mb") and peak_mb > case["max_rss_mb"]:
        problems.append(f"the grading's largest process held {peak_mb:.0f} MB > {case['max_rss_mb']} MB")
    # 3. nothing secret, here or on the network
    problems += [f"results.json leaks a {what}" for what in leaks(text, submitted)]
    if listening is not None:
        problems += [f"the network received {what}" for what in listening.received()]
    # 4. within the time limits
    if elapsed > TIME_LIMIT_S:
        problems.append(f"grading took {elapsed:.0f} s > {TIME_LIMIT_S} s")
    # 5. no process of the worker's user
    if alive:
        problems.append(f"processes of the worker's user alive after grading: {list(alive.values())[:5]}")
    # 6. nothing changed outside the scratch space
    source_after = tree_snapshot(SOURCE)
    changed = diff(machine["source"], source_after)
    machine["source"] = source_after
    if changed:
        problems.append(f"files of the source tree changed: {changed[:10]}")
    results_after = tree_snapshot(root / "results")
    extra = [p for p in diff(results_before, results_after) if p != str(results_path)]
    if extra:
        problems.append(f"the results folder changed beyond results.json: {extra}")
    if canary_state() != canaries_before:
        problems.append("a canary file changed")
    appeared = new_shared_entries(shared_before, shared_listing(), uid)
    if appeared:
        problems.append(f"new entries in the world-writable folders: {appeared[:10]}")
        remove(appeared)
    left = sorted(p.name for p in scratch_parent.iterdir())
    if left:
        problems.append(f"the judge's scratch space was not removed: {left}")
    assert not problems, (f"{name}: " + "\n".join(problems) + f"\n--- score {score} in {elapsed:.1f} s\n{summary}"
                          + f"\n--- grader log\n{log if len(log) < 5000 else log[:2500] + ' [...] ' + log[-2500:]}")
