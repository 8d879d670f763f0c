"""seccomp: the worker may create no socket of any kind (TCP, UDP, UNIX, raw, netlink), nor reach one
another way (io_uring), nor trace other processes, nor make System V or POSIX IPC objects. Landlock refuses TCP only, and Gradescope's
containers have the network; with this filter a submission cannot send its hidden inputs anywhere.

A classic BPF program on the syscall number, installed for every thread of the process (TSYNC) and
inherited by its children. Needs no privileges (no_new_privs). ctypes only; x86_64 and aarch64.
"""
import ctypes
import errno
import os
import platform
import struct

# Per architecture: the audit arch, the seccomp syscall, the syscalls refused.
# SysV shared memory, semaphores and message queues, and POSIX message queues, are refused too: they
# outlive the process that made them (memory no process holds, kept past the grading) and are mailboxes.
_ARCH = {
    "x86_64": (0xC000003E, 317, {"socket": 41, "socketpair": 53, "ptrace": 101, "process_vm_readv": 310,
                                  "process_vm_writev": 311, "io_uring_setup": 425, "shmget": 29, "semget": 64,
                                  "msgget": 68, "mq_open": 240}),
    "aarch64": (0xC00000B7, 277, {"socket": 198, "socketpair": 199, "ptrace": 117, "process_vm_readv": 270,
                                   "process_vm_writev": 271, "io_uring_setup": 425, "shmget": 194, "semget": 190,
                                   "msgget": 186, "mq_open": 180}),
}
_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}
_X32_BIT = 0x40000000                  # x86_64's x32 ABI: the same calls under other numbers
_LD_ABS_W, _JEQ, _JGE, _RET = 0x20, 0x15, 0x35, 0x06
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_SET_MODE_FILTER, _FLAG_TSYNC = 1, 1
_PR_SET_NO_NEW_PRIVS = 38


def _instruction(code, k, jt=0, jf=0):
    return struct.pack("HBBI", code, jt, jf, k)


def program(machine=None):
    """The filter's instructions (bytes) for this machine, or None where it is not supported."""
    machine = _ALIASES.get((machine or platform.machine()).lower(), (machine or platform.machine()).lower())
    if machine not in _ARCH:
        return None
    arch, _, refused = _ARCH[machine]
    deny = _RET_ERRNO | errno.EPERM
    numbers = sorted(refused.values())
    code = [_instruction(_LD_ABS_W, 4),                          # seccomp_data.arch
            _instruction(_JEQ, arch, jt=1, jf=0),
            _instruction(_RET, deny),                            # another ABI (i386 via int 0x80): nothing
            _instruction(_LD_ABS_W, 0)]                          # seccomp_data.nr
    if machine == "x86_64":
        code.append(_instruction(_JGE, _X32_BIT, jt=len(numbers) + 1, jf=0))
    for i, number in enumerate(numbers):                         # a match jumps to the deny at the end
        code.append(_instruction(_JEQ, number, jt=len(numbers) - i, jf=0))
    code += [_instruction(_RET, _RET_ALLOW), _instruction(_RET, deny)]
    return b"".join(code)


def confine():
    """Install the filter on every thread of this process for good. Returns the refused syscalls' names;
    raises OSError where the kernel or the architecture does not allow it."""
    machine = _ALIASES.get(platform.machine().lower(), platform.machine().lower())
    code = program(machine)
    if code is None:
        raise OSError(errno.ENOSYS, f"seccomp: no filter for {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(*(ctypes.c_ulong(a) for a in (_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    buffer = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(code) // 8, ctypes.addressof(buffer))
    libc.syscall.restype = ctypes.c_long
    result = libc.syscall(ctypes.c_long(_ARCH[machine][1]), ctypes.c_long(_SET_MODE_FILTER),
                          ctypes.c_long(_FLAG_TSYNC), ctypes.c_void_p(ctypes.addressof(fprog)))
    if result != 0:
        code_ = ctypes.get_errno()
        raise OSError(code_, f"seccomp(SET_MODE_FILTER): {os.strerror(code_)}")
    return sorted(_ARCH[machine][2])
