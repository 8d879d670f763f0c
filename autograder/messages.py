"""The judge's own sentences around a check's message: what to do next, and why a test was not graded.
One place, so that every test says the same thing the same way."""
import re

from autograder.selfcheck.expect import actionable_of

NEXT_STEP = {
    "missing": "Add the file with this exact path and upload again.",
    "import": "Fix the error above (run `python -c 'import {module}'` in your handout folder to see it), then upload again.",
    "failed": ("Fix what the message above describes, then upload again. `pytest` in your handout folder runs the "
               "public checks of every file; this test also uses hidden inputs, so passing them locally does not "
               "guarantee it."),
    "unwritten": "Write it, check it with `pytest` in your handout folder, then upload again.",
    "failed_public": "`pytest` in your handout folder shows this same check: fix it there, then upload again.",
}


def next_step(test, message=None):
    """Advice that fits the test: a public check can be reproduced locally, a hidden one cannot. None after a
    `message` that describes nothing to fix (only points waiting on another claim: expect.deferred)."""
    if message is not None and not actionable_of(message):
        return None
    return NEXT_STEP["failed_public" if test["public"] else "failed"]


GRADER_FAILED = ("This test could not be graded because the grader or the machine failed ({why}); this is not "
                 "a verdict on your code. The course staff can see it and will re-run it.")
BUDGET_SPENT = ("This test was not run: the grading's time budget of {budget:.0f} s was used up by earlier tests "
                "that ran to their time limits, or by slow imports of your files (see their messages). Make those "
                "finish, and upload again.")
GLOBAL_NOTE = ("Note: {file} changed torch's global settings when it was imported: {changes}. The grader puts "
               "them back before every test, so that one file's settings cannot cost another file its points.")
NOT_REPEATABLE = ("Your code gave a different result when the same inputs were tried again: a graded function must "
                  "depend only on its inputs and on torch's random generator, which the grader seeds the same way "
                  "each time (no os.urandom, time or Python's random module).")


def allocation_note(error, limit_mb):
    """What a failed allocation pins on the code: one request beyond all that the worker may hold (its byte count is
    the student's text, so only the comparison is said). '' for anything else."""
    asked = re.search(r"tried to allocate (\d+) bytes", str(error))
    if asked is None or limit_mb is None or int(asked[1]) <= limit_mb * 2 ** 20:
        return ""
    return (f"\nThat one allocation asked for more memory than the whole worker may hold ({limit_mb} MB), far more than "
            "a correct solution needs: look for a tensor much larger than its inputs.")
