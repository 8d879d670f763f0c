"""The training checks (2.4, 3.4, 5.4) on the CPU and on CUDA, side by side (issue 20).

    .venv/bin/python benchmarks/device_benchmark.py [--margins] [--only NAME]

--margins (in-process, CPU only, a few minutes): for the reference and every corpus variant of
models/vae.py, models/gan.py and ewc.py (tests/corpus/accuracy), each training check's statistics and
their signed distance to its threshold (positive on the passing side), then per statistic the
smallest distance over the variants: the margin a GPU run's deviation must stay under. Also the
variants the training checks catch.

Without --margins: grades the reference and each variant the training checks catch with
`python -m autograder grade --device cpu` and `--device cuda`, and prints per test (2.4, 3.4, 5.4)
both verdicts, the devices that decided (results.json extra_data) and the grading times, then every
verdict that differs. Where torch sees no CUDA it says so and prints the CPU column only. Asserts nothing.
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import PYTHON, REPO

from autograder.checks import training

CORPUS = REPO / "tests" / "corpus" / "accuracy"
HANDOUT = REPO / "student_template"
TRAINING = {"models/vae.py": ("2.4", training.vae, "vae_train"), "models/gan.py": ("3.4", training.gan, "gan_train"),
            "ewc.py": ("5.4", training.ewc, "ewc_train")}
REFERENCE_VARIANT = {"name": "(reference)", "kind": "reference", "file": None}


def variants(only=None):
    sys.path.insert(0, str(CORPUS))
    from apply import load_variants
    return [v for v in load_variants(CORPUS) if v["file"] in TRAINING and (not only or only in v["name"])]


def materialize(variant, destination):
    """The handout with the reference's graded files, the variant applied: a submission folder."""
    from apply import apply_variant
    from autograder.selfcheck.surface import GRADED_FILES
    shutil.copytree(HANDOUT, destination, ignore=shutil.ignore_patterns("selfcheck", "__pycache__", "data", "runs"))
    for rel in GRADED_FILES:
        shutil.copyfile(REPO / "reference" / rel, destination / rel)
    if variant["kind"] != "reference":
        apply_variant(REPO / "reference", variant, destination)
    return destination


def statistics_of(variant):
    """{test: (fraction, statistics)} of the training checks of the variant's file (all three for the reference)."""
    from autograder.selfcheck.local import local_run
    files = list(TRAINING) if variant["file"] is None else [variant["file"]]
    with tempfile.TemporaryDirectory(prefix="margins-") as tmp:
        root = materialize(variant, Path(tmp) / "submission")
        run = local_run(root, clean_root=HANDOUT)
        out = {}
        for file in files:
            number, check, _ = TRAINING[file]
            seen = {}
            original = training.trained

            def keep(*args, **kwargs):
                result, stats = original(*args, **kwargs)
                seen.update(stats)
                return result, stats

            training.trained = keep
            try:
                outcome = check(run)
            except Exception as error:   # CheckFailed, StudentError: the test's verdict is 0
                outcome = type("Failed", (), {"fraction": 0.0, "message": str(error)})()
            finally:
                training.trained = original
            out[number] = (1.0 if outcome is None else outcome.fraction, seen)
        return out


def signed(key, value):
    """Distance to the threshold, positive on the passing side (the NELBO passes below its limit)."""
    threshold = training.THRESHOLDS[key]
    return threshold - value if key == "held-out NELBO" else value - threshold


def margins(only):
    smallest = {}
    caught = []
    for variant in [REFERENCE_VARIANT] + variants(only):
        for number, (fraction, stats) in statistics_of(variant).items():
            distances = {k: signed(k, v) for k, v in stats.items() if k in training.THRESHOLDS}
            shown = "  ".join(f"{k} {v:.4g} ({distances[k]:+.3g})" for k, v in stats.items() if k in distances)
            print(f"{number} {variant['kind'][0]} {variant['name'][:44]:<44} {fraction:5.2f}  {shown}", flush=True)
            if fraction < 1 and variant["kind"] == "wrong":
                caught.append(variant["name"])
            for k, d in distances.items():
                if d == d and (k not in smallest or abs(d) < abs(smallest[k][0])):   # d == d: not NaN
                    smallest[k] = (d, variant["name"])
    print("\nsmallest distance to each threshold (the margin a GPU's deviation must stay under; BAND re-decides "
          "on the CPU within it):")
    for k, (d, name) in smallest.items():
        print(f"  {k:<22} {abs(d):.4g}  ({name}; threshold {training.THRESHOLDS[k]:g}, band {training.BAND[k]:g})")
    print(f"\ncaught by a training check ({len(caught)}): {', '.join(caught)}")
    return caught


def grade(folder, device):
    """(seconds, {test: (score, max, device)}) of one grading, or (seconds, None) when it did not complete."""
    with tempfile.TemporaryDirectory(prefix="device-") as tmp:
        results = Path(tmp) / "results.json"
        started = time.monotonic()
        done = subprocess.run([PYTHON, "-m", "autograder", "grade", str(folder), "--device", device, "--results",
                               str(results)], cwd=REPO, capture_output=True, text=True)
        seconds = time.monotonic() - started
        if done.returncode != 0 or not results.exists():
            return seconds, None
        tests = json.loads(results.read_text())["tests"]
        return seconds, {t["number"]: (t["score"], t["max_score"], t.get("extra_data", {}).get("device", "-"))
                         for t in tests if t["number"] in ("2.4", "3.4", "5.4")}


def side_by_side(only):
    cuda = subprocess.run([PYTHON, "-c", "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)"],
                          capture_output=True).returncode == 0
    if not cuda:
        print("CUDA: absent (torch sees no CUDA device here); the CPU column only.")
    names = set(margins(only))
    chosen = [REFERENCE_VARIANT] + [v for v in variants(only) if v["name"] in names]
    differing = []
    print(f"\n{'variant':<46} {'test':>4} {'cpu':>12} {'cuda':>12}  devices (cuda run)   seconds cpu/cuda")
    for variant in chosen:
        with tempfile.TemporaryDirectory(prefix="device-sub-") as tmp:
            folder = materialize(variant, Path(tmp) / "submission")
            cpu_s, cpu = grade(folder, "cpu")
            gpu_s, gpu = grade(folder, "cuda") if cuda else (0.0, None)
        numbers = ["2.4", "3.4", "5.4"] if variant["file"] is None else [TRAINING[variant["file"]][0]]
        for number in numbers:
            a = cpu.get(number) if cpu else None
            b = gpu.get(number) if gpu else None
            cell = lambda r: "-" if r is None else f"{r[0]:.2f}/{r[1]:.0f}"
            print(f"{variant['name'][:46]:<46} {number:>4} {cell(a):>12} {cell(b):>12}  {b[2] if b else '-':<20} "
                  f"{cpu_s:5.1f}/{gpu_s:5.1f}", flush=True)
            if cuda and (a is None or b is None or a[0] != b[0]):
                differing.append(f"{variant['name']} {number}: cpu {cell(a)}, cuda {cell(b)}")
    print("\nverdicts that differ: " + ("; ".join(differing) if differing else "none" if cuda else "(no CUDA run)"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--margins", action="store_true", help="the CPU margins only (in-process)")
    parser.add_argument("--only", help="only the variants whose name contains this")
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(1)   # as the worker: the same sums, the same statistics
    if args.margins:
        margins(args.only)
    else:
        side_by_side(args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
