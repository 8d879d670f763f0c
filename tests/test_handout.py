"""The handout is generated from the reference, committed in sync, and keeps no solution."""
import os
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


def handout_copy(tmp_path, graded_from=None):
    import shutil
    root = tmp_path / "hw"
    shutil.copytree(HANDOUT, root, ignore=shutil.ignore_patterns("__pycache__", "data", "runs"))
    if graded_from is not None:
        for source in graded_from.rglob("*.py"):
            relative = source.relative_to(graded_from)
            if (root / relative).exists() and "selfcheck" not in relative.parts:
                shutil.copyfile(source, root / relative)
    return root


def students_pytest(root):
    """`pytest` in the handout folder, as on a student's terminal: pytest prints whole failure messages
    in its summary when it sees a CI variable, which would repeat every message."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "BUILD_NUMBER") and not k.startswith("PYTEST_")}
    result = subprocess.run([PYTHON, "-m", "pytest"], cwd=root, env=env, capture_output=True, text=True,
                            timeout=300)
    return result


def test_the_reference_passes_the_students_self_checks_one_per_file(tmp_path):
    result = students_pytest(handout_copy(tmp_path, graded_from=REFERENCE))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "5 passed" in result.stdout


def test_the_untouched_handout_reports_every_file_as_not_written_yet_in_one_line(tmp_path):
    result = students_pytest(handout_copy(tmp_path))
    assert result.returncode == 1 and result.stdout.count("FAILED selfcheck") == 5, result.stdout
    assert result.stdout.count("is not written yet") + result.stdout.count("are not written yet") >= 5
    assert "Traceback" not in result.stdout and "dtype" not in result.stdout and "index" not in result.stdout


def test_a_file_that_does_not_compile_fails_only_its_own_test(tmp_path):
    root = handout_copy(tmp_path, graded_from=REFERENCE)
    (root / "utils.py").write_text((root / "utils.py").read_text() + "\ndef broken(:\n")
    result = students_pytest(root)
    assert "1 failed, 4 passed" in result.stdout, result.stdout[-3000:]
    assert "SyntaxError" in result.stdout and result.stdout.count("Traceback") <= 1


def test_the_handout_computes_no_graded_quantity_and_carries_the_contract_notes():
    shipped = HANDOUT / "selfcheck"
    assert not (shipped / "numeric.py").exists() and not (shipped / "hidden_probes.py").exists()
    for name in ("public_checks.py", "expect.py", "test_selfcheck.py", "probes.py", "local.py", "homework.py"):
        text = (shipped / name).read_text()
        for computation in ("logaddexp", "np.log(", "np.exp(", "cumprod(", "numeric", "kl_normal(", "log_softmax(",
                            "v.sqrt()", "torch.sqrt(v", "trusted_sample"):   # the sample itself
            assert computation not in text, (name, computation)
    readme = (HANDOUT / "README.md").read_text()
    assert "torch.normal(m, std)" in readme and "typo" in readme
