"""config.yaml, typed and validated when loaded: every limit of the grading in one place, and every
test (its check exists, its file is graded, points sum to 100). A mistake in it stops grading before
any student is graded, with a message naming the line to fix."""
import importlib
from pathlib import Path
from typing import List, TypedDict

import yaml

from autograder.selfcheck.public import PUBLIC
from autograder.selfcheck.surface import GRADED_FILES

PATH = Path(__file__).resolve().parent / "config.yaml"
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
TOTAL_POINTS = 100
GRADESCOPE_TIMEOUT_S = 600   # Gradescope's default: it kills run_autograder after this, results or not


class Limits(TypedDict):
    worker_memory_mb: int        # RLIMIT_DATA of the worker
    worker_rss_mb: int           # memory of the worker's processes (its user's, or its session's) before it is stopped
    worker_processes: int        # processes of the worker's user (or session) before the judge stops it
    worker_user_processes: int   # RLIMIT_NPROC of the worker's user
    worker_file_mb: int          # RLIMIT_FSIZE: the largest file the worker may write
    worker_open_files: int       # RLIMIT_NOFILE
    worker_scratch_mb: int       # what the worker may write into its scratch folders, in all
    worker_scratch_files: int    # ... and how many entries
    startup_timeout_s: float     # importing torch and the homework
    output_cap_kb: int           # of each test's message
    budget_s: float              # the whole grading


class Test(TypedDict):
    number: str
    name: str
    check: str                   # a function of autograder/, e.g. checks.vae.gradients or selfcheck.public.gan.gan_large_logits
    file: str                    # the graded file it judges
    points: float
    visibility: str
    timeout_s: float
    public: bool                 # optional, default false: students' pytest runs this same check (selfcheck.public.PUBLIC)


OPTIONAL = {"public": False}     # fields a line of config.yaml may leave out, and their values then


class Config(TypedDict):
    limits: Limits
    tests: List[Test]


class ConfigError(Exception):
    pass


def check_function(dotted):
    """The check named `dotted` (relative to the autograder package)."""
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(f"autograder.{module}"), name)


def _typed(where, entry, spec):
    """`entry` with each field of the TypedDict `spec`, converted to its type (int, float, str; a bool
    must be written true or false), the OPTIONAL ones it leaves out at their defaults."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping, got {entry!r}")
    fields = spec.__annotations__
    entry = {**{key: value for key, value in OPTIONAL.items() if key in fields}, **entry}
    if set(entry) != set(fields):
        missing, extra = sorted(set(fields) - set(entry)), sorted(set(entry) - set(fields))
        raise ConfigError(f"{where}: " + "; ".join(filter(None, [missing and f"missing {missing}", extra and f"unknown {extra}"])))
    typed = {}
    for key, kind in fields.items():
        if kind is bool:
            if not isinstance(entry[key], bool):
                raise ConfigError(f"{where}: {key} should be true or false, got {entry[key]!r}")
            typed[key] = entry[key]
            continue
        try:
            typed[key] = kind(entry[key])
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {key} should be {kind.__name__}, got {entry[key]!r}") from None
    return typed


def validate(raw):
    limits = _typed("limits", raw.get("limits"), Limits)
    if any(v <= 0 for v in limits.values()):
        raise ConfigError("limits: every limit must be positive")
    if limits["budget_s"] >= GRADESCOPE_TIMEOUT_S:
        raise ConfigError(f"limits: budget_s must stay under Gradescope's {GRADESCOPE_TIMEOUT_S} s")
    tests = [_typed(f"test {i + 1}", t, Test) for i, t in enumerate(raw.get("tests") or [])]
    numbers = [t["number"] for t in tests]
    if len(set(numbers)) != len(numbers):
        raise ConfigError(f"tests: numbers repeat: {sorted(n for n in numbers if numbers.count(n) > 1)}")
    for t in tests:
        where = f"test {t['number']}"
        if t["file"] not in GRADED_FILES:
            raise ConfigError(f"{where}: {t['file']} is not a graded file ({', '.join(GRADED_FILES)})")
        if t["visibility"] not in VISIBILITY:
            raise ConfigError(f"{where}: visibility must be one of {sorted(VISIBILITY)}")
        if t["points"] <= 0 or t["timeout_s"] <= 0:
            raise ConfigError(f"{where}: points and timeout_s must be positive")
        try:
            check = check_function(t["check"])
        except (ImportError, AttributeError, ValueError) as error:
            raise ConfigError(f"{where}: check {t['check']} does not exist ({error})") from None
        if not callable(check):
            raise ConfigError(f"{where}: check {t['check']} is not a function")
        if t["public"] != (check in PUBLIC.get(t["file"], [])):
            raise ConfigError(f"{where}: public must be {str(not t['public']).lower()}: students' pytest "
                              f"{'does not run' if t['public'] else 'runs'} {t['check']} for {t['file']} "
                              "(selfcheck/public/__init__.py PUBLIC)")
    untested = [f for f in GRADED_FILES if f not in {t["file"] for t in tests}]
    if untested:
        raise ConfigError(f"tests: no test judges {', '.join(untested)}")
    total = sum(t["points"] for t in tests)
    if abs(total - TOTAL_POINTS) > 1e-9:
        raise ConfigError(f"tests: points sum to {total:g}, not {TOTAL_POINTS}")
    return Config(limits=Limits(**limits), tests=tests)


def load_config(path=PATH):
    return validate(yaml.safe_load(Path(path).read_text()))
