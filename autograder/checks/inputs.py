"""Inputs the judge makes: seeded numpy generators and model weights, and the golden files."""
import hashlib
import json
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings

from autograder.selfcheck.public.ewc import linear_state, small_net_state  # noqa: F401  (small_net_state: for the checks)

GOLDENS = Path(__file__).resolve().parent.parent / "goldens"


def _without_local_constants():
    """Hypothesis mixes into its examples numbers it finds in the source of every non-library module
    loaded (ours, the tests', a TA's script): the same derandomized check would draw other examples
    under pytest than on Gradescope, and after any edit of a number in the grader. Parsing those
    modules also cost 0.2 s of every grading. Only its own built-in constants are kept."""
    from hypothesis.internal.conjecture import providers
    empty = providers._local_constants   # never filled once this is replaced
    providers._get_local_constants = lambda: empty


_without_local_constants()


def hypothesis_settings(max_examples):
    """Reproducible property runs: derandomized, no deadline, no database, no shrinking (a failure is
    reported as found, which keeps a wrong submission's grading as fast as a right one's)."""
    return settings(derandomize=True, deadline=None, database=None, max_examples=max_examples,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                    phases=(Phase.explicit, Phase.generate))


def first_failure(settings, **strategies):
    """Decorator: runs the decorated property at once on hypothesis's examples and replaces it by the
    message of the first example whose body returned one (None when every example passed). Student
    errors raised inside propagate, as from any check."""
    def run(body):
        found = []

        @settings
        @given(**strategies)
        def prop(**example):
            message = body(**example)
            if message:
                found.append(message)
                raise AssertionError(message)

        try:
            prop()
        except AssertionError:
            return found[-1]
        return None
    return run


class GoldenError(Exception):
    """A golden file is missing or corrupt: the grader's fault, not the student's."""


def rng(*key):
    """A numpy generator seeded by a readable key, e.g. rng('vae', 3)."""
    digest = hashlib.sha256(repr(key).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def vae_state(g, z_dim, hidden=300):
    state = {"z_prior_m": np.zeros(1, np.float32), "z_prior_v": np.ones(1, np.float32)}
    for prefix, sizes in (("enc.net", (784, hidden, hidden, 2 * z_dim)), ("dec.net", (z_dim, hidden, hidden, 784))):
        for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
            state.update(linear_state(g, f"{prefix}.{2 * k}", a, b))
    return state


def gan_state(g, z_dim):
    state = {}
    for k, (a, b) in enumerate(zip((z_dim, 256, 512), (256, 512, 784))):   # Linear, BatchNorm, ReLU
        state.update(linear_state(g, f"g.net.{3 * k}", a, b))
        if b != 784:
            state.update({f"g.net.{3 * k + 1}.weight": g.uniform(0.5, 1.5, b).astype(np.float32),
                          f"g.net.{3 * k + 1}.bias": g.uniform(-0.1, 0.1, b).astype(np.float32),
                          f"g.net.{3 * k + 1}.running_mean": np.zeros(b, np.float32),
                          f"g.net.{3 * k + 1}.running_var": np.ones(b, np.float32),
                          f"g.net.{3 * k + 1}.num_batches_tracked": np.zeros((), np.int64)})
    for k, (a, b) in enumerate(zip((784, 512, 256), (512, 256, 1))):
        state.update(linear_state(g, f"d.net.{2 * k}", a, b))
    return state


def golden(name):
    """{'inputs': {...}, 'expected': {...}} from goldens/<name>.npz, checked against the manifest."""
    path = GOLDENS / f"{name}.npz"
    try:
        manifest = json.loads((GOLDENS / "manifest.json").read_text())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if manifest["files"][path.name]["sha256"] != digest:
            raise GoldenError(f"{path.name} does not match its checksum in manifest.json")
        with np.load(path, allow_pickle=False) as npz:
            flat = {k: npz[k] for k in npz.files}
    except GoldenError:
        raise
    except Exception as error:
        raise GoldenError(f"golden file {path.name} is missing or corrupt ({type(error).__name__}: {error}); "
                          "regenerate with: python -m staff goldens") from None
    return unflatten(flat)


def flatten(tree, prefix=""):
    flat = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(flatten(v, key + "/"))
        elif v is None:
            continue
        else:
            flat[key] = np.asarray(v)
    return flat


def unflatten(flat):
    tree = {}
    for key, value in flat.items():
        node = tree
        *parents, leaf = key.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value[()] if value.shape == () else value
    return tree
