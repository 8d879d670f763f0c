"""seccomp (autograder/worker/seccomp.py): a confined process can create no socket of any kind; the same
code unconfined can (the control: the refusal is the filter's)."""
import json
import platform
import subprocess

import pytest

from helpers import PYTHON, REPO

ATTEMPTS = """
import json, socket, sys
sys.path.insert(0, {autograder!r})
if {confine}:
    from worker import seccomp
    seccomp.confine()
results = {{}}
for name, make in [("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)),
                   ("tcp", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
                   ("unix", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)),
                   ("raw", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)),
                   ("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)),
                   ("pair", lambda: socket.socketpair())]:
    try:
        make()
        results[name] = "created"
    except OSError as error:
        results[name] = error.errno
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
results["shmget"] = libc.shmget(0, 1 << 20, 0o1666) if {confine} else "skipped"   # IPC_PRIVATE | IPC_CREAT | 0666
if {confine}:
    results["shmget"] = ctypes.get_errno() if results["shmget"] == -1 else "created"
import numpy
results["numpy"] = float(numpy.ones(3).sum())
print(json.dumps(results))
"""

pytestmark = pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64"), reason="no filter for this machine")


def attempt(confine):
    code = ATTEMPTS.format(autograder=str(REPO / "autograder"), confine=confine)
    done = subprocess.run([str(PYTHON), "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_confined_process_creates_no_socket_and_still_computes():
    confined = attempt(True)
    assert confined.pop("numpy") == 3.0
    assert set(confined.values()) == {1}, confined   # EPERM for every socket family and for SysV shared memory
    unconfined = attempt(False)
    assert unconfined["udp"] == unconfined["unix"] == unconfined["pair"] == "created", unconfined


def test_the_filter_refuses_other_abis_and_is_well_formed():
    from autograder.worker import seccomp
    code = seccomp.program("x86_64")
    assert len(code) % 8 == 0 and len(code) // 8 < 64
    assert seccomp.program("sparc") is None
