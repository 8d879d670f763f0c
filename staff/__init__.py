"""Course staff's tools (python -m staff VERB): they run in a checkout of this repository, never on
Gradescope, and are not in the package."""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
