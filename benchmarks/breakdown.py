"""Where one grading's CPU time goes, by process and by phase: a standalone grading (a new judge, a
worker started as a new interpreter) or a regraded one (a warm judge, a worker forked from a template).

    .venv/bin/python benchmarks/breakdown.py standalone SUBMISSION OUT.json
    .venv/bin/python benchmarks/breakdown.py template SUBMISSION OUT.json [--copies N]

`standalone` grades once in this fresh process, as `python -m autograder grade` does; `template`
grades N copies in this process with one slot and one worker template, as one regrade job does.
Run as root, this process first moves itself into a cpuacct cgroup of its own, so that every process
of the grading (judge, guardian, template, forked workers, whatever session or user they move to) is
counted; the rows of the table add up to it (tests/test_cost.py).

The phases are measured from outside the sandbox's code, by wrapping its functions in this process:
the judge's CPU (getrusage), its reaped helpers (the guardian, rm, the kill forks), the template's
own CPU and the CPU of what it reaped (/proc/PID/stat), and the worker's CPU and minor page faults
(copy-on-write shows there) read from /proc each time it reports a start-up event. grade() itself is
run unchanged. regrade_benchmark.py runs both and prints them side by side (print_side_by_side).
"""
import json
import os
import resource
import sys
import time
from pathlib import Path

from common import REPO, CpuCgroup

from autograder import sandbox
from autograder.grade import grade, load_config
from autograder.sandbox import watch as watch_module, worker as worker_module
from autograder.timing import Profile

TICKS = os.sysconf("SC_CLK_TCK")


