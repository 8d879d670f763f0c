"""What every public check shares: asking the worker for a probe whose stub still raises
NotImplementedError, the one test of "not written yet", and the student's text as the judge shows it."""
from ..expect import CheckFailed, StudentError, diagnose

try:   # in the judge, text from the student's process passes through its one redaction
    from autograder.redaction import hide_numbers, student_text
except ImportError:   # in the handout (students' own pytest, public inputs): their own errors in full
    def student_text(text, limit=300):
        return str(text)

    def hide_numbers(text):
        return str(text)

# the probes' refusal of a returned value (probes/common.py StudentValueError): the student's code raised nothing
REFUSED = "StudentValueError: "
# the judge's own backward through what the student's code returned raised (probes/common.py BackwardFailed)
BACKWARD = "BackwardFailed: "
# one sentence, without its final period (callers end it)
IN_PLACE = ("torch says an in-place operation (x[...] = ..., +=, .clamp_()) changed a tensor that backward needs: "
            "make a new tensor instead (torch.clamp(x, min=...), torch.where(...))")


def backward_failed(error, what=None):
    """'returned <what>, but backpropagating through it raised <the error>' (with the in-place cause where torch
    names it), or None for any other error. `what`: the result's name (else the one BackwardFailed carries)."""
    text = str(error)
    if not text.startswith(BACKWARD):
        return None
    named, _, rest = text[len(BACKWARD):].partition(": ")
    named = hide_numbers(named)[:40]   # a student's own exception may carry this prefix: its words, bounded as any
    told = (f"returned {what or named}, but backpropagating through it (as loss.backward() does) raised "
            f"{student_text(rest)}")
    return told + "; " + diagnose("backward_inplace", IN_PLACE) if "modified by an inplace operation" in text else told


def returned_text(error):
    """What the probe said of a value the student's function returned and the API does not promise (a type,
    a shape; the worker's words, so with digits hidden as student text), or None for an exception the code raised."""
    text = str(error)
    if not text.startswith(REFUSED):
        return None
    return hide_numbers(text.removeprefix(REFUSED).split("\n")[0])[:300]


def raised_or_returned(error):
    """'raised <the error>' for an exception of the student's code; 'returned what the API does not promise: ...'
    for a returned value a probe refused (the one wording of both, grade.py's and the checks')."""
    returned = returned_text(error)
    if backward_failed(error) is not None:
        return backward_failed(error)
    if returned is None:
        return f"raised {student_text(error)}"
    told = f"returned what the API does not promise: {returned}"
    if returned.endswith(("but it is a builtin_function_or_method", "but it is a method")):
        return told + " " + diagnose("returned_method", "(a method object: .mean or .sum without its parentheses "
                                                        "returns the method itself, not its value)")
    return told


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
