"""Your self-checks: run `pytest` in the handout folder (one test per file you write).

These are the grader's public checks, with the same messages it gives. Passing them is necessary,
not sufficient: the grader also checks your functions on hidden inputs, statistically, and with
short training runs. A file that does not import fails only its own test (the others run with the
handout's copy of it, kept in selfcheck/clean/).
"""
from pathlib import Path

import pytest

from selfcheck.expect import CheckFailed, StudentError
from selfcheck.local import local_run
from selfcheck.public import PUBLIC
from selfcheck.public.common import not_written

HERE = Path(__file__).resolve().parent
HANDOUT = HERE.parent


@pytest.fixture(scope="module")
def run():
    return local_run(HANDOUT, clean_root=HERE / "clean")


@pytest.mark.parametrize("file", list(PUBLIC))
def test_file(run, file):
    error = run.homework.import_errors.get(file)
    if error:
        pytest.fail(error.rstrip(), pytrace=False)
    messages = []
    for check in PUBLIC[file]:
        try:
            outcome = check(run)
        except CheckFailed as failed:
            messages.append(str(failed))
            continue
        except StudentError as error:
            first = str(error).split("\n", 1)[0]
            messages.append(f"{first.split(':', 1)[-1].strip()}" if not_written(error)
                            else f"your code raised an error:\n{error}")
            continue
        if outcome is not None:
            messages.append(outcome.message)
    if messages:
        pytest.fail("\n".join(messages), pytrace=False)
