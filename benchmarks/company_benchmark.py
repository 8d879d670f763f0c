"""A grading is never disturbed by what runs beside it (issue 23): the figures the README records (as root).

    .venv/bin/python benchmarks/company_benchmark.py [--gradings 50] [--jobs 4] [--regrade 20] [--quick]

1. Alone: grade a fixed set of submissions one at a time (the reference, wrong submissions built from the
   accuracy corpus, hostile ones from tests/corpus/hostile graded with test_hostile.py's lowered config),
   and record each test's score and message (results.json with its timings removed).
2. In company: start at once, in the background, the hostile and fault tests (`pytest`; with --quick a
   subset), a regrade of copies of the set (`python -m autograder regrade`) and CPU-burning busy loops;
   while they run, grade the set again, GRADINGS gradings in all, JOBS at a time, each through a
   `python -m autograder grade` subprocess.
3. Print how many gradings were disturbed (any score or message differs from the same grading alone),
   how many tests were charged to the student that alone were not, how many were flagged as the
   grader's failure, the load average, the wall times, and whether the background tests passed.

Everything it starts runs in a process group of its own, with TMPDIR and $AUTOGRADER_SCRATCH under this
benchmark's own temporary root; at the end it stops those groups (only those) and removes the root.
Prints figures; asserts nothing; exits 0.
"""
import argparse
import csv
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from common import PYTHON, REPO, copy_graded

sys.path.insert(0, str(REPO / "tests" / "corpus" / "accuracy"))
from apply import load_variants, replace_region  # noqa: E402
from autograder.results import grader_failures  # noqa: E402

# Each wrong submission combines variants of the accuracy corpus that edit different graded files, so
# that together they reach the statistical, gradient, training and raised-error paths of the judge.
WRONG = {
    "wrong_sampler_vae": ["std_for_variance", "vae_sum_over_batch"],
    "wrong_gan_posterior": ["d_loss_real_fake_swapped", "posterior_handout_typo_sqrt_ab_prev"],
    "wrong_fisher_marginal": ["fisher_train_mode", "marginal_alpha_bar_off_by_one"],   # IndexError at t = T
}
# Graded with test_hostile.py's config (8 s a test): sleeps that must not run out of time under load, and a
# loop that must be stopped by its own time limit whatever the load.
HOSTILE = ["slow_but_correct", "infinite_loop_call"]
QUICK_TESTS = ("slow_but_correct or infinite_loop_call or litter_tmp or scratch_folder_deleted "
               "or killed_once or exit_the_submission or slots_are_exclusive")
BLAMING = ("Your code", "your submission")   # how the grader's messages that charge the student begin
GRADING_TIMEOUT_S = 1800                     # a grading waits for a free worker slot, then has its budget
BACKGROUND_TIMEOUT_S = 3600                  # after the measured gradings, for the test run and the regrade


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gradings", type=int, help="gradings in company, in all (default 50; 12 with --quick)")
    parser.add_argument("--jobs", type=int, default=4, help="of them at once (default 4)")
    parser.add_argument("--regrade", type=int, help="submissions the background regrade grades (default 20; 10 with --quick)")
    parser.add_argument("--hogs", type=int, default=2, help="CPU-burning processes (default 2)")
    parser.add_argument("--keep", action="store_true", help="leave the temporary root (logs, results files) and say where")
    parser.add_argument("--quick", action="store_true",
                        help=f"a subset of the hostile and fault tests (-k '{QUICK_TESTS}') and fewer gradings")
    args = parser.parse_args(argv)
    if args.gradings is None:
        args.gradings = 12 if args.quick else 50
    if args.regrade is None:
        args.regrade = 10 if args.quick else 20
    if min(args.gradings, args.jobs, args.regrade) < 1 or args.hogs < 0:
        parser.error("--gradings, --jobs and --regrade must be at least 1, --hogs at least 0")
    return args


# --- comparing a grading with the same grading alone -------------------------------------------------------

def timing_removed(value):
    """results.json without its `execution_time` entries (the only part that may differ between runs)."""
    if isinstance(value, dict):
        return {k: timing_removed(v) for k, v in value.items() if k != "execution_time"}
    if isinstance(value, list):
        return [timing_removed(v) for v in value]
    return value


def blames_student(output):
    return output.startswith(BLAMING)


def flagged(test):
    return bool(test.get("extra_data", {}).get("grader_failure"))


def differing_tests(alone, company):
    """[(number, alone test or None, company test)] of the tests whose score, message or flags differ."""
    before = {t["number"]: t for t in alone["tests"]}
    return [(t["number"], before.get(t["number"]), t) for t in company["tests"]
            if timing_removed(before.get(t["number"])) != timing_removed(t)]


