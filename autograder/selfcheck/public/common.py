"""What every public check shares: asking the worker for a probe whose stub still raises
NotImplementedError, the one test of "not written yet", and the student's text as the judge shows it."""
from ..expect import CheckFailed, StudentError, diagnose

try:   # in the judge, text from the student's process passes through its one redaction
    from autograder.redaction import student_text
except ImportError:   # in the handout (students' own pytest, public inputs): their own errors in full
    def student_text(text, limit=300):
        return str(text)


def not_written(error):
    """Whether a student's error (homework.describe's text) is a stub's: it still raises NotImplementedError.
    The one test of it: the judge's checks and grade.py use this one."""
    return str(error).startswith("NotImplementedError")


def ask(run, probe, what, **inputs):
    """run(probe, **inputs); a stub still raising NotImplementedError becomes one line."""
    try:
        return run(probe, **inputs)
    except StudentError as error:
        if not_written(error):
            raise CheckFailed(diagnose("not_written", f"{what} is not written yet (it raises NotImplementedError).")) from None
        raise
