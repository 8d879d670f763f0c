"""The sandbox: everything the judge does to run student code elsewhere, one module per job.

    slots.py     worker users and the locks that give each grading its own
    scratch.py   the grading's private scratch folder, laid out for the worker, checked for damage
    worker.py    one worker process: start (import attribution), probe calls, stop
    clock.py     a test's time: wall-clock less the CPU wait, never less than its CPU; the backstop
    ground.py    a grading's scratch folder and worker, renewed together after a fault
    watch.py     its limits while it runs: memory, processes, disk, time spent waiting for a CPU
    cleanup.py   ending its processes; the guardian that does so when the judge is killed
    zygote.py    the worker template that regrade forks workers from
"""
from autograder.sandbox.cleanup import Guardian
from autograder.sandbox.scratch import Scratch, gradings_root
from autograder.sandbox.slots import WORKER_USERS, Slot, SlotsBusy, acquire_slot, install_user, worker_account
from autograder.sandbox.clock import BACKSTOP, TIMED_OUT, Clock
from autograder.sandbox.scratch import worker_environment
from autograder.sandbox.worker import Worker
from autograder.sandbox.zygote import Zygote
from autograder.worker.limits import release_memory

__all__ = ["BACKSTOP", "Clock", "Guardian", "Scratch", "Slot", "SlotsBusy", "TIMED_OUT", "WORKER_USERS", "Worker", "Zygote",
           "acquire_slot", "gradings_root", "install_user", "landlock_abi", "release_memory", "worker_account",
           "worker_environment"]


def landlock_abi():
    """The kernel's Landlock ABI (0: none). With it, the worker is confined to its scratch folder and
    the interpreter; without it, only file modes keep it from the grader's files."""
    from autograder.worker.landlock import abi_version
    return abi_version()
