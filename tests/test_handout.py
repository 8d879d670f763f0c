"""The handout is generated from the reference, committed in sync, and keeps no solution."""
import re
import subprocess

import pytest

from helpers import HANDOUT, PYTHON, REFERENCE, REPO, homework

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def solution_regions(text):
    return re.findall(rf"{re.escape(BEGIN)}\n(.*?){re.escape(END)}", text, re.S)


def test_committed_handout_is_what_the_generator_writes():
    result = subprocess.run([PYTHON, "-m", "staff", "handout", "--check"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_reports_a_stale_handout(tmp_path, monkeypatch):
    import staff.handout as handout
    stale = tmp_path / "student_template"
    handout.generate(stale)
    (stale / "utils.py").write_text("# edited by hand\n")
    monkeypatch.setattr(handout, "TEMPLATE", stale)
    assert handout.main(["--check"]) == 1


def test_no_line_of_any_solution_remains_in_the_handout():
    checked = 0
    for source in REFERENCE.rglob("*.py"):
        regions = solution_regions(source.read_text())
        if not regions:
            continue
        handout_text = (HANDOUT / source.relative_to(REFERENCE)).read_text()
        assert BEGIN not in handout_text and END not in handout_text
        handout_lines = {line.strip() for line in handout_text.splitlines()}
        for region in regions:
            for line in region.splitlines():
                if len(line.strip()) > 12:
                    assert line.strip() not in handout_lines, f"{source.name}: {line.strip()!r} leaked"
                    checked += 1
    assert checked >= 15


def test_staff_tools_are_not_in_the_handout():
    assert not (HANDOUT / "golden.py").exists() and not (HANDOUT / "handout.py").exists()


CALLS = {
    "utils.sample_gaussian": lambda hw, torch: hw.utils.sample_gaussian(torch.zeros(2), torch.ones(2)),
    "VAE.negative_elbo_bound": lambda hw, torch: hw.vae.VAE(z_dim=2).negative_elbo_bound(torch.zeros(1, 784)),
    "discriminator_loss": lambda hw, torch: hw.gan.discriminator_loss(torch.zeros(2), torch.zeros(2)),
    "generator_loss_minimax": lambda hw, torch: hw.gan.generator_loss_minimax(torch.zeros(2)),
    "generator_loss_nonsaturating": lambda hw, torch: hw.gan.generator_loss_nonsaturating(torch.zeros(2)),
    "GAN.loss_nonsaturating": lambda hw, torch: hw.gan.GAN(z_dim=2).loss_nonsaturating(torch.zeros(2, 784), device="cpu"),
    "alpha_bars": lambda hw, torch: hw.diffusion.alpha_bars(torch.ones(2) * 0.1),
    "q_xt_given_x0": lambda hw, torch: hw.diffusion.q_xt_given_x0(torch.zeros(2), 1, torch.ones(2) * 0.1),
    "q_posterior": lambda hw, torch: hw.diffusion.q_posterior(torch.zeros(2), torch.zeros(2), 1, torch.ones(2) * 0.1),
    "fisher_diagonal": lambda hw, torch: hw.ewc.fisher_diagonal(torch.nn.Linear(2, 2), [(torch.zeros(1, 2), torch.zeros(1, dtype=torch.long))]),
    "ewc_penalty": lambda hw, torch: hw.ewc.ewc_penalty(torch.nn.Linear(2, 2), {}, {}, 1.0),
}


@pytest.mark.parametrize("name", CALLS)
def test_every_stub_raises_and_names_the_function_to_write(name):
    import torch
    hw = homework(HANDOUT)
    with pytest.raises(NotImplementedError, match=re.escape(name.split(".")[-1])):
        CALLS[name](hw, torch)


def test_the_reference_passes_the_students_self_checks(tmp_path):
    import shutil
    root = tmp_path / "hw"
    shutil.copytree(REFERENCE, root, ignore=shutil.ignore_patterns("__pycache__", "data", "runs"))
    shutil.copytree(HANDOUT / "selfcheck", root / "selfcheck")
    shutil.copyfile(HANDOUT / "pytest.ini", root / "pytest.ini")
    result = subprocess.run([PYTHON, "-m", "pytest"], cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 passed" in result.stdout


def test_the_untouched_handout_fails_its_self_checks_with_clear_messages(tmp_path):
    import shutil
    root = tmp_path / "hw"
    shutil.copytree(HANDOUT, root, ignore=shutil.ignore_patterns("__pycache__", "data", "runs"))
    result = subprocess.run([PYTHON, "-m", "pytest", "-q"], cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and result.stdout.count("FAILED selfcheck") == 3
    assert "is not written yet" in result.stdout