def charged_tests(alone, company):
    """Numbers of the tests that `company` charges to the student and `alone` did not: they differ, are not
    flagged as the grader's failure, and lost points or blame the code with another message."""
    return [number for number, old, new in differing_tests(alone, company)
            if old is not None and not flagged(new)
            and (new["score"] < old["score"] or (blames_student(new["output"]) and new["output"] != old["output"]))]


def summarize(alone, company):
    """alone: {submission: results}; company: [(submission, results or None)] (None: no results file).
    Returns the counts the benchmark prints, and up to 5 examples of differing tests (one per test of a submission)."""
    summary = {"gradings": len(company), "disturbed": 0, "no_results": 0, "charged_tests": 0,
               "charged_gradings": 0, "flagged_tests": 0, "flagged_gradings": 0, "examples": [],
               "by_submission": {name: 0 for name in alone}, "disturbed_by_submission": {name: 0 for name in alone}}
    for name, results in company:
        summary["by_submission"][name] += 1
        disturbed = results is None or timing_removed(results) != timing_removed(alone[name])
        summary["disturbed"] += disturbed
        summary["disturbed_by_submission"][name] += disturbed
        if results is None:
            summary["no_results"] += 1
            continue
        charged = charged_tests(alone[name], results)
        summary["charged_tests"] += len(charged)
        summary["charged_gradings"] += bool(charged)
        failed = grader_failures(results)
        summary["flagged_tests"] += len(failed)
        summary["flagged_gradings"] += bool(failed or results.get("extra_data", {}).get("grader_failure"))
        for number, old, new in differing_tests(alone[name], results):
            shown = {(s, n) for s, n, _, _ in summary["examples"]}
            if len(summary["examples"]) < 5 and (name, number) not in shown:   # one example per test of a submission
                summary["examples"].append((name, number, old, new))
    return summary


# --- running things, each in a process group of its own ------------------------------------------------

