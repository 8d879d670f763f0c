"""Faults are never charged to students: the figures the README records (run as root).

    .venv/bin/python benchmarks/fault_benchmark.py [--parallel 4] [--repeats 20]

1. PARALLEL gradings of the reference at once on this machine (each takes its own worker slot): scores.
2. REPEATS gradings of one wrong submission (std_for_variance + vae_sum_over_batch from the accuracy
   corpus), two at a time: are the results identical (timing aside)?
3. The reference inside a memory cgroup too small for torch (200 MB): does any message blame the code?
4. A submission that loops forever in every graded function: time, validity of results.json.
Prints figures; asserts nothing.
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import GRADED_FILES, PYTHON, REPO, copy_graded

sys.path.insert(0, str(REPO / "tests" / "corpus" / "accuracy"))
from apply import apply_variant, load_variants  # noqa: E402
from autograder import cgroup  # noqa: E402


def grade(submission, results, limit=None):
    command = [PYTHON, "-m", "autograder", "grade", str(submission), "--results", str(results)]
    if limit is not None:
        command = ["sh", "-c", f'echo $$ > "{limit.path}/cgroup.procs" && exec "$@"', "sh", *command]
    started = time.monotonic()
    subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    return time.monotonic() - started, json.loads(Path(results).read_text())


def strip(outcome):
    return {k: v for k, v in outcome.items() if k != "execution_time"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fault-benchmark-"))
    try:
        reference = copy_graded(REPO / "reference", tmp / "reference")

        with ThreadPoolExecutor(args.parallel) as pool:
            outcomes = list(pool.map(lambda k: grade(reference, tmp / f"parallel{k}.json"), range(args.parallel)))
        print(f"1. {args.parallel} gradings of the reference at once: scores "
              f"{[o['score'] for _, o in outcomes]}, wall {max(w for w, _ in outcomes):.1f} s")

        corpus = {v["name"]: v for v in load_variants(REPO / "tests" / "corpus" / "accuracy")}
        wrong = apply_variant(REPO / "reference", corpus["std_for_variance"], tmp / "wrong")
        vae = apply_variant(REPO / "reference", corpus["vae_sum_over_batch"], tmp / "vae")
        shutil.copyfile(vae / "models" / "vae.py", wrong / "models" / "vae.py")
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(lambda k: grade(wrong, tmp / f"wrong{k}.json")[1], range(args.repeats)))
        distinct = {json.dumps(strip(o), sort_keys=True) for o in outcomes}
        print(f"2. {args.repeats} gradings of one wrong submission, two at a time: scores "
              f"{sorted({o['score'] for o in outcomes})}, {len(distinct)} distinct results file(s) (timing aside)")

        try:
            limit = cgroup.Limited(200)
            wall, outcome = grade(reference, tmp / "small.json", limit)
            limit.remove()
            blamed = [t["number"] for t in outcome["tests"] if "Your code" in t["output"]]
            flagged = outcome.get("extra_data", {}).get("grader_failed_tests", [])
            print(f"3. the reference inside 200 MB: score {outcome['score']}, {len(flagged)} of {len(outcome['tests'])} "
                  f"tests flagged as the grader's failure, {len(blamed)} messages blaming the code, {wall:.0f} s")
        except OSError as error:
            print(f"3. skipped: no memory cgroup here ({error})")

        loops = copy_graded(REPO / "reference", tmp / "loops")
        for f in GRADED_FILES:
            path = loops / f
            path.write_text(re.sub(r"(?m)^( *)### BEGIN SOLUTION", r"\1while True:\n\1    pass\n\1### BEGIN SOLUTION",
                                   path.read_text()))
        wall, outcome = grade(loops, tmp / "loops.json")
        print(f"4. a submission that loops in every graded function: {wall:.0f} s (budget "
              f"{__import__('autograder.grade', fromlist=['x']).load_config()['limits']['budget_s']} s), "
              f"score {outcome['score']}, {len(outcome['tests'])} tests in a valid results.json")
    finally:
        subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    main()
