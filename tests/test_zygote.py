"""The worker template (regrade): workers forked from it grade exactly as freshly started ones, and a
submission sees nothing of the one graded before it from the same template."""
import os
import shutil

import pytest

from apply import apply_variant, load_variants
from helpers import REFERENCE, REPO, submission_from

from autograder import sandbox
from autograder.grade import grade, load_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the template drops each worker to a slot's user (root)")
CONFIG = load_config()


def strip(outcome):
    return {k: v for k, v in outcome.items() if k != "execution_time"}


@pytest.fixture(scope="module")
def template():
    with sandbox.acquire_slot() as slot:
        zygote = sandbox.Zygote(CONFIG["limits"])
        try:
            yield slot, zygote
        finally:
            zygote.close()


def wrong_submission(folder):
    corpus = {v["name"]: v for v in load_variants(REPO / "tests" / "corpus" / "accuracy")}
    sub = apply_variant(REFERENCE, corpus["std_for_variance"], folder / "sub")
    vae = apply_variant(REFERENCE, corpus["vae_sum_over_batch"], folder / "vae")
    shutil.copyfile(vae / "models" / "vae.py", sub / "models" / "vae.py")
    return sub


def test_a_forked_worker_grades_exactly_as_a_started_one(template, tmp_path):
    slot, zygote = template
    sub = wrong_submission(tmp_path)
    forked = grade(sub, None, quiet=True, slot=slot, zygote=zygote)
    started = grade(sub, None, quiet=True, slot=slot)
    assert forked["score"] < 100
    assert strip(forked) == strip(started)


def test_the_submission_runs_with_the_cyclic_collector_on(template, tmp_path):
    """The worker starts with the collector off and freezes what its start made (serve.freeze_the_start);
    the homework must find it on again, in a started worker and in a forked one, or its garbage cycles
    would never be freed."""
    slot, zygote = template
    sub = submission_from(REFERENCE, tmp_path / "sub")
    (sub / "utils.py").write_text((sub / "utils.py").read_text() + (
        "\nimport gc\nif not gc.isenabled() or gc.get_freeze_count() == 0:\n"
        "    raise RuntimeError('the collector is off, or the start was not frozen')\n"))
    for outcome in (grade(sub, None, quiet=True, slot=slot, zygote=zygote), grade(sub, None, quiet=True, slot=slot)):
        assert outcome["score"] == 100, [t.get("output", "")[:200] for t in outcome["tests"] if t["score"] < t["max_score"]]


def test_a_submission_sees_nothing_of_the_one_before_it(template, tmp_path):
    slot, zygote = template
    hostile = submission_from(REFERENCE, tmp_path / "hostile")
    (hostile / "utils.py").write_text((hostile / "utils.py").read_text() + (
        "\nimport sys, torch, numpy\n"
        "torch.randn_like = lambda t, **k: torch.zeros_like(t)   # sabotage, in its own process only\n"
        "numpy.mean = lambda *a, **k: 0.0\n"
        "sys.modules['left_behind'] = object()\n"
        "open(__import__('tempfile').gettempdir() + '/left_behind.txt', 'w').write('x')\n"))
    grade(hostile, None, quiet=True, slot=slot, zygote=zygote)
    honest = submission_from(REFERENCE, tmp_path / "honest")
    (honest / "diffusion.py").write_text((honest / "diffusion.py").read_text() + (
        "\nimport sys, os, tempfile\n"
        "assert 'left_behind' not in sys.modules and not os.listdir(tempfile.gettempdir()), 'saw the last submission'\n"))
    outcome = grade(honest, None, quiet=True, slot=slot, zygote=zygote)
    assert outcome["score"] == 100, [t["output"] for t in outcome["tests"] if t["status"] != "passed"]


def test_the_template_works_in_a_process_with_a_default_socket_timeout(tmp_path):
    """The experiments' download sets socket.setdefaulttimeout; sockets made afterwards are non-blocking."""
    import socket
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(5)
    try:
        with sandbox.acquire_slot() as slot:
            zygote = sandbox.Zygote(CONFIG["limits"])
            try:
                outcome = grade(submission_from(REFERENCE, tmp_path / "sub"), None, quiet=True, slot=slot, zygote=zygote)
            finally:
                zygote.close()
    finally:
        socket.setdefaulttimeout(previous)
    assert outcome["score"] == 100, [t["output"] for t in outcome["tests"] if t["status"] != "passed"][:3]
