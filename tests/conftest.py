"""Each run of the project's tests keeps to a temporary root of its own, so that two runs, other gradings
and a TA's regrade on the same machine never remove or read each other's folders: pytest's temporary
folders (a fresh --basetemp; pytest would otherwise prune other runs' `pytest-N` folders) and the
gradings' scratch folders ($AUTOGRADER_SCRATCH) both go under it, and it is removed at the end."""
import os
import shutil
import tempfile
from pathlib import Path

RUN_ROOT = None


def pytest_configure(config):
    global RUN_ROOT
    if getattr(config, "workerinput", None) is not None:   # pragma: no cover (no xdist here)
        return
    RUN_ROOT = Path(tempfile.mkdtemp(prefix="autograder-tests-"))
    RUN_ROOT.chmod(0o711)   # the worker users pass through to their scratch folders, and list nothing
    if not config.option.basetemp:
        config.option.basetemp = str(RUN_ROOT / "pytest")
    os.environ["AUTOGRADER_SCRATCH"] = str(RUN_ROOT / "gradings")


def pytest_unconfigure(config):
    if RUN_ROOT is not None:
        shutil.rmtree(RUN_ROOT, ignore_errors=True)
