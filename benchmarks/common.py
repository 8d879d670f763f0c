"""What the benchmark scripts share: where the project and its Python are, copying a submission."""
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
sys.path.insert(0, str(REPO))
from autograder.selfcheck.surface import GRADED_FILES  # noqa: E402


def copy_graded(source, destination):
    """The graded files of `source` into `destination`, keeping their paths."""
    for f in GRADED_FILES:
        (Path(destination) / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(source) / f, Path(destination) / f)
    return Path(destination)
