"""autograder/worker/landlock.py: each test runs a child Python that confines itself, then tries things."""
import errno
import json
import os
import socket
import subprocess
import textwrap

import pytest

from helpers import PYTHON, REPO
from autograder.worker import landlock

ABI = landlock.abi_version()
needs_landlock = pytest.mark.skipif(ABI == 0, reason="this kernel has no usable Landlock (abi_version() == 0)")

PRELUDE = """\
import json, os, sys
sys.path.insert(0, {repo!r})
from autograder.worker import landlock
results = {{}}

def probe(name, action):
    try:
        value = action()
        results[name] = ["ok", value if isinstance(value, (str, int, float, list, type(None))) else repr(value)]
    except Exception as e:
        results[name] = [type(e).__name__, str(e)]

def write(path, text):
    with open(path, "w") as f:
        return f.write(text)

def read(path):
    with open(path) as f:
        return f.read()
"""


def run_confined(tmp_path, body, before="", read_only=None, read_write=(), **options):
    """Run `before`, confine (default read paths unless read_only is given), run `body`; the probes' results."""
    read_only = landlock.default_read_paths() if read_only is None else read_only
    script = (PRELUDE.format(repo=str(REPO)) + textwrap.dedent(before)
              + f"results['abi'] = landlock.confine({[str(p) for p in read_only]!r}, "
                f"{[str(p) for p in read_write]!r}, **{options!r})\n"
              + textwrap.dedent(body) + "print(json.dumps(results))\n")
    (tmp_path / "child.py").write_text(script)
    done = subprocess.run([str(PYTHON), str(tmp_path / "child.py")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results.pop("abi") == ABI
    return results


def ok(result):
    return result[0] == "ok"


def refused(result, error="PermissionError"):
    return result[0] == error


@pytest.fixture
def scratch(tmp_path):
    (tmp_path / "scratch").mkdir()
    return tmp_path / "scratch"


@needs_landlock
def test_a_readable_file_outside_the_rules_is_refused(tmp_path, scratch):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "answer.py").write_text("ANSWER = 42\n")
    os.chmod(secret / "answer.py", 0o644)
    results = run_confined(tmp_path, f"""
        probe("read", lambda: read({str(secret / 'answer.py')!r}))
        probe("list", lambda: os.listdir({str(secret)!r}))
        probe("via /proc/self/root", lambda: read("/proc/self/root" + {str(secret / 'answer.py')!r}))
    """, before=f"""
        probe("read before", lambda: read({str(secret / 'answer.py')!r}))
    """, read_write=[scratch])
    assert results["read before"] == ["ok", "ANSWER = 42\n"]
    assert refused(results["read"]) and refused(results["list"]) and refused(results["via /proc/self/root"])


@needs_landlock
def test_read_only_and_read_write_paths(tmp_path, scratch):
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    (shelf / "data.txt").write_text("data")
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "allowed.txt").write_text("allowed")
    (lone / "sibling.txt").write_text("sibling")
    results = run_confined(tmp_path, f"""
        import numpy
        probe("numpy", lambda: float(numpy.arange(4).sum()))
        probe("read shelf", lambda: read({str(shelf / 'data.txt')!r}))
        probe("list shelf", lambda: os.listdir({str(shelf)!r}))
        probe("create in shelf", lambda: write({str(shelf / 'new.txt')!r}, "x"))
        probe("overwrite in shelf", lambda: write({str(shelf / 'data.txt')!r}, "x"))
        probe("delete in shelf", lambda: os.remove({str(shelf / 'data.txt')!r}))
        probe("mkdir in shelf", lambda: os.mkdir({str(shelf / 'sub')!r}))
        s = {str(scratch)!r}
        probe("create in scratch", lambda: write(s + "/a.txt", "hello"))
        probe("read back", lambda: read(s + "/a.txt"))
        probe("mkdir in scratch", lambda: os.mkdir(s + "/sub"))
        probe("rename in scratch", lambda: os.rename(s + "/a.txt", s + "/sub/b.txt"))
        probe("truncate in scratch", lambda: os.truncate(s + "/sub/b.txt", 1))
        probe("delete in scratch", lambda: os.remove(s + "/sub/b.txt"))
        probe("rmdir in scratch", lambda: os.rmdir(s + "/sub"))
        probe("single file", lambda: read({str(lone / 'allowed.txt')!r}))
        probe("its sibling", lambda: read({str(lone / 'sibling.txt')!r}))
        probe("dev null", lambda: write("/dev/null", "discarded"))
        import subprocess
        probe("exec", lambda: subprocess.run(["/bin/true"]).returncode)
    """, read_only=[*landlock.default_read_paths(), shelf, lone / "allowed.txt", tmp_path / "missing"],
        read_write=[scratch, *landlock.default_write_paths()])
    for name in ("numpy", "read shelf", "list shelf", "create in scratch", "read back", "mkdir in scratch",
                 "rename in scratch", "truncate in scratch", "delete in scratch", "rmdir in scratch",
                 "single file", "dev null", "exec"):
        assert ok(results[name]), (name, results[name])
    for name in ("create in shelf", "overwrite in shelf", "delete in shelf", "mkdir in shelf", "its sibling"):
        assert refused(results[name]), (name, results[name])
    assert results["read shelf"] == ["ok", "data"] and os.listdir(scratch) == []


@needs_landlock
def test_not_executable_and_dev_null_read_only(tmp_path, scratch):
    results = run_confined(tmp_path, """
        import subprocess
        probe("exec", lambda: subprocess.run(["/bin/true"]).returncode)
        probe("dev null", lambda: write("/dev/null", "x"))
        probe("read dev null", lambda: read("/dev/null"))
    """, read_write=[scratch], executable=False)
    assert refused(results["exec"]) and refused(results["dev null"]) and ok(results["read dev null"])