def _own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid):
    """(own CPU s, CPU s of the children it has reaped, minor page faults) of `pid`; zeros once gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0, 0
    return (int(fields[11]) + int(fields[12])) / TICKS, (int(fields[13]) + int(fields[14])) / TICKS, int(fields[7])


class Recorder:
    """Wraps the sandbox's functions for the life of this process and adds each one's cost to `phases`:
    {(process, phase): CPU seconds} of the grading under way (`begin()` starts a new one)."""

    def __init__(self, zygote=None):
        self.zygote = zygote
        self.begin()
        self._wrap(sandbox.Scratch, "__init__", self._judge("judge", "scratch folder: lay out, record"))
        self._wrap(sandbox.Scratch, "remove", self._judge("judge", "scratch folder: remove"))
        self._wrap(sandbox.Guardian, "__init__", self._judge("judge", "guardian: fork, stop"))
        self._wrap(sandbox.Guardian, "close", self._judge("judge", "guardian: fork, stop"))
        self._wrap(worker_module.Worker, "stop", self._stopping)
        self._wrap(worker_module.Worker, "_spawn", self._spawning)
        self._wrap(worker_module.Worker, "_receive", self._received)
        self._wrap(worker_module.Worker, "call", self._called)
        self._wrap(sandbox.Zygote, "fork", self._forking)
        self._wrap(watch_module.Watch, "check", self._judge("judge", "the watch of the worker (memory: smaps_rollup; processes; disk)"))
        self._wrap(watch_module.Watch, "run_delay_s", self._judge("judge", "the clock of the worker (schedstat reads)"))

    def begin(self):
        self.phases, self.faults, self.requests, self.workers = {}, {}, 0, 0
        self._worker_mark = None   # (cpu, minor faults, event) of the running worker's last event

    def add(self, process, phase, seconds):
        self.phases[(process, phase)] = self.phases.get((process, phase), 0.0) + seconds

    @staticmethod
    def _wrap(cls, name, wrapper):
        original = getattr(cls, name)
        setattr(cls, name, lambda self, *a, **k: wrapper(original, self, *a, **k))

    def _judge(self, process, phase):
        def wrapper(original, obj, *args, **kwargs):
            before = _own_cpu() + children_cpu()
            try:
                return original(obj, *args, **kwargs)
            finally:
                self.add(process, phase, _own_cpu() + children_cpu() - before)
        return wrapper

    # The worker: its CPU between its start-up events, then per test (grade's own Profile), then at stop.
    # Its CPU is read when the judge receives an event, so a phase includes the little the worker did
    # between sending it and the judge's read.
    def _spawning(self, original, worker, *args, **kwargs):
        self.workers += 1
        self._worker_mark = None
        return original(worker, *args, **kwargs)

    def _received(self, original, worker, *args, **kwargs):
        message = original(worker, *args, **kwargs)
        event = message.get("event") if isinstance(message, dict) else None
        if worker.process is None or event not in ("starting", "importing", "ready"):
            return message
        last = self._worker_mark
        if (event == "starting") != (last is None) or (event == "importing" and last[2] != "starting"):
            return message   # the homework's second and later files: one phase up to "ready"
        phase = {"starting": f"start: {'fork' if self.zygote else 'exec, interpreter, imports'}, up to its first message",
                 "importing": "start: confine (Landlock, seccomp), torch, the grader's modules, snapshot",
                 "ready": "start: import the homework"}[event]
        cpu, _, faults = process_cpu(worker.process.pid)
        self.add("worker", phase, cpu - (last[0] if last else 0.0))
        self.faults[phase] = self.faults.get(phase, 0) + faults - (last[1] if last else 0)
        self._worker_mark = (cpu, faults, event)
        return message

    def _called(self, original, worker, *args, **kwargs):
        self.requests += 1
        return original(worker, *args, **kwargs)

    def _stopping(self, original, worker, *args, **kwargs):
        own = 0.0
        if worker.process is not None:
            own, _, faults = process_cpu(worker.process.pid)
            self.faults["whole life"] = self.faults.get("whole life", 0) + faults
            self.add("worker", "whole life", own)
        phase = "stop the worker: kill its session and user, clear /tmp of it"
        result = self._judge("judge", phase)(original, worker, *args, **kwargs)
        if self.zygote is None:   # a started worker is the judge's child: reaping it is not the judge's CPU
            self.add("judge", phase, -own)
        return result

    def _forking(self, original, zygote, *args, **kwargs):
        before = process_cpu(zygote.process.pid)[0]
        result = original(zygote, *args, **kwargs)
        self.add("template", "fork (copy the page tables)", process_cpu(zygote.process.pid)[0] - before)
        return result


def grade_once(submission, results_path, slot, zygote, recorder):
    """One grading's {"phases": [[process, phase, CPU s]], ...}, grade()'s own Profile included."""
    recorder.begin()
    judge_before, helpers_before, started = _own_cpu(), children_cpu(), time.monotonic()
    template_before = process_cpu(zygote.process.pid) if zygote else (0.0, 0.0, 0)
    profile = Profile()
    outcome = grade(submission, results_path, quiet=True, slot=slot, zygote=zygote, profile=profile)
    wall = time.monotonic() - started
    for phase in profile.phases[1:]:   # the worker's CPU per test, from grade()'s own profile
        if phase["phase"].startswith("test "):
            recorder.add("worker", phase["phase"], phase["worker_cpu_s"])
    judge = _own_cpu() - judge_before
    helpers = children_cpu() - helpers_before
    worker_reaped = recorder.phases.get(("worker", "whole life"), 0.0) if zygote is None else 0.0
    listed = sum(s for (p, _), s in recorder.phases.items() if p == "judge")
    recorder.add("judge", "the rest: checks, hypothesis, channel, results", judge + helpers - worker_reaped - listed)
    template_after = process_cpu(zygote.process.pid) if zygote else (0.0, 0.0, 0)
    totals = {"judge and its helpers (guardian, rm, kill forks)": judge + helpers - worker_reaped,
              "template (its own: forks)": template_after[0] - template_before[0],
              "worker": (template_after[1] - template_before[1]) if zygote else worker_reaped}
    return {"wall_s": wall, "score": outcome["score"], "phases": [[p, n, s] for (p, n), s in recorder.phases.items()],
            "faults": recorder.faults, "requests": recorder.requests, "workers": recorder.workers, "totals": totals}


def request_overhead(out, repeats=300):
    """What the worker does around each probe request, in a process set up as serve() sets up a worker
    (torch, torch._dynamo, the grader's modules, the same integrity snapshot): milliseconds of CPU of
    each step, written to `out`."""
    sys.path.insert(0, str(REPO / "autograder"))   # as the worker's scratch folder holds worker/, selfcheck/
    import torch
    import torch._dynamo  # noqa: F401
    from selfcheck import channel, homework, probes  # noqa: F401
    from hidden import probes as hidden_probes  # noqa: F401
    from selfcheck.probes import PROBES
    from worker import integrity, limits, serve
    torch.set_num_threads(1)
    snapshot = integrity.Snapshot([*probes.MODULES, hidden_probes, homework, channel, integrity, serve],
                                  tables=[("PROBES", PROBES)])   # as the worker records it (serve.py)
    settings = serve.torch_globals(torch)

    def each(step):
        started = time.process_time()
        for _ in range(repeats):
            step()
        return (time.process_time() - started) / repeats * 1000

    Path(out).write_text(json.dumps({
        "integrity check (twice per request)": 2 * each(snapshot.changed),
        "torch settings compared, restored": each(lambda: serve.restore_torch_globals(torch, settings)),
        "torch.manual_seed": each(lambda: torch.manual_seed(0)),
        "freed heap handed back (malloc_trim)": each(limits.release_memory),
        "names and functions watched": len(snapshot.names) + len(snapshot.code)}))


def main():
    if sys.argv[1] == "requests":
        return request_overhead(sys.argv[2])
    mode, submission, out = sys.argv[1:4]
    copies = int(sys.argv[sys.argv.index("--copies") + 1]) if "--copies" in sys.argv else 1
    judge_start = _own_cpu()   # the interpreter and the judge's imports, as `python -m autograder` pays them
    group = CpuCgroup()   # before anything else is started: the template and guardian are born inside
    slot = sandbox.acquire_slot()
    template_cpu, zygote = 0.0, None
    if mode == "template":
        zygote = sandbox.Zygote(load_config()["limits"])
        template_cpu = process_cpu(zygote.process.pid)[0]
    recorder = Recorder(zygote)
    gradings = []
    for k in range(copies):
        cgroup_before = group.cpu_s()
        grading = grade_once(submission, f"{out}.results-{k}.json", slot, zygote, recorder)
        cgroup_after = group.cpu_s()
        grading["cgroup_cpu_s"] = None if cgroup_before is None else cgroup_after - cgroup_before
        gradings.append(grading)
    if zygote is not None:
        zygote.close()
    slot.release()
    total = group.cpu_s()
    group.remove()
    Path(out).write_text(json.dumps({
        "mode": mode, "judge_start_cpu_s": judge_start, "template_start_cpu_s": template_cpu,
        "cgroup_total_cpu_s": total, "gradings": gradings}, indent=1))
    for k in range(copies):
        Path(f"{out}.results-{k}.json").unlink(missing_ok=True)


def measure(mode, submission, copies=1):
    """Run this file as a fresh process (`standalone`: `copies` processes, one grading each, as `python -m
    autograder grade`; `template`: one process grading `copies` copies, in the environment regrade gives
    its jobs) and return what each wrote."""
    import subprocess
    import tempfile
    from common import PYTHON
    from autograder import regrade
    pool_environment = getattr(regrade, "POOL_ENVIRONMENT", {})   # none before it was introduced
    env = {**pool_environment, **os.environ} if mode == "template" else None   # as regrade's jobs run
    runs = []
    with tempfile.TemporaryDirectory(prefix="breakdown-") as tmp:
        for k in range(copies if mode == "standalone" else 1):
            out = f"{tmp}/{mode}-{k}.json"
            done = subprocess.run([PYTHON, __file__, mode, str(submission), out,
                                   "--copies", "1" if mode == "standalone" else str(copies)],
                                  cwd=REPO / "benchmarks", env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"breakdown {mode} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
            runs.append(json.loads(Path(out).read_text()))
    return runs


def measure_requests():
    """{step: CPU ms per probe request} of the worker's work around each request (request_overhead)."""
    import subprocess
    import tempfile
    from common import PYTHON
    with tempfile.TemporaryDirectory(prefix="breakdown-") as tmp:
        subprocess.run([PYTHON, __file__, "requests", f"{tmp}/requests.json"], cwd=REPO / "benchmarks", check=True,
                       env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        return json.loads(Path(f"{tmp}/requests.json").read_text())


def print_requests(steps, requests):
    watched = steps.pop("names and functions watched")
    total = sum(steps.values())
    print(f"\nworker, around each probe request ({requests:.0f} per grading; the snapshot watches {watched} names "
          f"and functions): {total:.2f} ms per request, {total * requests / 1000:.2f} s per grading")
    for step, ms in steps.items():
        print(f"  {step:<44} {ms:6.3f} ms  {ms * requests / 1000:5.2f} s per grading")


def _median(values):
    import statistics
    return statistics.median(values) if values else 0.0


def rows(runs, per_job=None):
    """[(process, phase, median CPU s per grading)] in the order first seen, with the fixed costs first:
    a standalone grading's judge start; a job's judge and template start spread over its gradings."""
    gradings = [g for run in runs for g in run["gradings"]]
    if per_job:   # regrade: one judge and one template per job
        fixed = [("judge", "start: interpreter, imports (once per job)", _median([r["judge_start_cpu_s"] for r in runs]) / per_job),
                 ("template", "start: interpreter, torch, torch._dynamo (once per job)",
                  _median([r["template_start_cpu_s"] for r in runs]) / per_job)]
    else:
        fixed = [("judge", "start: interpreter, imports", _median([r["judge_start_cpu_s"] for r in runs]))]
    order = []
    for g in gradings:
        for process, phase, _ in g["phases"]:
            if (process, phase) not in order and phase != "whole life":
                order.append((process, phase))
    out = list(fixed)
    for key in order:
        values = [dict(((p, n), s) for p, n, s in g["phases"]).get(key, 0.0) for g in gradings]
        out.append((*key, _median(values)))
    rest = [dict(((p, n), s) for p, n, s in g["phases"]).get(("worker", "whole life"), 0.0)
            - sum(s for p, n, s in g["phases"] if p == "worker" and n != "whole life") for g in gradings]
    out.append(("worker", "the rest: between tests, after the last", _median(rest)))
    return out


def summary(runs, per_job=None):
    """Median per grading: wall, cgroup CPU, the sum of the rows, requests, worker page faults."""
    gradings = [g for run in runs for g in run["gradings"]]
    return {"wall_s": _median([g["wall_s"] for g in gradings]),
            "cgroup_cpu_s": _median([g["cgroup_cpu_s"] for g in gradings if g["cgroup_cpu_s"] is not None]) or None,
            "requests": _median([g["requests"] for g in gradings]),
            "workers": _median([g["workers"] for g in gradings]),
            "faults": {k: _median([g["faults"].get(k, 0) for g in gradings]) for g in gradings[:1] for k in g["faults"]},
            "scores": sorted({g["score"] for g in gradings}),
            "totals": {k: _median([g["totals"][k] for g in gradings]) for k in gradings[0]["totals"]}}


STARTS = ("start: interpreter", "start: exec", "start: fork", "start: confine", "start: import")


def _row_order(key):
    """judge, template, worker; within each: start-up (in the order it happens), per grading, each
    test in order, stopping, the rest."""
    process, phase = key
    kind = (0 if phase.startswith("start") else 3 if phase.startswith("test ") else 5 if phase.startswith("the rest")
            else 4 if phase.startswith("stop") or phase.endswith("remove") else 2 if phase.startswith("the ") else 1)
    step = next((i for i, s in enumerate(STARTS) if phase.startswith(s)), 0)
    number = tuple(int(x) for x in phase[5:].split(".")) if kind == 3 else ()
    return ("judge", "template", "worker").index(process), kind, step, number, phase


def print_side_by_side(standalone, template, per_job):
    """The table: one row per (process, phase), a standalone grading's CPU seconds beside a regraded one's."""
    left, right = rows(standalone), rows(template, per_job)
    keys = sorted({(p, n) for p, n, _ in left + right}, key=_row_order)
    lv, rv = {(p, n): s for p, n, s in left}, {(p, n): s for p, n, s in right}
    print(f"\nCPU seconds of one grading (median of {sum(len(r['gradings']) for r in standalone)} standalone, "
          f"{sum(len(r['gradings']) for r in template)} regraded by one job)")
    print(f"{'process':<9} {'phase':<66} {'standalone':>10} {'regraded':>9}")
    cell = lambda table, key: f"{table[key]:.2f}" if key in table else "-"
    for key in keys:
        print(f"{key[0]:<9} {key[1]:<66} {cell(lv, key):>10} {cell(rv, key):>9}")
    ls, rs = summary(standalone), summary(template, per_job)
    print(f"{'':<9} {'sum of the rows (the start-up rows included)':<66} {sum(lv.values()):>10.2f} {sum(rv.values()):>9.2f}")
    fmt = lambda v: "n/a" if v is None else f"{v:.2f}"
    print(f"{'':<9} {'all processes of the grading (its cpuacct cgroup; no fixed costs)':<66} "
          f"{fmt(ls['cgroup_cpu_s']):>10} {fmt(rs['cgroup_cpu_s']):>9}")
    print(f"{'':<9} {'wall seconds of the grading':<66} {ls['wall_s']:>10.2f} {rs['wall_s']:>9.2f}")
    for name, s in (("standalone", ls), ("regraded", rs)):
        print(f"{name}: {s['requests']:.0f} probe requests, {s['workers']:.0f} worker(s), scores {s['scores']}; "
              "worker minor page faults: " + ", ".join(f"{k} {v:.0f}" for k, v in s["faults"].items()))


if __name__ == "__main__":
    main()
