"""Who is charged for a failure. The judge tells two kinds apart, by type, wherever they are raised:

- `SubmissionStopped`: the submission's process was stopped for what it did (its time, memory, process
  or disk limit, its own exit, data it wrote into the grader's channel, the grader's code it changed).
  The message is for the student; the test is charged.
- `GraderFault`: anything else (the machine's memory limit, a crash nobody asked for, a start that fails,
  a scratch folder changed from outside, the judge's own code). Never charged: the test runs again on a
  fresh scratch folder and worker, then is reported as the grader's failure and flagged for staff.

(A student's function raising an exception is a third kind, `selfcheck.expect.StudentError`: the
worker answered, with an error.)
"""


class SubmissionStopped(Exception):
    """The submission's process was stopped for what it did. `timed_out`: by its time limit."""

    def __init__(self, message, *, timed_out=False):
        super().__init__(message)
        self.timed_out = timed_out


class GraderFault(Exception):
    """Not the submission's doing; str() says why, for staff and for the student's message."""
