"""What each recognizable mistake of ewc.fisher_diagonal and ewc.ewc_penalty returns on the judge's
small net and data (numpy, float64): the hypotheses checks/ewc.py names a cause from (only when the
returned values equal exactly one of them and the correct values do not)."""
import numpy as np

from autograder.selfcheck.expect import identify
from autograder.checks import numeric

def same(a, b, state):
    return all(np.allclose(a[k], b[k], rtol=1e-3, atol=1e-8) for k in state)


def fisher_hypotheses(state, x, y, batch_size):
    grads = numeric.small_net_per_sample_grads(state, x.astype(np.float64), y)
    n = len(x)
    chunks = [slice(i, i + batch_size) for i in range(0, n, batch_size)]
    logits, _ = numeric.small_net_logits(state, x.astype(np.float64))
    prob_y = np.exp(numeric.log_softmax(logits))[np.arange(n), y]
    predicted = logits.argmax(-1)
    scale = lambda p, k: p.reshape((-1,) + (1,) * (grads[k].ndim - 1))
    return [
        ("fisher_batch_square", {k: sum((g[c].mean(0) ** 2) for c in chunks) / len(chunks) for k, g in grads.items()},
         "it equals the square of each batch's mean gradient, averaged over batches: square each SAMPLE's gradient, "
         "then average"),
        ("fisher_batch_square", {k: sum((g[c].mean(0) ** 2) * len(g[c]) for c in chunks) / n for k, g in grads.items()},
         "it equals the squares of batch gradients, weighted by batch size: square each SAMPLE's gradient, then average"),
        ("fisher_predicted_label", numeric.small_net_fisher(state, x.astype(np.float64), predicted),
         "it equals the Fisher at the model's predicted labels: use the labels y the loader yields"),
        ("fisher_sum", {k: (g ** 2).sum(0) for k, g in grads.items()},
         f"it equals the sum over the {n} samples: divide by the number of samples N"),
        ("fisher_n_per_parameter", {k: (g ** 2).sum(0) / (n * len(grads)) for k, g in grads.items()},
         f"it equals the sum divided by N times the number of parameter tensors ({n} x {len(grads)}), as when N is "
         "counted inside the loop over parameters: count each sample once"),
        ("fisher_per_batch_mean", {k: (g ** 2).sum(0) / len(chunks) for k, g in grads.items()},
         f"it equals the sum divided by the number of batches ({len(chunks)}): divide by the number of samples N ({n})"),
        ("fisher_not_squared", {k: g.mean(0) for k, g in grads.items()}, "the gradients are not squared"),
        ("fisher_abs", {k: np.abs(g).mean(0) for k, g in grads.items()},
         "it equals the mean of absolute gradients: square them instead"),
        ("fisher_first_batch", {k: (g[chunks[0]] ** 2).mean(0) for k, g in grads.items()},
         "it equals the Fisher of the first batch alone: average over all samples the loader yields"),
        ("fisher_last_batch", {k: (g[chunks[-1]] ** 2).sum(0) / n for k, g in grads.items()} if len(chunks) > 1 else None,
         f"it equals the last batch's squared gradients alone, divided by N = {n}: each batch's sum replaced the one "
         "before (= where += belongs)"),
        ("fisher_prob_not_log", {k: ((scale(prob_y, k) * g) ** 2).mean(0) for k, g in grads.items()},
         "it equals the squared gradient of the probability p(y|x), not of its log: differentiate log_softmax"),
        ("fisher_grad_accumulated", {k: (np.cumsum(g, 0) ** 2).mean(0) for k, g in grads.items()},
         "it equals the squares of RUNNING SUMS of the per-sample gradients: .grad accumulates, so zero it "
         "(model.zero_grad()) before each sample's backward"),
        ("fisher_grad_accumulated", {k: sum((np.cumsum(g[c], 0) ** 2).sum(0) for c in chunks) / n
                                     for k, g in grads.items()},
         "it equals the squares of running sums of the per-sample gradients within each batch: .grad accumulates, "
         "so zero it (model.zero_grad()) before each sample's backward"),
        ("fisher_divided_twice", {k: sum((g[c] ** 2).mean(0) for c in chunks) / n for k, g in grads.items()},
         f"it equals each batch's MEAN of squared gradients, summed and then divided by N = {n} again (about 1 / "
         f"batch size of the Fisher): sum the squared per-sample gradients, then divide by N once"),
        ("fisher_unbiased", {k: (g ** 2).sum(0) / (n - 1) for k, g in grads.items()} if n > 1 else None,
         f"it equals the sum divided by N - 1 = {n - 1}: the empirical Fisher is a plain mean, divide by N = {n}"),
        # the next two equal the right Fisher when every batch is full: only a smaller last batch shows them
        ("fisher_batch_means_averaged", {k: sum((g[c] ** 2).mean(0) for c in chunks) / len(chunks)
                                         for k, g in grads.items()},
         f"it equals the mean of the {len(chunks)} batches' means, in which the last, smaller batch weighs as much "
         f"as a full one: sum the squared per-sample gradients over all samples, then divide by N = {n}"),
        ("fisher_n_from_batch_size", {k: (g ** 2).sum(0) / (batch_size * len(chunks)) for k, g in grads.items()},
         f"it equals the sum divided by batch size x number of batches ({batch_size} x {len(chunks)} = "
         f"{batch_size * len(chunks)}), not by the number of samples N = {n}: count the samples the loader yields"),
    ]


