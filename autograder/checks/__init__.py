"""The hidden checks: one module per graded file, plus the short training runs (training.py)."""
