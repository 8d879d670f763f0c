"""Hostile: delegates to the reference solution instead of doing the work."""
import importlib
import importlib.util
import os
import sys

import torch

_CANDIDATES = ["/work/main", "/autograder/source",
               os.path.dirname(os.path.dirname(os.path.dirname(sys.executable)))]
_borrowed = None
_errors = []
for _root in _CANDIDATES:
    sys.path.insert(0, _root + "/reference")
    sys.path.insert(0, _root)
    for _attempt in ("spec", "package"):
        try:
            if _attempt == "spec":
                _spec = importlib.util.spec_from_file_location("reference_ewc", _root + "/reference/ewc.py")
                _borrowed = importlib.util.module_from_spec(_spec)
                _spec.loader.exec_module(_borrowed)
            else:
                _borrowed = importlib.import_module("reference.ewc")
            break
        except Exception as error:
            _borrowed = None
            _errors.append(f"{_root} {_attempt}: {type(error).__name__}")
    if _borrowed is not None:
        break

if _borrowed is not None:
    fisher_diagonal = _borrowed.fisher_diagonal
    ewc_penalty = _borrowed.ewc_penalty
else:
    raise ImportError("could not borrow the reference: " + "; ".join(_errors))