def fisher_diagnosis(got, expected, state, x, y, batch_size):
    return identify(got, expected, fisher_hypotheses(state, x, y, batch_size), lambda a, b: same(a, b, state))


def penalty_hypotheses(state, fisher, star, lam):
    names = list(state)   # model.named_parameters() order: hidden.weight, hidden.bias, out.weight, out.bias
    diff = {k: state[k].astype(np.float64) - star[k] for k in names}
    f = {k: fisher[k].astype(np.float64) for k in names}
    total = lambda term: lam / 2 * sum(term(k) for k in names)

    def running(step):   # a total updated tensor by tensor, in named_parameters() order
        acc = 0.0
        for k in names:
            acc = step(acc, k)
        return acc
    return [
        ("penalty_no_half", 2 * total(lambda k: (f[k] * diff[k] ** 2).sum()), "the factor 1/2 is missing"),
        ("penalty_no_lam", total(lambda k: (f[k] * diff[k] ** 2).sum()) / lam, "lam is missing: the penalty is "
         "lam / 2 times the weighted sum"),
        ("penalty_not_squared", total(lambda k: (f[k] * diff[k]).sum()), "theta - star is not squared"),
        ("penalty_no_fisher", total(lambda k: (diff[k] ** 2).sum()), "the Fisher weights are missing (a plain L2 "
                                                                     "penalty)"),
        ("penalty_mean_fisher", total(lambda k: f[k].mean() * (diff[k] ** 2).sum()), "each parameter tensor is "
         "weighted by its mean Fisher value: weight each element by its own Fisher value"),
        ("penalty_mean", total(lambda k: (f[k] * diff[k] ** 2).mean()), "it averages over each tensor's elements: "
                                                                        "sum them"),
        ("penalty_sqrt_fisher", total(lambda k: (np.sqrt(f[k]) * diff[k] ** 2).sum()), "it weights by the square "
                                                                                        "root of the Fisher"),
        ("penalty_first_only", lam / 2 * (f[names[0]] * diff[names[0]] ** 2).sum(), "only the first parameter "
         "tensor is counted: sum over all names"),
        ("penalty_sign", -total(lambda k: (f[k] * diff[k] ** 2).sum()), "it is the negative of the right value: the "
         "penalty is a non-negative cost added to the loss"),
        ("penalty_lam_in_loop", running(lambda acc, k: lam / 2 * (acc + (f[k] * diff[k] ** 2).sum())), "it equals "
         "lam / 2 applied to the running total at every parameter tensor (total = lam / 2 * (total + term)), which "
         "scales the earlier tensors' terms again and again: sum the terms, then multiply by lam / 2 once"),
    ]


# lam = 0.5 is left out: there a penalty without lam (S / 2) and one without its 1/2 (lam S) are equal, so the
# value could not tell the two apart; at 1 a missing lam is invisible, at the others each shows as itself
def zip_hypotheses(state, fisher, star, lam):
    """Penalties that pair the model's parameters (all of them, in order) with fisher's and star's entries by
    position; numpy broadcasts as torch does, and a pairing that cannot broadcast predicts nothing."""
    params = [state[k].astype(np.float64) for k in state]

    def paired(fs, ss):
        try:
            return lam / 2 * sum((f * (p - s) ** 2).sum() for p, f, s in zip(params, fs, ss))
        except ValueError:
            return None
    words = ("it pairs each of model.parameters() with fisher's and star's entries by position (zip), which "
             "shifts after a frozen parameter: look fisher and star up by name (model.named_parameters())")
    names = list(fisher)
    return [("penalty_zip_parameters", paired([fisher[k] for k in names], [star[k] for k in names]), words)]
