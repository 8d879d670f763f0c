"""The course staff's commands: python -m autograder VERB ...

  grade PATH [--results FILE] [--device auto|cpu|cuda]
                                       grade one submission (zip or folder); exit 0 when grading completed
  regrade FOLDER [--jobs N] [--out D]  grade every submission in FOLDER (or a Gradescope export, its zip)
                                       in parallel into D (default FOLDER-regrade): scores.csv, changed.csv,
                                       feedback.csv, scores.png, report.md, results/
  install-user                         create the unprivileged users that run student code (root; setup.sh)

Course staff's other tools (handout, goldens, audit, package, simulate) are `python -m staff` in a
checkout of the course repository; they are not in the Gradescope package.
"""
import argparse
import os
import sys

# The judge's numpy multiplies small matrices: one OpenBLAS thread per core would cost it twice the CPU
# (benchmarks/breakdown.py: 1.4 s against 0.7 s of a grading). Before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def cuda_available():
    """Whether torch, in a fresh interpreter (the judge never imports torch), sees a CUDA device."""
    import subprocess
    probe = "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)"
    return subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True).returncode == 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("grade", help="grade one submission")
    p.add_argument("path")
    p.add_argument("--results", help="where to write results.json")
    p.add_argument("--config", help="another config.yaml (e.g. shorter time limits for the project's tests)")
    p.add_argument("--profile", help="write the wall and CPU seconds of each phase to this JSON file")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the training checks (2.4, 3.4, 5.4) run: CUDA where the worker has it (auto), "
                        "the CPU, or CUDA (refused where there is none); the judge decides on the CPU either way")
    p = verbs.add_parser("regrade", help="grade a folder of submissions")
    p.add_argument("folder", help="a folder of submissions, or Gradescope's export (folder or zip)")
    p.add_argument("--jobs", type=int, default=2, help="parallel gradings (at most 8, the worker slots)")
    p.add_argument("--out", help="output folder (default: FOLDER-regrade beside FOLDER)")
    verbs.add_parser("install-user", help="create the worker's user")
    args = parser.parse_args(argv)

    if args.verb == "grade":
        from autograder.grade import grade, load_config
        from autograder.timing import Profile
        if args.device == "cuda" and not cuda_available():
            print("grade: --device cuda, but torch sees no CUDA device on this machine (no GPU, no driver, a CPU-only "
                  "torch, or CUDA_VISIBLE_DEVICES hides it): nothing was graded. Use --device auto or cpu.",
                  file=sys.stderr)
            return 2
        profile = Profile()
        grade(args.path, args.results, config=load_config(args.config) if args.config else None, profile=profile,
              device=args.device)
        if args.profile:
            profile.write(args.profile)
        return 0
    if args.verb == "regrade":
        from autograder.regrade import regrade
        return regrade(args.folder, jobs=args.jobs, out=args.out)
    if args.verb == "install-user":
        from autograder.sandbox import install_user
        install_user()
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
