"""The worker's resource limits, set in the worker before it runs anything (a started worker sets them
between fork and exec, a forked one before it drops to its user)."""
import resource

MB = 1 << 20


def apply(limits, own_user):
    """RLIMIT_DATA, RLIMIT_FSIZE, no core files, RLIMIT_NOFILE; RLIMIT_NPROC when the worker has a user
    of its own (the limit counts every process of that user)."""
    resource.setrlimit(resource.RLIMIT_DATA, (limits["worker_memory_mb"] * MB,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["worker_file_mb"] * MB,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["worker_open_files"],) * 2)
    if own_user:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["worker_user_processes"],) * 2)


def die_with_parent():
    """SIGKILL this process when the process that started it dies (set after the change of user, which
    clears it): a judge killed by any signal takes its worker with it."""
    import ctypes
    import os
    import signal
    pr_set_pdeathsig = 1
    parent = os.getppid()
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:   # it died before the setting took effect
        os._exit(1)


def release_memory():
    """Hand freed heap pages back to the system (glibc keeps them otherwise): Gradescope's memory limit
    counts what each process holds, not what it uses. The judge and the worker call it between tests."""
    import ctypes
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):   # not glibc
        pass
