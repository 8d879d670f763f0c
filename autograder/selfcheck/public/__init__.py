"""The public checks, shipped to students in the handout's selfcheck/public/, one module per graded file
(common.py: what they share). Three are also graded tests (1.1, 3.2 and 4.4 in config.yaml: the same
code, the same messages); the VAE's and EWC's, whose graded tests are all hidden, only the students run.
Their inputs are in their modules; they use no golden files and compute no graded quantity: the
expected numbers are literals (from the reference, in float64), and the other claims are properties (a
batch mean does not change when the batch is repeated, a per-sample Fisher does not depend on how the
loader batches the samples, a penalty quadratic in theta - star ...).

PUBLIC maps each graded file to its public checks (the students' pytest runs one test per file)."""
from . import diffusion, ewc, gan, utils, vae

PUBLIC = {
    "utils.py": [utils.sample_gaussian_shapes],
    "models/vae.py": [vae.vae_bound_properties],
    "models/gan.py": [gan.gan_large_logits],
    "diffusion.py": [diffusion.diffusion_edges_and_dtypes],
    "ewc.py": [ewc.ewc_properties],
}
