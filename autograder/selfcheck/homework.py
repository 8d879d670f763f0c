"""Import a homework folder's graded modules, falling back to the clean handout file by file.

Used by the grading worker (on a submission) and by the self-checks (on a student's folder). A file
that fails to import costs only the checks of that file: the clean copy (whose graded functions
raise NotImplementedError) stands in for it, so the files that depend on it still import.
"""
import importlib
import importlib.util
import sys
import traceback
from pathlib import Path

from .surface import GRADED_FILES

# (module name, file) in dependency order: models.vae imports utils and models.nns.
MODULES = [
    ("utils", "utils.py"),
    ("models", "models/__init__.py"),
    ("models.nns", "models/nns.py"),
    ("models.vae", "models/vae.py"),
    ("models.gan", "models/gan.py"),
    ("diffusion", "diffusion.py"),
    ("ewc", "ewc.py"),
]
ATTRIBUTES = {"utils": "utils", "models.vae": "vae", "models.gan": "gan", "diffusion": "diffusion", "ewc": "ewc"}


class StudentImportError(Exception):
    """A probe needed a function from a graded file that did not import."""


class Homework:
    """The homework's modules the probes use, as attributes: utils, vae, gan, diffusion, ewc.

    root: the folder to import from (a submission laid over the handout).
    clean_root: the untouched handout, used for files that fail to import or are in `avoid`.
    avoid: {graded file: reason} not to import from root (e.g. it hung at import before).
    on_import(file): called before each file is imported (the worker reports it, so a hang at
    import can be blamed on the right file).
    """

    def __init__(self, root, clean_root=None, avoid=None, on_import=None):
        self.root = Path(root)
        self.clean_root = Path(clean_root) if clean_root else None
        self.import_errors = {}  # graded file -> message
        saved_path, saved_modules = list(sys.path), _pop_homework_modules()
        try:
            for name, file in MODULES:
                module = self._import(name, file, avoid or {}, on_import)
                if name in ATTRIBUTES:
                    setattr(self, ATTRIBUTES[name], module)
        finally:
            sys.path[:] = saved_path
            _pop_homework_modules()
            sys.modules.update(saved_modules)

    def require(self, file):
        """Raise StudentImportError if `file` (e.g. 'models/vae.py') did not import."""
        if file in self.import_errors:
            raise StudentImportError(self.import_errors[file])

    def _import(self, name, file, avoid, on_import):
        if file in avoid:
            self.import_errors[file] = f"{file} was not imported: {avoid[file]}"
            return self._import_clean(name, file)
        if on_import:
            on_import(file)
        sys.path[:] = [str(self.root)] + [p for p in sys.path if p != str(self.root)]   # the homework first, once
        try:
            return importlib.import_module(name)
        except BaseException as error:  # SystemExit at import is the student's mistake too
            if file not in GRADED_FILES or self.clean_root is None:
                raise
            self.import_errors[file] = f"{file} failed to import:\n" + _short_traceback(error)
            return self._import_clean(name, file)

    def _import_clean(self, name, file):
        """Import the handout's copy of `file` under its usual module name."""
        if self.clean_root is None:
            raise StudentImportError(self.import_errors[file])
        spec = importlib.util.spec_from_file_location(name, self.clean_root / file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
        return module


def _pop_homework_modules():
    names = [n for n in sys.modules if n.split(".")[0] in {m.split(".")[0] for m, _ in MODULES}]
    return {n: sys.modules.pop(n) for n in names}


def _short_traceback(error, limit=6):
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    # Keep the student's frames and the error line, not importlib's internals.
    kept = [line for line in lines if "importlib" not in line]
    return "".join(kept[-limit:])


def describe(error, root=""):
    """The error and the student's frames (paths relative to the homework), not the probes'."""
    if isinstance(error, NotImplementedError):
        return f"NotImplementedError: {error}"
    frames = traceback.extract_tb(error.__traceback__)
    prefix = str(root).rstrip("/") + "/"
    mine = [f for f in frames if root and f.filename.startswith(prefix)]
    where = "".join(f"  {f.filename[len(prefix):]}, line {f.lineno}, in {f.name}: {(f.line or '').strip()}\n"
                    for f in mine[-3:])
    return f"{type(error).__name__}: {error}" + (f"\n{where.rstrip()}" if where else "")
