"""A test's time is charged for what the submission did, not for the machine's load: the wall-clock time of
its calls less the time its worker waited for a CPU; a wall-clock backstop ends a call the machine made too
slow as the machine's fault (autograder/sandbox/worker.py's Clock)."""
import time

import pytest

from autograder.faults import GraderFault, SubmissionStopped
from autograder.sandbox import Clock
from autograder.sandbox.clock import charging


class Waiting:
    """A worker's watch whose process waited for a CPU `share` of every wall-clock second, while its
    processes together used `cpus` CPUs' worth (by default what it did not wait)."""

    def __init__(self, share, cpus=None):
        self.share, self.started = share, time.monotonic()
        self.cpus = 1 - share if cpus is None else cpus

    def run_delay_s(self):
        return (time.monotonic() - self.started) * self.share

    def cpu_s(self):
        return (time.monotonic() - self.started) * self.cpus


def worker_with(watch):
    return watch


def spend(watch, clock, seconds):
    with charging(clock, watch) as expired:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            expired()
            time.sleep(0.01)


def test_time_spent_waiting_for_a_cpu_is_not_charged():
    clock = Clock(limit_s=0.5, wall_s=5)
    spend(worker_with(Waiting(share=0.8)), clock, 1.0)   # 1 s of wall-clock time, 0.2 s of its own
    assert 0.15 < clock.charged_s < 0.3


def test_its_own_time_is_charged_and_stops_it_at_the_limit():
    clock = Clock(limit_s=0.3, wall_s=5)
    with pytest.raises(SubmissionStopped) as stopped:
        spend(worker_with(Waiting(share=0.0)), clock, 2.0)
    assert stopped.value.timed_out and 0.3 <= clock.charged_s < 0.5


def test_a_machine_too_slow_for_the_backstop_is_the_machine_s_fault():
    clock = Clock(limit_s=1.0, wall_s=0.5)
    with pytest.raises(GraderFault, match="too busy"):
        spend(worker_with(Waiting(share=0.95)), clock, 2.0)
    assert clock.charged_s < 0.1


def test_the_clock_accumulates_over_the_calls_of_one_test():
    clock, worker = Clock(limit_s=0.5, wall_s=5), worker_with(Waiting(share=0.0))
    spend(worker, clock, 0.2)
    spend(worker, clock, 0.2)
    assert 0.35 < clock.charged_s < 0.5
    with pytest.raises(SubmissionStopped):
        spend(worker, clock, 0.2)


def test_a_worker_starved_by_its_own_children_is_charged_their_cpu_time():
    """Red team: two spinning children and nice(19) kept the worker waiting for a CPU, so that a loop ran
    90 s for 1.5 s charged and ended as "the machine was too busy". The CPU its processes used is its own."""
    clock = Clock(limit_s=0.5, wall_s=5)
    with pytest.raises(SubmissionStopped) as stopped:
        spend(worker_with(Waiting(share=0.95, cpus=2.0)), clock, 3.0)
    assert stopped.value.timed_out


class Counting(Waiting):
    """A watch that counts its /proc reads."""

    def __init__(self, share):
        super().__init__(share)
        self.reads = 0

    def run_delay_s(self):
        self.reads += 1
        return super().run_delay_s()


def test_a_short_call_reads_the_worker_s_wait_only_at_its_start_and_end():
    """expired() runs at every chunk the judge reads: below a tick and below the limit the call's own time
    is at most its wall time, so no schedstat read is needed to know it has not run out."""
    watch, clock = Counting(share=0.0), Clock(limit_s=5.0, wall_s=50)
    with charging(clock, watch) as expired:
        for _ in range(1000):
            expired()
    assert watch.reads == 2 and 0 <= clock.charged_s < 0.2


def test_a_limit_shorter_than_a_tick_still_stops_the_call_at_the_limit():
    clock = Clock(limit_s=0.1, wall_s=5)
    with pytest.raises(SubmissionStopped) as stopped:
        spend(worker_with(Waiting(share=0.0)), clock, 1.0)
    assert stopped.value.timed_out and 0.1 <= clock.charged_s < 0.2
