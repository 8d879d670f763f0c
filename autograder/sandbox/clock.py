"""A test's time. The submission is charged for the time its calls took less the time the machine kept
its worker waiting for a CPU (so a loaded machine costs it nothing), and never less than the CPU time its
processes used; a wall-clock backstop ends a call the machine made too slow, as the machine's fault."""
import time

from autograder.faults import GraderFault, SubmissionStopped

TIMED_OUT = "it did not finish within the time limit and was stopped (an infinite loop, or very slow code?)"
TICK_S = 0.25          # how often the watch runs while the judge waits
BACKSTOP = 10          # a call may take this many times its limit in wall-clock time (load 15 on 2 cores: 7x)


class Clock:
    """A test's time. The submission is charged for the time its calls took minus the time the machine
    kept its worker waiting for a CPU (so a loaded machine costs it nothing); a wall-clock backstop ends
    a call the machine made too slow, as the machine's fault."""

    def __init__(self, limit_s, wall_s=None):
        self.limit_s, self.charged_s, self.received = limit_s, 0.0, 0
        self.wall_end = time.monotonic() + (wall_s if wall_s is not None else BACKSTOP * limit_s)

    def left_s(self):
        return self.limit_s - self.charged_s


class charging:
    """One call of a test, as a context manager: charges `clock` as the call goes; the `expired()` it
    gives raises at the time limit (the submission's) or at the wall-clock backstop (the machine's)."""

    def __init__(self, clock, watch):
        self.clock, self.watch = clock, watch

    def __enter__(self):
        self.started, self.delay = time.monotonic(), self.watch.run_delay_s()
        self.cpu = None   # read only once the worker has waited for a CPU (a /proc scan)
        self.base = self.clock.charged_s
        return self.expired

    def charged(self):
        """Its own time: the call's wall-clock time less the worker's wait for a CPU, and never less than
        the CPU time its processes used (children that starve the worker are its own doing)."""
        wall = time.monotonic() - self.started
        own = wall - (self.watch.run_delay_s() - self.delay)
        if wall - own > TICK_S:
            if self.cpu is None:
                self.cpu = (self.watch.cpu_s(), own)
            own = max(own, self.cpu[1] + self.watch.cpu_s() - self.cpu[0])
        return self.base + own

    def expired(self):
        clock, wall = self.clock, time.monotonic() - self.started
        # Until the call has lasted a tick its own time is at most its wall time (charged() counts CPU
        # time only beyond a wait of TICK_S): below the limit that way, no /proc read is needed to know
        # it is not over (most calls: ~4,000 schedstat reads a grading saved).
        charged = self.base + wall if wall < TICK_S and self.base + wall < clock.limit_s else self.charged()
        if charged >= clock.limit_s:
            raise SubmissionStopped(TIMED_OUT, timed_out=True)
        if time.monotonic() >= clock.wall_end:
            raise GraderFault(f"the machine was too busy: {time.monotonic() - self.started:.0f} s of wall-clock "
                              f"time gave the submission only {self.charged():.1f} s of its {clock.limit_s:.0f} s")

    def __exit__(self, *exc):
        self.clock.charged_s = max(self.base, self.charged())