class Children:
    """The processes this benchmark started (their groups), so that it stops those and nothing else."""

    def __init__(self):
        self._running, self._lock, self._closed = set(), threading.Lock(), False

    def start(self, command, log, env):
        with self._lock, open(log, "wb") as out:
            if self._closed:   # stopping: a grading thread still starting one must not outlive the benchmark
                raise RuntimeError("the benchmark is stopping")
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            self._running.add(process)
        return process

    def wait(self, process, timeout):
        """The exit status, or None when it ran past `timeout` and was stopped."""
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(process)
            return None
        finally:
            with self._lock:
                self._running.discard(process)

    def stop(self, process, first=signal.SIGTERM, grace_s=30):
        """`first` to its group (SIGINT lets pytest remove its own folders), SIGKILL after `grace_s`."""
        if process.poll() is None:
            for sig, wait_s in ((first, grace_s), (signal.SIGKILL, None)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(wait_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
        with self._lock:
            self._running.discard(process)

    def stop_all(self):
        with self._lock:
            self._closed = True
        for process in list(self._running):
            self.stop(process, grace_s=10)


@dataclass
class Grading:
    submission: str
    results: dict = None
    wall_s: float = 0.0
    status: int = None
    ended: float = 0.0


def grade(children, env, submission, folder, config, results, log):
    command = [PYTHON, "-m", "autograder", "grade", str(folder), "--results", str(results)]
    if config:
        command += ["--config", str(config)]
    started = time.monotonic()
    status = children.wait(children.start(command, log, env), GRADING_TIMEOUT_S)
    try:
        outcome = json.loads(Path(results).read_text())
    except (OSError, ValueError):
        outcome = None
    return Grading(submission, outcome, time.monotonic() - started, status, time.monotonic())


class Watch(threading.Thread):
    """While the background runs: the 1-minute load average every 5 s, and when each background process ended."""

    def __init__(self, background):
        super().__init__(daemon=True)
        self.background, self.began = background, time.monotonic()   # background: {label: Popen}
        self.load, self.ended, self._done = [], {}, threading.Event()

    def run(self):
        tick = 0
        while not self._done.wait(1):
            for label, process in self.background.items():
                if label not in self.ended and process.poll() is not None:
                    self.ended[label] = time.monotonic()
            tick += 1
            if tick % 5 == 0:
                self.load.append(os.getloadavg()[0])

    def wait(self, timeout):
        """Until every background process has ended, or `timeout` s."""
        deadline = time.monotonic() + timeout
        while len(self.ended) < len(self.background) and time.monotonic() < deadline:
            time.sleep(1)

    def stop(self):
        self._done.set()
        self.join()


# --- the submissions --------------------------------------------------------------------------------

def build_submissions(tmp):
    """{name: (folder, config or None)}: the fixed set graded alone and in company."""
    variants = {v["name"]: v for v in load_variants(REPO / "tests" / "corpus" / "accuracy")}
    built = {"reference": (copy_graded(REPO / "reference", tmp / "submissions" / "reference"), None)}
    for name, combined in WRONG.items():
        folder = copy_graded(REPO / "reference", tmp / "submissions" / name)
        for variant in map(variants.__getitem__, combined):
            target = folder / variant["file"]
            target.write_text(replace_region(target.read_text(), variant["function"], variant["code"]))
        built[name] = (folder, None)
    sys.path.insert(0, str(REPO / "tests"))
    import test_hostile   # the hostile cases are built, and their config lowered, in one place
    config = tmp / "hostile-config.yaml"
    config.write_text(yaml.safe_dump(test_hostile.CONFIG))
    for name in HOSTILE:
        test_hostile.build_submission(name, tmp / "submissions" / name)
        built[name] = (tmp / "submissions" / name, config)
    return built


def regrade_folder(tmp, submissions, count):
    """`count` copies of the set (those graded with the default config), named NAME-K."""
    plain = [name for name, (_, config) in submissions.items() if config is None]
    folder = tmp / "regrade"
    for k in range(count):
        name = plain[k % len(plain)]
        copy_graded(submissions[name][0], folder / f"{name}-{k:02d}")
    return folder


def regrade_figures(out, alone):
    """(rows, rows whose score differs from the same submission alone, rows flagged as the grader's failure)."""
    path = out / "scores.csv"
    if not path.exists():
        return 0, 0, 0
    rows = list(csv.DictReader(path.open()))
    differ = sum(abs(float(r["score"]) - alone[r["submission"].rsplit("-", 1)[0]]["score"]) > 0.005 for r in rows)
    return len(rows), differ, sum(r["grader_failure"] == "yes" for r in rows)


# --- the benchmark ----------------------------------------------------------------------------------

def figures(walls):
    return f"median {statistics.median(walls):.1f} s, max {max(walls):.1f} s" if walls else "none"


def first_line(text, width=160):
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line[:width] + ("..." if len(line) > width else "")


def pytest_summary(log):
    """(its last line, its FAILED/ERROR lines, the first lines of its assertion errors)."""
    lines = Path(log).read_text(errors="replace").strip().splitlines()
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    errors = [line for line in lines if line.startswith("E   ")]
    return (lines[-1] if lines else "(no output)"), failed, errors[:8]


def regrade_reasons(log):
    """The distinct reasons the regrade's gradings gave for the grader's failures (they log each one)."""
    marker = "reported as the grader's failure: "
    lines = Path(log).read_text(errors="replace").splitlines()
    return sorted({line.split(marker, 1)[1] for line in lines if marker in line})


def report(args, summary, alone_walls, company, measured_s, watch, regrade, pytest_lines):
    ended = {label: watch.ended.get(label) for label in watch.background}
    print(f"3. {summary['gradings']} gradings in company ({os.cpu_count()} CPUs):")
    print(f"   disturbed (score or any message differs from the same grading alone): {summary['disturbed']}"
          + (f" ({summary['no_results']} without a results file)" if summary["no_results"] else ""))
    for name, count in summary["disturbed_by_submission"].items():
        print(f"     {name}: {count} of {summary['by_submission'][name]}")
    print(f"   tests charged to the student that alone were not (lost points or a changed 'Your code...' "
          f"message, not flagged): {summary['charged_tests']} in {summary['charged_gradings']} gradings")
    print(f"   tests flagged as the grader's failure: {summary['flagged_tests']} in {summary['flagged_gradings']} gradings")
    for name, number, old, new in summary["examples"]:
        print(f"     e.g. {name} test {number}: alone {old and old['score']} {first_line(old and old['output'])!r}"
              f" / in company {new['score']} {first_line(new['output'])!r}")
    load = watch.load or [os.getloadavg()[0]]
    print(f"   load average (1 min) while they ran: mean {statistics.mean(load):.1f}, max {max(load):.1f}")
    print(f"   wall: a grading alone {figures(alone_walls)}; in company {figures([g.wall_s for g in company])}; "
          f"all {args.gradings} in {measured_s:.0f} s")
    beside = {label: sum(end is None or g.ended <= end for g in company) for label, end in ended.items()}
    print(f"   {beside['pytest']} of them ended while the test run was still going, {beside['regrade']} while the regrade was")
    status = {label: process.returncode for label, process in watch.background.items()}
    took = {label: f"{end - watch.began:.0f} s" if end else "stopped at the timeout" for label, end in ended.items()}
    last, failed, errors = pytest_lines
    verdict = "passed" if status["pytest"] == 0 else "FAILED"
    print(f"   background pytest: {verdict} (exit {status['pytest']}, {took['pytest']}): {last}")
    for line in failed[:10] + errors:
        print(f"     {line[:200]}")
    rows, differ, flagged_rows, reasons = regrade
    print(f"   background regrade: exit {status['regrade']} ({took['regrade']}), {rows} of {args.regrade} rows, "
          f"{differ} scores differ from the same submission alone, {flagged_rows} flagged as the grader's failure")
    for reason in reasons[:3]:
        print(f"     the grader's failure: {reason[:200]}")


def main(argv=None):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("note: not root: the workers run as this user and test_hostile.py skips its cases")
    tmp = Path(tempfile.mkdtemp(prefix="company-benchmark-"))
    tmp.chmod(0o711)   # the workers' users pass through to their scratch folders, and list nothing
    (tmp / "tmp").mkdir(mode=0o711)
    (tmp / "logs").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOGRADER_", "PYTEST_"))}
    env.update(TMPDIR=str(tmp / "tmp"), AUTOGRADER_SCRATCH=str(tmp / "gradings"))
    pytest_env = {k: v for k, v in env.items() if k != "AUTOGRADER_SCRATCH"}   # conftest.py makes its own
    children = Children()
    previous_sigterm = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # so that `finally` runs
    try:
        submissions = build_submissions(tmp)
        results = tmp / "results"
        results.mkdir()

        print(f"1. alone: {len(submissions)} submissions, one at a time", flush=True)
        alone, alone_walls = {}, []
        for name, (folder, config) in submissions.items():
            g = grade(children, env, name, folder, config, results / f"{name}-alone.json", tmp / "logs" / f"{name}-alone.log")
            if g.results is None:
                print(f"   {name}: no results file alone (exit {g.status}): nothing to compare with; stopping")
                return 0
            alone[name] = g.results
            alone_walls.append(g.wall_s)
            failed = grader_failures(g.results)
            print(f"   {name}: {g.results['score']:.2f} / 100, {g.wall_s:.1f} s"
                  + (f"; the grader's failure alone in {failed}" if failed else ""), flush=True)

        tests = ["tests/test_hostile.py", "tests/test_faults.py"] + (["-k", QUICK_TESTS] if args.quick else [])
        print(f"2. in company: pytest -q {' '.join(tests)}; regrade of {args.regrade} submissions (--jobs 2); "
              f"{args.hogs} busy loops; {args.gradings} gradings, {args.jobs} at a time", flush=True)
        regrade_out = tmp / "regrade-out"
        regrade_in = regrade_folder(tmp, submissions, args.regrade)
        background = {
            "pytest": children.start([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                                     tmp / "logs" / "pytest.log", pytest_env),
            "regrade": children.start([PYTHON, "-m", "autograder", "regrade", str(regrade_in), "--jobs", "2",
                                       "--out", str(regrade_out)], tmp / "logs" / "regrade.log", env)}
        hogs = [children.start([PYTHON, "-c", "while True: pass"], os.devnull, env) for _ in range(args.hogs)]
        watch = Watch(background)
        watch.start()
        order = [list(submissions)[k % len(submissions)] for k in range(args.gradings)]

        def company_grading(k):
            name = order[k]
            folder, config = submissions[name]
            return grade(children, env, name, folder, config, results / f"{name}-{k:03d}.json",
                         tmp / "logs" / f"{name}-{k:03d}.log")

        pool = ThreadPoolExecutor(args.jobs)
        try:
            company = list(pool.map(company_grading, range(args.gradings)))
        finally:   # interrupted: the outer `finally` stops the gradings these threads wait for
            pool.shutdown(wait=False, cancel_futures=True)
        measured_s = time.monotonic() - watch.began
        for hog in hogs:
            children.stop(hog, first=signal.SIGKILL)
        watch.wait(BACKGROUND_TIMEOUT_S)
        watch.stop()
        for label, process in background.items():   # past the timeout: stopped (SIGINT lets pytest clean up)
            children.stop(process, first=signal.SIGINT if label == "pytest" else signal.SIGTERM)
        report(args, summarize(alone, [(g.submission, g.results) for g in company]), alone_walls, company,
               measured_s, watch, (*regrade_figures(regrade_out, alone), regrade_reasons(tmp / "logs" / "regrade.log")),
               pytest_summary(tmp / "logs" / "pytest.log"))
        return 0
    finally:
        children.stop_all()
        signal.signal(signal.SIGTERM, previous_sigterm)
        if args.keep:
            print(f"kept: {tmp} (logs/, results/; remove it with rm -rf)")
        else:
            subprocess.run(["rm", "-rf", "--one-file-system", str(tmp)])


if __name__ == "__main__":
    sys.exit(main())
