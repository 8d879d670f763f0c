"""The autograder: a judge that never runs student code, a sandboxed worker that does, and the checks."""
