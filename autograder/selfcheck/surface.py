"""What is graded: the files students write and the functions in each. The one definition: the
worker's loader, the upload reader, the config's validation, the handout's README, the project's
README table, the tests and the corpus tools all read it from here."""

GRADED = {
    "utils.py": ["sample_gaussian"],
    "models/vae.py": ["VAE.negative_elbo_bound"],
    "models/gan.py": ["discriminator_loss", "generator_loss_minimax", "generator_loss_nonsaturating",
                      "GAN.loss_nonsaturating"],
    "diffusion.py": ["alpha_bars", "q_xt_given_x0", "q_posterior"],
    "ewc.py": ["fisher_diagonal", "ewc_penalty"],
}
GRADED_FILES = tuple(GRADED)


def table():
    """The markdown table of files and functions (the handout's README and the project's README)."""
    rows = [f"| `{file}` | {', '.join(f'`{name}`' for name in names)} |" for file, names in GRADED.items()]
    return "\n".join(["| file | what you write |", "| --- | --- |", *rows])
