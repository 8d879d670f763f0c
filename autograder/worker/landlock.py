"""Landlock: have the kernel confine this process's file access (and TCP, signals), without privileges.

ctypes only. Constants from include/uapi/linux/landlock.h. The restriction is for life and is inherited
by children. Before Landlock ABI 8 it binds only the calling thread and the threads it starts later:
threads that already exist stay free, so confine before starting any (torch's import starts one).
"""
import ctypes
import os
import platform
import site
import stat
import sys
import sysconfig

# The unified syscall table: the same numbers on x86_64 and aarch64 (alpha and ia64 differ).
_SYSCALLS = {"create_ruleset": 444, "add_rule": 445, "restrict_self": 446}
_ARCHES = {"x86_64", "amd64", "aarch64", "arm64"}
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1
_RESTRICT_SELF_TSYNC = 1 << 3          # ABI 8: restrict every thread of the process
_PR_SET_NO_NEW_PRIVS = 38

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13                     # ABI 2
FS_TRUNCATE = 1 << 14                  # ABI 3
FS_IOCTL_DEV = 1 << 15                 # ABI 5
NET_BIND_TCP = 1 << 0                  # ABI 4
NET_CONNECT_TCP = 1 << 1               # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0    # ABI 6
SCOPE_SIGNAL = 1 << 1                  # ABI 6

# The only rights the kernel accepts on a rule for a non-directory (EINVAL otherwise).
_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV


class _PathBeneath(ctypes.Structure):
    _pack_ = 1                         # the uapi struct is __attribute__((packed)): 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = None


def _syscall(name, *args):
    """The raw syscall (ints and pointers as C longs); its result, or OSError from errno."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    result = _libc.syscall(ctypes.c_long(_SYSCALLS[name]), *(ctypes.c_long(a or 0) for a in args))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"landlock_{name}: {os.strerror(code)}")
    return result


def _no_new_privs():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(*(ctypes.c_ulong(a) for a in (_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(code)}")


def abi_version():
    """The kernel's Landlock ABI version; 0 when unsupported, disabled or refused (never raises)."""
    if sys.platform != "linux" or platform.machine().lower() not in _ARCHES:
        return 0
    try:
        return max(0, _syscall("create_ruleset", 0, 0, _CREATE_RULESET_VERSION))
    except Exception:  # ENOSYS (old kernel), EOPNOTSUPP (disabled at boot), EPERM (seccomp)...
        return 0


def fs_rights(abi):
    """Every filesystem right that Landlock `abi` knows, so that the ruleset handles (denies) them all."""
    rights = (FS_MAKE_SYM << 1) - 1    # ABI 1: bits 0..12
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def confine(read_only=(), read_write=(), *, executable=True, deny_network=True, scope=True):
    """Restrict this process (and its future children) for good: read `read_only`, read and write `read_write`.

    Paths are folders (the rule covers everything beneath) or single files; missing ones are skipped.
    executable: read_only paths may also be execve'd (loading shared libraries needs only read).
    deny_network: refuse every TCP bind and connect (ABI >= 4). scope: refuse signals to, and abstract
    unix sockets of, processes outside this sandbox (ABI >= 6).
    Returns the ABI used, or 0 when Landlock is unavailable (nothing was changed). Raises OSError when
    Landlock is there but a call fails.
    """
    abi = abi_version()
    if abi == 0:
        return 0
    handled = fs_rights(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if deny_network and abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if scope and abi >= 6 else 0
    # struct landlock_ruleset_attr grew with the ABI: pass only the fields we fill, so older kernels accept it.
    fields = [handled, net, scoped][:3 if scoped else 2 if net else 1]
    attr = (ctypes.c_uint64 * len(fields))(*fields)
    try:
        ruleset = _syscall("create_ruleset", ctypes.addressof(attr), ctypes.sizeof(attr), 0)
    except OSError as e:
        raise OSError(e.errno, f"Landlock ABI {abi} is supported but creating a ruleset failed: {e.strerror}")
    try:
        reading = FS_READ_FILE | FS_READ_DIR | (FS_EXECUTE if executable else 0)
        for paths, rights in ((read_only, reading), (read_write, handled)):
            for path in paths:
                _allow(ruleset, os.fspath(path), rights & handled)
        _no_new_privs()
        try:
            _syscall("restrict_self", ruleset, _RESTRICT_SELF_TSYNC if abi >= 8 else 0)
        except OSError as e:
            raise OSError(e.errno, f"Landlock ABI {abi}: restricting this process failed: {e.strerror}")
    finally:
        os.close(ruleset)
    return abi


def _allow(ruleset, path, rights):
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        rule = _PathBeneath(rights, fd)
        _syscall("add_rule", ruleset, _RULE_PATH_BENEATH, ctypes.addressof(rule), 0)
    except OSError as e:
        raise OSError(e.errno, f"Landlock: allowing {path!r} (rights {rights:#x}) failed: {e.strerror}")
    finally:
        os.close(fd)


def default_read_paths():
    """What a Python + torch worker reads: the interpreter, its libraries and the system's. Not /home,
    /root, /work, /tmp, /var, /srv, /opt, unless the interpreter lives there."""
    executable = os.path.realpath(sys.executable)
    paths = [
        sys.prefix, sys.exec_prefix,               # the venv: site-packages (torch, numpy), pyvenv.cfg
        sys.base_prefix, sys.base_exec_prefix,     # the install the venv links to: the standard library
        os.path.dirname(executable),               # the real interpreter binary
        os.path.dirname(os.path.dirname(executable)),  # and its install root (its lib/, share/)
        *sysconfig.get_paths().values(),           # stdlib, platlib... wherever this build put them
        *site.getsitepackages(),                   # site-packages (some may be outside the prefixes)
        *(p for p in sys.path if p.endswith(("site-packages", "dist-packages"))),
        "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin",  # system libraries (libc, libgomp, ld.so)
        "/etc",                                    # ld.so.cache, localtime, passwd, ssl: no course data
        "/proc",                                   # /proc/self/*, cpuinfo, meminfo (torch, psutil)
        "/sys",                                    # cpu topology and caches (torch, OpenMP)
        "/dev",                                    # urandom, null, shm: read only (see default_write_paths)
    ]
    kept = []
    for p in sorted({os.path.normpath(p) for p in paths if p and os.path.isabs(p)}):
        # "/" would allow everything; a path beneath one already kept adds nothing.
        if p != "/" and not any(p.startswith(k + "/") for k in kept):
            kept.append(p)
    return kept


def default_write_paths():
    """Files any process expects to write: /dev/null (subprocess.DEVNULL, os.devnull). Add your scratch."""
    return ["/dev/null"]
