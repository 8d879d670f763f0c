"""Your self-checks: run `pytest` in the handout folder.

These are the grader's public checks, with the same messages it gives. Passing them is necessary,
not sufficient: the grader also checks your functions on hidden inputs, statistically, and with
short training runs.
"""
from pathlib import Path

import pytest

from selfcheck import public_checks
from selfcheck.expect import CheckFailed, StudentError
from selfcheck.local import local_run

HANDOUT = Path(__file__).resolve().parent.parent
CHECKS = [public_checks.sample_gaussian_shapes, public_checks.gan_large_logits,
          public_checks.diffusion_edges_and_dtypes]


@pytest.fixture(scope="module")
def run():
    return local_run(HANDOUT)


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_public_check(run, check):
    try:
        outcome = check(run)
    except (CheckFailed, StudentError) as error:
        pytest.fail(str(error), pytrace=False)
    if outcome is not None:
        pytest.fail(outcome.message, pytrace=False)