@needs_landlock
def test_the_checkout_is_hidden_but_the_venv_inside_it_is_not(tmp_path, scratch):
    results = run_confined(tmp_path, f"""
        probe("list checkout", lambda: os.listdir({str(REPO)!r}))
        probe("list autograder", lambda: os.listdir({str(REPO / 'autograder')!r}))
        probe("read grader", lambda: read({str(REPO / 'autograder' / 'grade.py')!r}))
        probe("list reference", lambda: os.listdir({str(REPO / 'reference')!r}))
        probe("list venv", lambda: sorted(os.listdir(sys.prefix)))
    """, read_write=[scratch])
    for name in ("list checkout", "list autograder", "read grader", "list reference"):
        assert refused(results[name]), (name, results[name])
    assert ok(results["list venv"]) and "bin" in results["list venv"][1]


@needs_landlock
@pytest.mark.skipif(ABI < 4, reason=f"TCP rules need Landlock ABI 4 (this kernel: {ABI})")
def test_deny_network_refuses_tcp(tmp_path, scratch):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        body = f"""
            import socket
            probe("connect", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=5).close())
            probe("bind", lambda: socket.create_server(("127.0.0.1", 0)).close())
        """
        denied = run_confined(tmp_path, body, read_write=[scratch], deny_network=True)
        allowed = run_confined(tmp_path, body, read_write=[scratch], deny_network=False)
    assert refused(denied["connect"]) and refused(denied["bind"])
    assert ok(allowed["connect"]) and ok(allowed["bind"])  # the control: the refusal is Landlock's


@needs_landlock
@pytest.mark.skipif(ABI < 6, reason=f"scoping needs Landlock ABI 6 (this kernel: {ABI})")
def test_scope_refuses_signals_outside_the_sandbox(tmp_path, scratch):
    body = """
        probe("signal parent", lambda: os.kill(os.getppid(), 0))
        probe("signal self", lambda: os.kill(os.getpid(), 0))
    """
    scoped = run_confined(tmp_path, body, read_write=[scratch])
    unscoped = run_confined(tmp_path, body, read_write=[scratch], scope=False)
    assert refused(scoped["signal parent"]) and ok(scoped["signal self"])
    assert ok(unscoped["signal parent"])


TORCH_WORK = """
    import torch
    def train():
        torch.manual_seed(0)
        layer = torch.nn.Linear(8, 4)
        x = torch.randn(16, 8)
        layer(x).pow(2).mean().backward()
        image = torch.randn(2, 3, 16, 16)
        y = torch.nn.functional.conv2d(image, torch.randn(5, 3, 3, 3), padding=1)
        torch.save(layer.state_dict(), os.path.join(SCRATCH, "layer.pt"))
        torch.load(os.path.join(SCRATCH, "layer.pt"))
        return [list(y.shape), bool(layer.weight.grad.abs().sum() > 0)]
    probe("torch", train)
    probe("grader", lambda: read(GRADER))
"""


@needs_landlock
@pytest.mark.parametrize("when", ["after import", "before import"])
def test_torch_works_when_confined(tmp_path, scratch, when):
    constants = f"SCRATCH = {str(scratch)!r}\nGRADER = {str(REPO / 'autograder' / 'grade.py')!r}\n"
    before = constants + ("import torch\n" if when == "after import" else "")
    results = run_confined(tmp_path, TORCH_WORK, before=before,
                           read_write=[scratch, *landlock.default_write_paths()])
    assert results["torch"] == ["ok", [[2, 5, 16, 16], True]], results["torch"]
    assert refused(results["grader"])


def test_rights_follow_the_abi():
    assert landlock.fs_rights(1) == (1 << 13) - 1
    assert landlock.fs_rights(2) == (1 << 14) - 1
    assert landlock.fs_rights(3) == landlock.fs_rights(4) == (1 << 15) - 1
    assert landlock.fs_rights(5) == landlock.fs_rights(7) == (1 << 16) - 1


def test_default_read_paths_are_minimal():
    paths = landlock.default_read_paths()
    assert "/usr" in paths and "/etc" in paths and "/" not in paths
    for forbidden in ("/root", "/home", "/work", "/tmp", "/var", "/srv", str(REPO), str(REPO / "autograder")):
        assert forbidden not in paths
    assert all(not p.startswith(str(REPO) + "/") or p.startswith(str(REPO / ".venv")) for p in paths)


def test_abi_version_and_unavailable_landlock(monkeypatch):
    assert isinstance(ABI, int) and ABI >= 0
    for code in (errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        def failing(name, *args, code=code):
            raise OSError(code, os.strerror(code))
        monkeypatch.setattr(landlock, "_syscall", failing)
        assert landlock.abi_version() == 0
        assert landlock.confine(["/usr"], ["/tmp"]) == 0  # nothing happens, no exception


def test_an_unexpected_failure_raises(monkeypatch):
    def flaky(name, *args):
        if args[-1] == 1:  # the version query: pretend ABI 7
            return 7
        raise OSError(errno.EINVAL, "Invalid argument")  # then creating the ruleset fails
    monkeypatch.setattr(landlock, "_syscall", flaky)
    monkeypatch.setattr(landlock.platform, "machine", lambda: "x86_64")
    with pytest.raises(OSError, match="supported but creating a ruleset failed"):
        landlock.confine(["/usr"], [])
