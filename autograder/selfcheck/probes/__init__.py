"""Worker-side probes: run the student's functions on inputs from the judge and return plain data.

`PROBES[name](hw, **inputs) -> dict` where inputs and outputs are numpy arrays and Python scalars
(they cross the data-only channel). Probes never decide anything: the judge compares what they
return with what it expects. They run inside the sandboxed worker, or in-process for self-checks.

One module per graded file (device_calls.py: every file's device claim), each registering its probes
in common.py's PROBES through @probe. The names imported below are what other probe modules
(autograder/hidden/probes.py) and the project's tools build on.
"""
import sys

# in the order they were one module's sections: PROBES lists the probes in this order
from . import common, utils, vae, gan, diffusion, ewc, device_calls  # noqa: I001
from .common import (PROBES, Adam, StudentValueError, array, backward, on_cpu, probe, training_device,  # noqa: F401
                     unpack)
from .ewc import small_net  # noqa: F401
from .vae import bound, controlled_sampler, vae_model  # noqa: F401

# this package and each of its modules: the worker's integrity snapshot records their names and code
MODULES = (sys.modules[__name__], common, utils, vae, gan, diffusion, ewc, device_calls)
