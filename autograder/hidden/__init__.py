"""The hidden tests' code that runs in the worker (probes.py): shipped to Gradescope, never to students.
Copied into each grading's scratch folder as hidden/, and imported there by each worker afresh (a worker
template does not import it: its children could not read autograder/)."""
