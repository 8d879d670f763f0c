"""Course staff's commands: python -m staff VERB ...

  handout [--check]                    write student_template/ from reference/ (or verify it)
  goldens [--check]                    write autograder/goldens/ from reference/, only what changed (or
                                       verify them, and prove numeric.py against the reference's helpers)
  audit [--jobs N] [--only NAME]       grade the accuracy corpus; print which checks catch which mistakes
  package [--out FILE] [--allow-dirty] build the Gradescope zip; refuses uncommitted changes, an invalid
                                       config, a stale handout or goldens, and a zip with which the
                                       reference does not get 100 or the handout does not get 0
  simulate SUBMISSION [--package ZIP] [--memory-mb 768] [--root DIR]
                                       grade a submission exactly as Gradescope does (extract, setup.sh,
                                       the copy of run_autograder run from the root, a memory limit)

Grading itself is `python -m autograder grade|regrade` (that part ships to Gradescope).
"""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m staff", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("handout", help="generate student_template/ from reference/")
    p.add_argument("--check", action="store_true", help="verify student_template/ instead of writing it")
    p = verbs.add_parser("goldens", help="generate the golden files from reference/")
    p.add_argument("--check", action="store_true", help="recompute and compare instead of writing")
    p = verbs.add_parser("audit", help="grade the accuracy corpus")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--only", help="only variants whose name contains this")
    p = verbs.add_parser("package", help="build the Gradescope zip")
    p.add_argument("--out", default="dist/autograder.zip")
    p.add_argument("--allow-dirty", action="store_true",
                   help="package a checkout with uncommitted changes (the version file says so)")
    p = verbs.add_parser("simulate", help="grade a submission exactly as Gradescope does")
    p.add_argument("submission", help="a zip or folder, as a student would upload it")
    p.add_argument("--package", help="the autograder zip (default: build one from this checkout)")
    p.add_argument("--memory-mb", type=int, default=768, help="Gradescope's memory limit (0: none)")
    p.add_argument("--root", help="the folder playing /autograder (default: a cache per package)")
    p.add_argument("--venv", help="reuse this Python environment instead of letting setup.sh build one "
                                  "(quicker; the project's tests use it)")
    args = parser.parse_args(argv)

    if args.verb == "handout":
        from staff.handout import main as handout
        return handout(["--check"] if args.check else [])
    if args.verb == "goldens":
        from staff.goldens import main as goldens
        return goldens(["--check"] if args.check else [])
    if args.verb == "audit":
        from staff.audit import audit
        return audit(jobs=args.jobs, only=args.only)
    if args.verb == "package":
        from staff.package import PackageRefused, package
        try:
            package(args.out, allow_dirty=args.allow_dirty)
        except PackageRefused as refused:
            print(f"package: refused, nothing written to {args.out}: {refused}")
            return 1
        return 0
    if args.verb == "simulate":
        from staff.simulate import simulate
        return simulate(args.submission, package_zip=args.package, memory_mb=args.memory_mb, root=args.root,
                        venv=args.venv)
    return 2


if __name__ == "__main__":
    sys.exit(main())
