"""The watch's memory check: PSS (what the limit is stated in) is read only when RSS, its upper bound,
exceeds the limit, so an ordinary grading pays 0.01 ms a check instead of smaps_rollup's 5-12 ms."""
import subprocess
import sys
import time

import pytest

from autograder.sandbox import watch


@pytest.fixture(scope="module")
def holder():
    """A process holding 200 MB of its own (private, resident) memory."""
    process = subprocess.Popen([sys.executable, "-c", "import sys, time; b = bytearray(200 << 20); "
                                "b[::4096] = b'x' * len(b[::4096]); print('ready', flush=True); time.sleep(60)"],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    yield process.pid
    process.kill()
    process.wait()


def test_rss_bounds_pss(holder):
    assert watch.resident_mb([holder]) >= watch.memory_mb([holder]) >= 200


def test_pss_is_not_read_below_the_resident_bound(holder, monkeypatch):
    def no_smaps(pids):
        raise AssertionError("smaps_rollup read although RSS is under the limit")
    monkeypatch.setattr(watch, "memory_mb", no_smaps)
    assert watch.memory_over([holder], watch.resident_mb([holder]) + 50) is None


def test_over_the_limit_reports_the_pss(holder):
    assert watch.memory_over([holder], 100) >= 200


def test_between_pss_and_rss_is_under_the_limit(holder, monkeypatch):
    rss, pss = watch.resident_mb([holder]), watch.memory_mb([holder])
    monkeypatch.setattr(watch, "resident_mb", lambda pids: rss + 1000)   # shared pages counted in full
    assert watch.memory_over([holder], pss + 1) is None
    assert watch.memory_over([holder], pss - 1) is not None


def test_gone_processes_count_nothing():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    time.sleep(0.05)
    assert watch.resident_mb([process.pid]) == 0 and watch.memory_over([process.pid], 0) is None
