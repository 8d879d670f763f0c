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
