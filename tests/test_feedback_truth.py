"""Sentences of the feedback that were false or misleading for an outside reader's wrong submissions
(/work/notes/reading/report.md, issue 19): each test grades one corpus variant (tests/corpus/accuracy/)
through the judge, the tests of its own file only, and reads what it is told."""
import sys

import pytest

from helpers import REPO
from autograder.grade import judge, load_config
from autograder.selfcheck.expect import StudentError
from staff import audit

sys.path.insert(0, str(REPO / "tests" / "corpus" / "accuracy"))   # apply.py, as the audit imports it


def graded(name, numbers):
    """{test number: (fraction, message, keys named, claims)} of the corpus variant `name`."""
    variant, = [v for v in audit.variants(name) if v["name"] == name]
    tests = [t for t in load_config()["tests"] if t["number"] in numbers]
    return audit.grade_variant(variant, tests)


def test_kl_and_rec_returned_as_floats_are_charged_once_as_a_return_type_not_as_an_error():
    result = graded("vae_terms_as_floats", {"2.1", "2.2", "2.3"})
    assert result["2.1"][0] == 1.0 and result["2.3"][0] == 1.0, result   # values right; nelbo's gradients right
    fraction, message, _, _ = result["2.2"]
    assert fraction < 1.0 and "returned kl as a float and rec as a float" in message
    assert "raised" not in message


def test_a_probe_s_check_of_a_returned_value_is_not_told_as_the_student_s_code_raising():
    def check(run):
        raise StudentError("StudentValueError: z should be a torch.Tensor, but it is a list")
    test = {"number": "9.9", "check": "x", "file": "utils.py", "public": False}
    import autograder.grade as grade
    original = grade.check_function
    grade.check_function = lambda name: check
    try:
        fraction, message = judge(test, None)
    finally:
        grade.check_function = original
    assert fraction == 0.0 and "raised" not in message
    assert message.startswith("Your code returned what the API does not promise: z should be a torch.Tensor")


def test_large_logit_advice_only_for_a_loss_right_at_moderate_logits_and_no_real_logits_for_the_generator():
    fraction, message, _, _ = graded("minimax_sign_flipped", {"3.2"})["3.2"]   # wrong at every logit
    assert fraction < 1.0 and "stay exact at any |h|" not in message and "wrong at moderate logits too" in message
    assert "generator_loss_minimax is wrong at moderate logits too (at fake logits [" in message
    assert "minimax at real logits" not in message and "real logits" not in message
    fraction, message, _, _ = graded("nonsat_log_eps", {"3.2"})["3.2"]         # right at moderate logits only
    assert fraction < 1.0 and "stay exact at any |h|" in message and "moderate logits too" not in message


def test_a_dz_dv_ratio_that_changes_with_v_is_said_to_vary_not_given_as_one_median_factor():
    import numpy as np
    from autograder.checks.utils import observed_ratio
    v = np.array([[0.04, 0.3, 1.0, 9.0]] * 3)
    eps = np.linspace(-1.5, 1.2, 12).reshape(3, 4)
    right = eps / (2 * np.sqrt(v))
    softplus = np.log1p(np.exp(v))                       # z = m + sqrt(softplus(v)) eps
    got = eps * (1 / (1 + np.exp(-v))) / (2 * np.sqrt(softplus))
    told = observed_ratio(got, right, v)
    assert "varies with v" in told and "median" not in told, told
    assert observed_ratio(0.5 * right, right, v).startswith("observed 0.5 times that for every element")
    assert "element to element" in observed_ratio(right * (1 + eps), right, v)


def test_a_fisher_zero_everywhere_is_said_so_and_gradients_never_zeroed_are_named():
    import numpy as np
    from autograder.checks.ewc import how_far
    state = {"w": np.ones((2, 3)), "b": np.ones(3)}
    told = how_far({k: np.zeros_like(a) for k, a in state.items()}, state, state)
    assert "zero everywhere" in told and "off by up to" not in told, told
    fraction, message, keys, _ = graded("fisher_never_zeroes_grad", {"5.1"})["5.1"]
    assert fraction < 1.0 and keys == ["fisher_grad_accumulated"], (keys, message)


def test_a_penalty_that_crashes_on_a_frozen_parameter_loses_points_and_is_told_where():
    fraction, message, keys, _ = graded("penalty_over_all_named_parameters", {"5.3"})["5.3"]
    assert 0 < fraction < 1.0 and "frozen" in message and "KeyError" in message, message
    assert keys == ["penalty_frozen_parameters"]
    assert graded("penalty_forgets_lam", {"5.3"})["5.3"][0] < 1.0


def test_a_detached_kl_is_named_from_nelbo_s_gradient_being_rec_s_alone():
    fraction, message, keys, _ = graded("vae_kl_detached", {"2.3"})["2.3"]
    assert fraction < 1.0 and keys == ["vae_kl_no_gradient"], (keys, message)
    assert "through z" not in [t for t in load_config()["tests"] if t["number"] == "2.3"][0]["name"].split("(rec")[0]


def test_a_runtime_error_whose_sizes_are_redacted_comes_with_the_shapes_the_judge_sent(tmp_path):
    import shutil
    import numpy as np
    from helpers import HANDOUT, REFERENCE
    from autograder.selfcheck.local import local_run
    root = tmp_path / "submission"
    shutil.copytree(HANDOUT, root, ignore=shutil.ignore_patterns("selfcheck", "__pycache__"))
    for rel in ("utils.py", "models/gan.py"):
        shutil.copyfile(REFERENCE / rel, root / rel)
    utils = (root / "utils.py").read_text()
    (root / "utils.py").write_text(utils.replace("torch.randn_like(m)", "torch.randn(m.size(0), m.size(1))"))
    gan_py = (root / "models/gan.py").read_text()
    (root / "models/gan.py").write_text(gan_py.replace(
        "return -F.logsigmoid(logits_fake).mean()",
        "return F.binary_cross_entropy_with_logits(logits_fake, torch.ones(logits_fake.size(0)))"))
    run = local_run(root, clean_root=HANDOUT)
    with pytest.raises(StudentError) as raised:
        run("sample_gaussian", m=np.zeros((4, 3, 2), np.float32), v=np.ones((4, 3, 2), np.float32))
    assert raised.value.inputs == "this call's inputs: m of shape (4, 3, 2), v of shape (4, 3, 2)"
    test = [t for t in load_config()["tests"] if t["number"] == "1.1"][0]
    fraction, message = judge(test, run)
    assert fraction == 0.0 and "(this call's inputs: m of shape (" in message and "#" in message, message
    fraction, message = judge([t for t in load_config()["tests"] if t["number"] == "3.1"][0], run)
    assert "raised ValueError" in message and "this call's inputs: logits_fake of shape (12, 1)" in message, message


@pytest.mark.parametrize("name", ["vae_rec_sum_kl_mean", "vae_std_into_sampler", "vae_rec_missing_minus",
                                  "vae_sigmoid_then_bce_logits", "vae_rec_mean_over_pixels"])
def test_a_wrong_rec_is_never_told_that_the_kl_has_no_gradient(name):
    _, _, keys, _ = graded(name, {"2.3"})["2.3"]
    assert "vae_kl_no_gradient" not in keys


def test_a_float32_posterior_mean_made_of_xt_alone_shows_0_x0_not_its_rounding():
    """Second outside reading, 28: at t = 1 a float32 xt coefficient of ~1e4 left 4.4e-05 in the fitted x0
    coefficient, shown as if the code had one."""
    import numpy as np
    from autograder.selfcheck.public.diffusion import show_mean
    g = np.random.default_rng(0)
    x0, xt = (g.normal(size=(4, 3)).astype(np.float32) for _ in range(2))
    assert show_mean((np.float32(9997.84) * xt).astype(np.float32), x0, xt) == "0 x0 + 9997.84 xt"
    assert show_mean((0.5 * x0 + 0.3 * xt).astype(np.float32), x0, xt) == "0.5 x0 + 0.3 xt"   # real terms stay


def test_a_right_nelbo_beside_a_wrong_rec_is_not_told_to_change():
    """Second outside reading, 23: rec negated and nelbo = kl - rec (nelbo right) was told 'nelbo should equal kl + rec'."""
    from autograder.checks.vae import not_the_sum
    told = not_the_sum((544.331, 0.159, -544.172), right_nelbo=544.331)
    assert told.startswith("nelbo is right (544.331), but kl + rec is -544.013") and "should equal" not in told
    assert "should equal kl + rec" in not_the_sum((600.0, 0.159, 544.172), right_nelbo=544.331)


def test_a_zero_penalty_is_not_called_non_quadratic():
    """Second outside reading, 31: `lam // 2 * total` is 0 at lam = 1, and 0 doubled is 0: it was told it is not
    quadratic. It earns nothing there, and is told why."""
    from autograder.selfcheck.public.ewc import ewc_properties
    outcome = public_check_of_edit(ewc_properties, "ewc.py", "    return lam / 2 * total\n", "    return lam // 2 * total\n")
    assert outcome.fraction < 1 and "judged once it is not 0" in outcome.message
    assert "multiply the penalty by 4" not in outcome.message


def test_a_posterior_with_alpha_bar_0_zero_is_told_0_x0_in_float32_too():
    """Third outside reading, 28 again: the check converts the returned mean to float64 before showing it, so
    the rounding cut-off must come from the dtype returned, not from the converted array."""
    from autograder.selfcheck.public.diffusion import diffusion_edges_and_dtypes
    one = "else torch.ones((), dtype=ab.dtype, device=ab.device)"
    outcome = public_check_of_edit(diffusion_edges_and_dtypes, "diffusion.py", one, one.replace("torch.ones", "torch.zeros"))
    lines = [line for line in outcome.message.splitlines() if "q_posterior at t = 1 (float32 inputs)" in line]
    assert lines and all("got mean 0 x0 + " in line for line in lines), outcome.message


def test_a_posterior_nan_at_t_1_and_wrong_everywhere_is_not_told_that_t_1_waits():
    """Third outside reading, 48: a NaN at t = 1 was charged there while the t = T line said t = 1's values
    'are judged once it is right there'. Since the tenth round a function wrong at t = 5 is told so in one line for
    t = 1 and t = T together, NaN at t = 1 included (its formula, judged by 4.3, is what to fix)."""
    from autograder.selfcheck.public.diffusion import diffusion_edges_and_dtypes
    right = "coef_x0 = alpha_bar_prev.sqrt() * beta_t / (1 - alpha_bar_t)"
    outcome = public_check_of_edit(diffusion_edges_and_dtypes, "diffusion.py", right,
                                   right.replace("(1 - alpha_bar_t)", "(1 - alpha_bar_prev)"))
    lines = outcome.message.splitlines()
    assert any("q_posterior (float32 and float64 inputs) is wrong at an ordinary time too (t = 5)" in line and
               "its values at t = 1 and t = T are judged once" in line for line in lines), outcome.message
    assert "returns NaN or inf" not in outcome.message and len(lines) == 2, outcome.message


def public_check_of_edit(check, file, old, new):
    """The outcome of a public check on the reference with one line of `file` edited."""
    import shutil
    import tempfile
    from pathlib import Path
    from helpers import HANDOUT, REFERENCE, submission_from
    from autograder.selfcheck.local import local_run
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "sub"
        shutil.copytree(HANDOUT, root, ignore=shutil.ignore_patterns("selfcheck", "__pycache__", "data"))
        submission_from(REFERENCE, root)
        source = (root / file).read_text()
        assert old in source
        (root / file).write_text(source.replace(old, new))
        return check(local_run(root, clean_root=HANDOUT))


def test_a_posterior_right_at_t_1_is_not_told_that_t_1_waits():
    """Fourth outside reading, 67: the variance with 1 - beta_t for beta_t is right at t = 1 (and judged there),
    yet t = T's line said 'its values at t = 1 and t = T are judged once it is right there'."""
    from autograder.selfcheck.public.diffusion import diffusion_edges_and_dtypes
    right = "var = beta_t * (1 - alpha_bar_prev) / (1 - alpha_bar_t)"
    outcome = public_check_of_edit(diffusion_edges_and_dtypes, "diffusion.py", right,
                                   right.replace("var = beta_t *", "var = (1 - beta_t) *"))
    assert "wrong at an ordinary time too" in outcome.message, outcome.message
    assert "t = 1 and t = T are judged once" not in outcome.message, outcome.message


def test_an_overflowing_loss_is_not_told_it_forms_sigmoid():
    """Fourth outside reading, 64: log1p(exp(-h)) overflows without any sigmoid; the message named sigmoid as the
    cause. It now says what such formulas do, not which one the code used."""
    from autograder.selfcheck.public.gan import UNSTABLE, gan_large_logits
    outcome = public_check_of_edit(gan_large_logits, "models/gan.py", "    return -F.logsigmoid(logits_fake).mean()",
                                   "    return torch.log1p(torch.exp(-logits_fake)).mean()")
    assert outcome.fraction < 1 and UNSTABLE in outcome.message
    assert "sigmoid(h) rounds to 0 or 1" not in UNSTABLE and "exp" in UNSTABLE


def test_a_constant_dz_dv_factor_in_float32_is_one_factor():
    """Fourth outside reading, 61: z = m + eps / sqrt(v) has dz/dv = -(z - m) / (2 v) exactly; z - m formed in float32
    spread the ratio over -1.00014 .. -0.9967, told as 'varying from element to element'."""
    import numpy as np
    from autograder.checks.utils import observed_ratio
    g = np.random.default_rng(1)
    v = np.broadcast_to(np.array([0.04, 0.3, 1.0, 9.0]), (50, 4))
    eps = g.normal(size=(50, 4))
    z_minus_m = (eps / np.sqrt(v)).astype(np.float32).astype(np.float64)   # as the judge reads it back
    right = (np.float32(1) * z_minus_m) / (2 * v)
    got = -(eps / np.sqrt(v)) / (2 * v) * (1 + g.uniform(-2e-3, 2e-3, size=eps.shape))
    told = observed_ratio(got, right, v)
    assert told.startswith("observed -") and "times that for every element" in told and " to " not in told, told
    assert abs(float(told.split()[1]) + 1) < 3e-3, told
    assert "here about v ** -0.5 " in told, told     # a constant ratio r is a scale v ** (r / 2), not a sign slip


def test_two_sides_within_rounding_of_the_right_nelbo_are_not_told_which_is_right():
    """Fourth outside reading, 63: nelbo = rec + 0.1 kl is 0.02 off (within the 1e-4 tolerance of 546), kl + rec is
    right; it was told 'nelbo is right ... the kl and rec returned should be the two terms'."""
    from autograder.checks.vae import not_the_sum
    told = not_the_sum((546.428, 0.0222, 546.4258), right_nelbo=546.448)
    assert "nelbo is right" not in told and "should equal kl + rec" in told


@pytest.mark.parametrize("name, key", [("fisher_mean_of_batch_means", "fisher_batch_means_averaged"),
                                       ("fisher_n_is_batch_size_times_batches", "fisher_n_from_batch_size")])
def test_a_fisher_right_only_for_equal_batches_loses_the_smaller_last_batch_claim(name, key):
    """Fifth outside reading, 81: every Fisher case had 40 samples in full batches of 8, so averaging the batches'
    means (or dividing by batch_size * len(loader)) earned 100."""
    fraction, message, keys, claims = graded(name, {"5.1"})["5.1"]
    assert [claim for claim, held in claims if not held] == ["smaller last batch"], claims
    assert 0 < fraction < 1 and keys == [key], (keys, message)
    assert "right when every batch has the same size" in message and "batches of 12, 12, 12 and 4" in message


def test_a_penalty_that_zips_parameters_is_caught_with_the_first_parameter_frozen():
    """Fifth outside reading, 82: 5.3 froze only out.bias, the last parameter, where zip stays aligned."""
    fraction, message, keys, claims = graded("penalty_zips_parameters", {"5.3"})["5.3"]
    assert [claim for claim, held in claims if not held] == ["frozen parameter"], claims
    assert keys == ["penalty_zip_parameters"], (keys, message)
    assert "with hidden.weight frozen" in message and "with every parameter trainable it is right" in message
    # the frozen-last case still names the KeyError of a penalty that looks up every named parameter
    assert graded("penalty_over_all_named_parameters", {"5.3"})["5.3"][2] == ["penalty_frozen_parameters"]


def test_a_g_loss_of_the_real_logits_is_named_and_not_told_it_detached_the_fakes():
    """Fifth outside reading, 76: g_loss = generator_loss_nonsaturating(self.d(x_real)) was told 'the generator's loss
    must see the fake images still attached to G (not detached)': nothing was detached."""
    fraction, message, keys, _ = graded("gan_g_loss_on_real_logits", {"3.3"})["3.3"]
    assert fraction < 1 and keys == ["gan_step_g_on_real"], (keys, message)
    assert "D(x_real)" in message and "detach" not in message, message
    fraction, message, keys, _ = graded("gan_detach_in_g_loss", {"3.3"})["3.3"]   # right value, cut from G
    assert keys == ["gan_step_detached_g"] and "a .detach() on them" in message, (keys, message)


def test_an_index_past_the_end_of_betas_is_not_told_that_alpha_bar_is_misindexed_and_t_below_T_is_shown():
    """Fifth outside reading, 78: beta_t = betas[t] (alpha_bar read right) was told 'times are 1-indexed, so alpha_bar_t
    is at index t - 1; index t runs past the end', and the hidden case's wrong values (t < T) were not shown."""
    fraction, message, keys, claims = graded("posterior_beta_index_t", {"4.3"})["4.3"]
    assert fraction == 0 and set(keys) == {"index_past_end", "post_beta_off_by_one"}, (keys, message)
    assert "beta_t is betas[t - 1] and alpha_bar_t is alpha_bars(betas)[t - 1]" in message, message
    assert "so alpha_bar_t is at index t - 1" not in message
    assert "on a hidden case: the mean is" in message and "raised IndexError" in message, message


def test_kl_and_rec_returned_per_example_cost_2_2_s_0_dim_claim_only_in_one_sentence():
    """Fifth outside reading, 73: kl and rec of shape (8,) beside a right 0-dim nelbo scored 0 in 2.1, 2.2 and 2.3
    (15 points), each told of kl's shape alone."""
    result = graded("vae_terms_per_example", {"2.1", "2.2", "2.3"})
    assert result["2.1"][0] == 1.0 and result["2.3"][0] == 1.0, result   # the right nelbo and its gradients
    fraction, message, keys, claims = result["2.2"]
    assert [claim for claim, held in claims if not held] == ["0-dim tensors"], claims
    assert keys == ["vae_terms_per_example"] and "kl and rec with shape (8,)" in message, message


def test_a_monte_carlo_kl_is_named_every_charged_claim_is_said_and_2_3_does_not_describe_the_gradient_again():
    """Fifth outside reading, 74: 2.1 charged nelbo (wrong only on the unshown batch) without a word, named no cause,
    and 2.3 described nelbo's encoder gradient as a mistake of its own."""
    result = graded("vae_kl_monte_carlo", {"2.1", "2.3"})
    fraction, message, keys, claims = result["2.1"]
    assert keys == ["vae_kl_monte_carlo"], (keys, message)
    assert {claim for claim, held in claims if not held} == {"nelbo", "kl"}, claims
    # every charged claim is said: on the shown batch, or as wrong on the second one (which the golden's batch decides)
    assert "nelbo 5" in message or "nelbo, within the tolerance on this batch, is wrong on a second hidden batch" in message
    assert "kl 0" in message, message
    fraction, message, _, _ = result["2.3"]
    assert "off by up to" not in message and "earn points once its value is right" in message, message


def test_a_discriminator_loss_of_the_mean_logits_is_named():
    """Fifth outside reading, 75: softplus(-mean(real)) + softplus(mean(fake)) was told only 'got 1.18199, expected 2.87332'."""
    fraction, message, keys, _ = graded("disc_softplus_of_mean_logit", {"3.1"})["3.1"]
    assert fraction < 1 and keys == ["gan_mean_before_log"], (keys, message)


def test_eps_clamped_to_3_loses_the_gaussian_claim_and_is_named_from_its_point_mass():
    """Fifth outside reading, 72: eps.clamp(-3, 3) keeps variance 0.995 and earned 100."""
    result = graded("eps_clamped", {"1.1", "1.2", "1.3", "1.4"})
    assert result["1.3"][0] < 1.0 and result["1.3"][2] == ["sg_eps_clamped"], result["1.3"]
    assert "point mass" in result["1.3"][1] and "beyond +-3" in result["1.3"][1]
    assert all(result[n][0] == 1.0 for n in ("1.1", "1.2", "1.4")), result    # charged once, in 1.3


def test_the_tail_bound_is_the_binomial_s_and_a_correct_sampler_passes_it():
    import math
    from autograder.checks.sampler_draws import N, TAIL, TAIL_MIN
    p = math.erfc(TAIL / math.sqrt(2))
    log_pmf = lambda k: (math.lgamma(N + 1) - math.lgamma(k + 1) - math.lgamma(N - k + 1) + k * math.log(p)
                         + (N - k) * math.log1p(-p))
    below = sum(math.exp(log_pmf(k)) for k in range(TAIL_MIN))
    assert below < 1e-9 and sum(math.exp(log_pmf(k)) for k in range(TAIL_MIN + 1)) > 1e-9 * 0.5, below
    assert N * p > 2 * TAIL_MIN                                    # the mean, 86.4, is far above the bound


def test_one_scale_for_every_element_is_said_not_to_follow_each_element_s_v():
    """Fifth outside reading, 71: m + torch.std(v) * eps was told its variance ratio only."""
    fraction, message, keys, _ = graded("std_of_v_as_scale", {"1.2"})["1.2"]
    assert fraction < 1.0 and keys == ["sg_scale_not_elementwise"] and "does not follow each element's own v" in message


def test_a_variance_clamped_from_below_fails_at_the_small_variance_the_draws_include():
    """Sixth outside reading, 83: v.clamp(min=1e-3) earned 100 (every v tried was at least 0.04)."""
    result = graded("variance_clamped_below", {"1.2", "1.4"})
    assert result["1.2"][0] < 1.0 and result["1.4"][0] < 1.0, result
    assert result["1.2"][2] == ["sg_var_floor"] and "where v = 0.0001" in result["1.2"][1], result["1.2"]


def test_a_squeezed_z_loses_the_shape_claims_of_size_1_dimensions_only():
    """Sixth outside reading, 84: z.squeeze() earned 100 (no shape had a size-1 dimension)."""
    fraction, message, _, _ = graded("output_squeezed", {"1.1"})["1.1"]
    assert 0.5 < fraction < 1.0 and "got (3,)" in message and "earn points once" not in message, message


def test_a_float_returned_as_an_output_is_told_as_returned_and_which_output_it_is():
    """Sixth outside reading, 92: 'q_xt_given_x0 raised StudentValueError: q_xt_given_x# should be a torch.Tensor,
    but it is a float' of a function that returned a float as its variance. Sixth reading's unfair charge: that
    float cost all of 4.2 (the probe refused the value before it was judged)."""
    result = graded("marginal_var_as_float", {"4.2", "4.3", "4.4"})
    fraction, message, keys, _ = result["4.4"]
    assert fraction < 1.0 and keys == ["diffusion_not_tensor"], (keys, message)
    assert "returns its variance (second output) as a Python number" in message, message
    assert "raised" not in message and "StudentValueError" not in message, message
    # one mistake, one set of points: its values are right, so 4.2 (and 4.3, untouched) keep theirs
    assert result["4.2"][0] == 1.0 and result["4.3"][0] == 1.0, result
    # only q_xt_given_x0's two dtype claims (0.5 each, float32 and float64 inputs) of 4.4's 17 claim-points
    assert fraction == pytest.approx(1 - 1 / 17), fraction


def test_d_left_frozen_by_loss_nonsaturating_is_not_told_as_an_error_the_student_s_code_raised():
    """Sixth outside reading, 90: the judge's own torch.autograd.grad / backward over D's parameters raised, and
    3.3 and 3.4 said "Your code raised an error: RuntimeError ..." of a method that returned normally."""
    result = graded("gan_freezes_d_and_leaves_it_frozen", {"3.3", "3.4"})
    for fraction, message, _, _ in result.values():
        assert "raised" not in message and "RuntimeError" not in message, message
    fraction, message, _, _ = result["3.4"]
    assert fraction < 1.0 and "d_loss carries no gradient" in message and "D no longer require grad" in message


def test_the_step_probe_reports_the_parameters_the_call_left_frozen(tmp_path):
    import shutil
    from apply import apply_variant
    from autograder.checks.inputs import golden
    from autograder.selfcheck.local import local_run
    variant, = [v for v in audit.variants() if v["name"] == "gan_freezes_d_and_leaves_it_frozen"]
    root = tmp_path / "submission"
    shutil.copytree(audit.HANDOUT, root, ignore=shutil.ignore_patterns("selfcheck", "__pycache__"))
    apply_variant(audit.REFERENCE, variant, root)
    inputs = golden("gan_step")["inputs"]
    out = local_run(root, clean_root=audit.HANDOUT)("gan_step", state=inputs["state"], z_dim=int(inputs["z_dim"]),
                                                   x_real=inputs["x_real"], seed=int(inputs["seed"]))
    assert out["d_params_frozen"] > 0 and out["g_params_frozen"] == 0, out
    assert out["d_loss_grad_d"] > 0          # the judge's own gradient over D's parameters, measured all the same


@pytest.mark.parametrize("name", ["ab_cast_to_float32", "ab_writes_into_betas"])
def test_a_right_posterior_behind_a_wrong_alpha_bars_is_told_to_fix_alpha_bars_first(name):
    """Sixth outside reading, 98 and 100: 'q_posterior is wrong at an ordinary time too (test 4.3 judges its
    formula)' of a right q_posterior whose alpha_bars returned float32, or wrote into the betas."""
    fraction, message, _, _ = graded(name, {"4.4"})["4.4"]
    assert fraction < 1.0 and "if q_posterior uses it, fix alpha_bars first" in message, message
    assert "says what is wrong there" not in message, message


def test_the_ordinary_time_sentence_names_its_dtype_and_is_said_once_per_content():
    """Sixth outside reading, 93 and 94: the same sentence twice with different content and no dtype."""
    from autograder.selfcheck.public.diffusion import diffusion_edges_and_dtypes
    outcome = public_check_of_edit(diffusion_edges_and_dtypes, "diffusion.py", "(1 - alpha_bar_t)",
                                   "(1 - alpha_bar_t + 1e-8)")
    lines = [line for line in outcome.message.splitlines() if "wrong at an ordinary time too" in line]
    assert lines and all("(float32 inputs)" in line or "(float64 inputs)" in line or "(float32 and float64 inputs)"
                         in line for line in lines), outcome.message
    assert len({line.split(" inputs)")[0] for line in lines}) == len(lines), outcome.message   # one per dtype case


def test_a_dtype_slip_of_one_output_names_which_output_has_which_dtype():
    """Fifth outside reading, 79: 'got float32, float64' did not say which output is which."""
    from autograder.selfcheck.public.diffusion import diffusion_edges_and_dtypes
    outcome = public_check_of_edit(diffusion_edges_and_dtypes, "diffusion.py", "return alpha_bar_t.sqrt() * x0, "
                                   "1 - alpha_bar_t", "return alpha_bar_t.sqrt() * x0, (1 - alpha_bar_t).double()")
    assert "q_xt_given_x0 should keep the input dtype float32: its mean is float32, its variance float64." \
        in outcome.message, outcome.message


def test_an_infinite_kl_is_charged_once_as_a_value_not_again_as_nelbo_unequal_to_kl_plus_rec():
    # reading 6's 88: nelbo = inf + rec holds; 2.1 charges kl's value, 2.2 has nothing left to charge
    result = graded("vae_kl_normal_means_first", {"2.1", "2.2"})
    fraction, message, _, _ = result["2.1"]
    assert fraction < 1.0 and "kl inf (expected" in message, message
    assert "should equal kl + rec" not in message, message
    assert result["2.2"][0] == 1.0, result["2.2"]


def test_alpha_bars_writing_into_betas_is_charged_in_4_1_and_named_beside_its_callers_values():
    # reading 6's 100: right values, the caller's betas overwritten with 1 - betas (each call got a fresh clone)
    result = graded("ab_writes_into_betas", {"4.1", "4.3"})
    fraction, message, _, _ = result["4.1"]
    assert 0 < fraction < 1.0 and "after the call betas holds 1 - betas" in message, message
    fraction, message, _, _ = result["4.3"]
    assert fraction < 1.0 and "Your alpha_bars writes into the betas it is given" in message, message
    assert "alpha_bars is also wrong" not in message, message


def test_a_posterior_wrong_below_the_digits_shown_is_told_how_far_apart_it_is():
    # reading 6's 93: "the mean is 0.995074 x0 + 0.00492561 xt, expected 0.995074 x0 + 0.00492561 xt"
    import re
    fraction, message, _, _ = graded("posterior_denominator_eps", {"4.3"})["4.3"]
    assert fraction < 1.0, message
    shown_alike = False
    for line in message.splitlines():
        for got, want in re.findall(r"is ([^,(]+?), expected ([^,(]+?)(?: and |\.\s|\.$| \()", line):
            assert got != want or "alike to the digits shown, but" in line, line
            shown_alike = shown_alike or got == want
    assert shown_alike, message   # the case this test is about
    assert "alike to the digits shown, but 5e-07 apart" in message, message


def test_float32_alpha_bars_for_float64_betas_costs_no_value_claim_of_the_functions_using_it():
    # reading 6's 98: forgiven in q_xt_given_x0 (its var came back float32), charged in q_posterior (float64)
    result = graded("ab_float32_cast", {"4.1", "4.2", "4.3"})
    assert all(result[n][0] == 1.0 for n in ("4.1", "4.2", "4.3")), result


# Not corpus variants: tests/corpus/accuracy/validate.py, the grader-independent classifier, has no
# large-logit VAE case and would call them correct.
HAND_WRITTEN_REC = {
    "log_sigmoid_by_hand": ("p = torch.sigmoid(self.dec.decode(z))\n"
                            "rec = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(-1).mean()"),
    "bce_of_sigmoid": ("rec = torch.nn.functional.binary_cross_entropy(torch.sigmoid(self.dec.decode(z)), x, "
                       "reduction='none').sum(-1).mean()")}


@pytest.mark.parametrize("rec, unstable", [("log_sigmoid_by_hand", True), ("bce_of_sigmoid", False)])
def test_a_rec_wrong_only_at_large_decoder_logits_loses_2_2_s_values_and_is_called_unstable_only_when_not_finite(
        rec, unstable):
    # reading 6's 86 and 99: right at moderate logits, so 2.1 passes; 2.2 has a case with logits up to |h| ~ 70
    code = ("m, v = self.enc.encode(x)\n"
            "kl = ut.kl_normal(m, v, self.z_prior_m.expand_as(m), self.z_prior_v.expand_as(v)).mean()\n"
            "z = ut.sample_gaussian(m, v)\n" + HAND_WRITTEN_REC[rec] + "\nreturn kl + rec, kl, rec\n")
    variant = {"name": rec, "kind": "wrong", "function": "VAE.negative_elbo_bound", "file": "models/vae.py",
               "code": code}
    result = audit.grade_variant(variant, [t for t in load_config()["tests"] if t["number"] in {"2.1", "2.2"}])
    assert result["2.1"][0] == 1.0, result["2.1"]
    fraction, message, _, _ = result["2.2"]
    assert fraction < 1.0 and "decoder logits up to |h| = " in message, message
    assert ("rec is not finite where the right value is" in message) == unstable, message


def test_a_nan_gradient_of_rec_reaches_the_encoder_and_is_not_told_that_none_does():
    # reading 7's 107: sample_gaussian(v, m) gives a NaN sample whose gradient reaches every encoder weight as NaN;
    # "no gradient of rec reaches the encoder" was said of it (NaN failed the check's sum > 0)
    from autograder.checks import vae
    outcome = public_check_of_edit(vae.gradients, "models/vae.py", "z = ut.sample_gaussian(m, v)", "z = ut.sample_gaussian(v, m)")
    assert outcome is not None and outcome.fraction < 1.0
    assert "no gradient of rec reaches the encoder" not in outcome.message, outcome.message


def test_a_variance_that_does_not_broadcast_to_x0_is_the_student_s_mistake_not_a_crash_of_the_check():
    # reading 7's 122: a variance of shape (3,) for x0 of shape (3, 4); np.broadcast_shapes raised in the check,
    # and the test was flagged as the grader's failure
    import pytest
    from autograder.checks import diffusion
    from autograder.selfcheck.expect import CheckFailed
    with pytest.raises(CheckFailed, match=r"the variance has shape \(3,\), which does not broadcast to x0's \(3, 4\)"):
        public_check_of_edit(diffusion.forward_marginal, "diffusion.py", "return alpha_bar_t.sqrt() * x0, 1 - alpha_bar_t",
                             "return alpha_bar_t.sqrt() * x0, (1 - alpha_bar_t) * x0.new_ones(x0.shape[0])")


def test_callers_of_an_alpha_bars_wrong_within_float32_tolerance_are_told_to_fix_alpha_bars_first():
    # reading 7's 114: alpha_bars misses (1 - beta_1), 1e-4 relative, within 4.4's float32 tolerance: its own claim
    # holds there, and the float32 lines blamed the right formulas of q_xt_given_x0 and q_posterior
    from autograder.selfcheck.public import diffusion
    outcome = public_check_of_edit(diffusion.diffusion_edges_and_dtypes, "diffusion.py", "return torch.cumprod(1 - betas, dim=0)",
                                   "ab = torch.ones_like(betas)\n    for t in range(1, len(betas)):\n"
                                   "        ab[t] = ab[t - 1] * (1 - betas[t])\n    return ab")
    float32_lines = [line for line in outcome.message.split("\n") if "(float32 inputs) is wrong at an ordinary time" in line]
    assert float32_lines and all("fix alpha_bars first" in line and "says what is wrong there" not in line
                                 for line in float32_lines), outcome.message


def test_a_sampler_that_reseeds_torch_is_not_told_its_noise_is_not_from_torch_s_generator():
    # reading 8's 124: torch.seed() before a right torch.randn_like(m): the noise is torch's, the reseed breaks it
    from autograder.checks import utils
    outcome = public_check_of_edit(utils.gaussian_and_independent, "utils.py", "    eps = torch.randn_like(m)",
                                   "    torch.seed()\n    eps = torch.randn_like(m)")
    assert outcome is not None and "z is not repeatable" in outcome.message, outcome
    assert "does not come from torch's default generator" not in outcome.message and "reseed" in outcome.message


def test_a_bound_that_draws_its_own_sample_is_not_told_it_decodes_the_mean_by_a_chance_nearness():
    # reading 8's 127: z = m + v * randn drawn inline (the judge's sampler never called); its rec landed 5e-5 from
    # the decoded mean's by chance, and "rec decodes the mean m, not a sample" was said of a sample
    import numpy as np
    import pytest
    from autograder.checks import vae
    from autograder.checks.inputs import golden
    from autograder.selfcheck.expect import CheckFailed
    case = golden("vae_bound")["inputs"]
    t = vae.terms(case["state"], case["x"], case["eps"])
    for rec, decoded_mean in ((t["rec_mean"] * (1 + 5e-5), False), (t["rec_mean"] * (1 + 1e-7), True)):
        out = {"nelbo": np.array(t["kl"] + rec), "kl": np.array(t["kl"]), "rec": np.array(rec), "sampler_calls": 0}
        with pytest.raises(CheckFailed) as failed:
            vae.read_bound(out, case["state"], case["x"], case["eps"])
        assert ("decodes the mean" in str(failed.value)) == decoded_mean, str(failed.value)


def test_a_noise_of_variance_v_that_sends_no_gradient_to_v_is_not_told_it_is_unscaled():
    # reading 8's 123: m + torch.normal(0, sqrt(v)) has variance v (1.2 holds) and no gradient to v: "as for
    # z = m + eps: the noise must be scaled by sqrt(v)" was said of a noise scaled by sqrt(v)
    from autograder.checks import utils
    outcome = public_check_of_edit(utils.reparameterization_gradient, "utils.py", "    return m + v.sqrt() * eps",
                                   "    return m + torch.normal(torch.zeros_like(m), v.sqrt())")
    assert outcome is not None and outcome.fraction < 1.0, outcome
    assert "must be scaled by sqrt(v)" not in outcome.message, outcome.message


def test_a_g_loss_cut_by_no_grad_is_told_its_graph_is_cut_not_that_the_fakes_were_detached():
    # reading 9's 161: D(x_fake) under torch.no_grad() for g_loss; "(not detached)" sent the student to a
    # .detach() that is not there
    from autograder.checks import gan
    outcome = public_check_of_edit(gan.loss_nonsaturating, "models/gan.py", "        g_loss = generator_loss_nonsaturating(self.d(x_fake))",
                                   "        with torch.no_grad():\n            fake_logits = self.d(x_fake)\n"
                                   "        g_loss = generator_loss_nonsaturating(fake_logits.requires_grad_())")
    assert outcome is not None and outcome.fraction < 1.0, outcome
    assert "sends no gradient into the generator" in outcome.message and "(not detached)" not in outcome.message
    assert "torch.no_grad()" in outcome.message, outcome.message


def test_a_caller_s_precision_note_does_not_point_above_at_a_sentence_that_comes_later():
    # reading 9's 162: "(above)" named the alpha_bars dtype sentence, which 4.4 prints after the callers' lines
    _, message, _, _ = graded("ab_float32_cast", {"4.4"})["4.4"]
    assert "alpha_bars returns float32 for float64 betas" in message, message
    assert "betas (above)" not in message, message


def test_a_fisher_off_by_one_constant_factor_is_said_of_every_tensor_not_of_its_worst_one():
    fraction, message, keys, _ = graded("fisher_count_per_parameter", {"5.1"})["5.1"]
    assert fraction < 1.0 and "every entry of every parameter's Fisher is 0.25 times the right one" in message, message
    assert "off by up to" not in message and keys == ["fisher_n_per_parameter"], (keys, message)


def test_a_mean_that_is_nan_at_every_time_is_told_wrong_at_an_ordinary_time_not_as_a_t1_case():
    fraction, message, _, _ = graded("marginal_sqrt_around_product", {"4.4"})["4.4"]
    assert fraction < 1.0 and "q_xt_given_x0 (float32 and float64 inputs) is wrong at an ordinary time too" in message
    assert "should have mean 0.99995 x0" not in message, message
    fraction, message, keys, _ = graded("marginal_sqrt_around_product", {"4.2"})["4.2"]
    assert fraction == 0.0 and keys == ["fwd_sqrt_of_product"] and " Also " not in message, (keys, message)


def test_a_posterior_variance_equal_to_beta_t_is_not_explained_as_an_index_slip_alone():
    fraction, message, keys, _ = graded("posterior_var_uses_ab_t_for_prev", {"4.3"})["4.3"]
    assert fraction < 1.0 and keys == ["post_var_beta"], (keys, message)
    assert "as when" not in message and "sigma_t^2" in message and "where alpha_bar_t stands for" in message


def test_a_large_logit_gradient_beside_a_value_right_by_symmetry_is_told_as_the_wrong_formula():
    # mean softplus(h) for mean softplus(-h): at fake logits [1e4, -1e4] both are 5e3, the gradients differ
    fraction, message, _, _ = graded("nonsat_bce_zero_targets", {"3.2"})["3.2"]
    assert fraction < 1.0 and "generator_loss_nonsaturating is wrong at moderate logits too" in message, message
    assert "although the value there is right" not in message, message


def test_one_dimensional_logits_of_different_lengths_are_graded():
    fraction, message, keys, _ = graded("d_loss_adds_terms_before_mean", {"3.1"})["3.1"]
    assert fraction < 1.0 and "discriminator_loss raised RuntimeError" in message, message
    assert keys == ["gan_terms_elementwise"], (keys, message)
    assert "fake ones of shape (" in message and ",)" in message.split("fake ones of shape (")[1][:8], message


def test_an_encoder_gradient_wrong_only_in_the_kl_part_is_named_by_the_path_cut():
    """Tenth outside reading, 179: 2.3's title '(rec through z)' was the only hint beside a KL whose v was detached."""
    for name, cut in (("vae_kl_variance_detached", "v"), ("vae_kl_mean_detached", "m")):
        fraction, message, keys, _ = graded(name, {"2.3"})["2.3"]
        assert fraction < 1.0 and keys == [f"vae_kl_{cut}_detached"], (keys, message)
        assert f"so the KL sends no gradient through {cut}" in message, message
    fraction, message, _, _ = graded("vae_sample_detached", {"2.3"})["2.3"]   # rec's own path is the one cut
    assert fraction < 1.0 and "rec's own gradient w.r.t. the encoder is right" not in message, message


def test_a_reshaped_sample_is_named_only_by_the_reshaping_that_gives_every_wrong_shape():
    """Tenth outside reading, 163: a flatten to (batch, -1) was told as a squeeze, because (2, 1, 3) -> (2, 3) is both."""
    told = {name: graded(name, {"1.1"})["1.1"] for name in ("output_flattened_per_example", "output_squeezed")}
    assert told["output_flattened_per_example"][2] == ["sg_flattened"], told
    assert ".squeeze()" not in told["output_flattened_per_example"][1]
    assert told["output_squeezed"][2] == ["sg_squeezed"], told
    # rsample(m.shape) (not in the corpus: on 1.2's inputs it asks for 4 GB, which the audit's in-process runs would get)
    from autograder.selfcheck.public.utils import sample_gaussian_shapes
    line = "return m + v.sqrt() * eps"
    outcome = public_check_of_edit(sample_gaussian_shapes, "utils.py", line,
                                   "return torch.distributions.Normal(m, v.sqrt()).rsample(m.shape)")
    assert outcome.fraction == 0.0 and outcome.message.count("m's shape twice over, as rsample(m.shape) makes") == 1
    assert "sg_sample_shape" in outcome.message.keys, outcome.message


def test_an_allocation_beyond_the_worker_s_memory_is_pinned_on_the_code_without_its_byte_count():
    from autograder.messages import allocation_note
    error = "RuntimeError: DefaultCPUAllocator: can't allocate memory: you tried to allocate 4096000000 bytes."
    note = allocation_note(error, 3000)
    assert "more memory than the whole worker may hold (3000 MB)" in note and "4096" not in note, note
    assert allocation_note(error.replace("4096000000", "1000000"), 3000) == ""   # could be the machine's: not said
    assert allocation_note("RuntimeError: shapes differ", 3000) == ""

    def run(probe, **inputs):   # the worker's answer to such a call, as grade.attempt_test's run passes it on
        raise StudentError(error)
    run.memory_mb = 3000
    fraction, message = judge([t for t in load_config()["tests"] if t["number"] == "1.2"][0], run)
    assert fraction == 0.0 and "more memory than the whole worker may hold (3000 MB)" in message, message


def test_a_bound_that_decodes_the_mean_in_eval_mode_loses_one_claim_of_2_2_and_is_told_what_changed():
    """Tenth outside reading, 167: z = m in eval mode earned 100 (no check called the bound in eval mode)."""
    result = graded("vae_mean_in_eval_mode", {"2.1", "2.2"})
    assert result["2.1"][0] == 1.0, result
    fraction, message, keys, _ = result["2.2"]
    assert 0.5 < fraction < 1.0 and keys == ["vae_eval_mode"], (keys, message)
    assert "called 0 times in eval mode (1 in train mode), and rec there is that of decoding the mean m" in message


def test_a_backward_that_raises_costs_the_gradient_test_only():
    """Tenth outside reading, 181: an in-place floor on sqrt's output broke only backward, yet 1.2 and 1.3 (the
    draws) were lost with 1.4, because the probe took draws and gradient in one call."""
    result = graded("std_floored_in_place", {"1.2", "1.3", "1.4"})
    assert result["1.2"][0] == 1.0 and result["1.3"][0] == 1.0, result
    fraction, message, keys, _ = result["1.4"]
    assert fraction == 0.0 and keys == ["backward_inplace"] and "returned z, but backpropagating through it" in message, (
        keys, message)


def test_a_tuple_returned_by_sample_gaussian_costs_one_claim_of_1_1_and_its_z_is_judged():
    """Ninth outside reading, 160: (z, eps) returned cost all 17 points of utils.py (every probe refused it)."""
    result = graded("returns_z_and_eps", {"1.1", "1.2", "1.3", "1.4"})
    assert all(result[n][0] == 1.0 for n in ("1.2", "1.3", "1.4")), result
    fraction, message, keys, _ = result["1.1"]
    assert 0.8 < fraction < 1.0 and keys == ["sg_returns_tuple"], (keys, message)


def test_a_sampler_that_looks_at_requires_grad_is_judged_on_inputs_alike_in_every_call():
    """Eleventh outside reading, 186: the probe's later calls had plain inputs, so a sampler that returns m for inputs
    that require no grad was told 'not repeatable' and 'returns m under torch.no_grad()', neither true of it."""
    result = graded("no_noise_unless_inputs_require_grad", {"1.1", "1.2", "1.3"})
    assert result["1.2"][0] == 1.0 and result["1.3"][0] == 1.0, result
    fraction, message, keys, _ = result["1.1"]
    assert fraction == 0.0 and keys == ["sg_no_noise"] and "tensors that do not require grad" in message, message


def test_a_kl_off_by_batch_over_z_dim_equal_to_two_is_not_named_a_missing_half():
    """Eleventh outside reading, 187: a transposed KL (batch 8 / z_dim 4 = 2 times the KL) was told 'the Gaussian KL
    has a factor 1/2'. Both mistakes predict it there: nothing is named."""
    import numpy as np
    from autograder.checks.inputs import rng, vae_state
    from autograder.checks.vae_mistakes import diagnose_bound, terms
    g = rng("test", "transposed kl")
    t = terms(vae_state(g, 4), (g.random((8, 784)) < 0.3).astype(np.float32), g.normal(size=(8, 4)).astype(np.float32))
    assert diagnose_bound((2 * t["kl"] + t["rec"], 2 * t["kl"], t["rec"]), t) is None   # 8 / 4 = 2: either mistake
    # the golden's hidden batch (8 of z_dim 3) tells them apart
    fraction, message, keys, _ = graded("vae_kl_transposed", {"2.1"})["2.1"]
    assert fraction < 1.0 and keys == ["vae_kl_transposed"] and "factor 1/2" not in message, (keys, message)
    fraction, message, keys, _ = graded("vae_kl_missing_half", {"2.1"})["2.1"]
    assert keys == ["vae_kl_half"], (keys, message)


def test_a_backward_that_fails_in_the_judge_s_gradient_call_is_not_told_as_the_method_raising():
    """Eleventh outside reading, 202: 'Your code raised an error' of a method that returned right values; the
    grader's torch.autograd.grad raised (an in-place clamp on detached fakes)."""
    result = graded("gan_clamps_detached_fakes_in_place", {"3.3"})
    fraction, message, keys, claims = result["3.3"]
    assert 0.5 < fraction < 1.0 and keys == ["backward_inplace"], (keys, message)
    assert "raised an error" not in message and "returned g_loss, but backpropagating through it" in message
    assert message.count("backpropagating") == 1, message


def test_dz_dm_shows_its_range_and_a_clamped_z_is_named():
    """Eleventh outside reading, 183: 'observed a median of 1' of a dz/dm that is 0 where z was clamped."""
    fraction, message, keys, _ = graded("sample_clamped_in_place", {"1.4"})["1.4"]
    assert fraction < 1.0 and keys == ["sg_z_clamped"] and "observed 0 to 1 (median 1)" in message, (keys, message)
    assert "times your z's" in message, message


def test_a_generator_loss_wrong_only_on_one_dimensional_logits_is_a_helper_to_fix_first():
    """Eleventh outside reading, 193: the helper check saw only 3.1's hidden (12, 1) logits, where .sum(-1) is right."""
    fraction, message, _, _ = graded("nonsat_sum_last_dim_then_mean", {"3.3"})["3.3"]
    assert fraction < 1.0 and "fix generator_loss_nonsaturating first" in message, message


def test_a_term_right_on_the_shown_batch_and_wrong_on_the_unshown_one_is_said():
    """2.1's second hidden batch (its values never shown): a charge there is said (fifth reading, 74)."""
    import numpy as np
    from autograder.checks import vae
    from autograder.checks.inputs import golden
    shown_x = golden("vae_bound")["inputs"]["x"]

    def run(probe, state, z_dim, x, eps, gradients=True):   # right on the shown batch, nelbo 1% off on the other
        t = vae.terms(state, x, eps)
        off = 1.0 if np.array_equal(x, shown_x) else 1.01
        return {"nelbo": np.array((t["kl"] + t["rec"]) * off), "kl": np.array(t["kl"]), "rec": np.array(t["rec"]),
                "sampler_calls": 1, "numbers": []}
    outcome = vae.fixed_values(run)
    assert outcome.fraction < 1.0 and "right on the hidden batch of 8, but nelbo wrong on a second hidden batch" in \
        outcome.message, outcome.message


def test_an_x_t_coefficient_read_one_step_early_is_not_named_at_t_2_where_two_mistakes_coincide():
    """Twelfth outside reading, 218: sqrt(1 - beta_(t-1)) in the x_t coefficient was told 'sqrt(alpha_bar_(t-1))
    where sqrt(1 - beta_t) belongs' at t = 2, where alpha_bar_1 = 1 - beta_1 makes the two equal."""
    fraction, message, keys, _ = graded("posterior_xt_coefficient_beta_index_early", {"4.3"})["4.3"]
    assert fraction < 1.0 and keys == ["post_alpha_index_early"], (keys, message)
    assert "has sqrt(alpha_bar_(t-1)) where" not in message, message


def test_a_penalty_whose_backward_fails_in_the_judge_s_call_keeps_its_value_points():
    """Twelfth outside reading, 220: 'Your code raised an error' of an ewc_penalty that returned the right value;
    the grader's gradient call raised (d *= d), and all of 5.3 was lost."""
    fraction, message, keys, _ = graded("penalty_squares_in_place", {"5.3"})["5.3"]
    assert 0.5 < fraction < 1.0 and keys == ["backward_inplace"], (keys, message)
    assert "raised an error" not in message and "ewc_penalty returned the penalty, but backpropagating" in message


def test_callers_of_an_alpha_bars_of_float32_accuracy_are_told_about_it():
    """Twelfth outside reading, 223: 4.2 and 4.3 showed values 1e-8 apart without saying that alpha_bars, wrong at
    float64's tolerance in 4.1, was wrong too (the note compared it at 1e-5)."""
    result = graded("ab_float32_round_trip", {"4.1", "4.2", "4.3"})
    assert result["4.1"][0] < 1.0, result
    for number in ("4.2", "4.3"):
        assert "Your alpha_bars is also wrong on this schedule (test 4.1)" in result[number][1], result[number]


def test_a_shape_only_mistake_is_not_told_as_a_wrong_formula():
    """Twelfth outside reading, 216: 'test 4.2 judges its formula' of a right formula with wrong shapes."""
    fraction, message, _, _ = graded("marginal_alpha_bar_shaped_for_images", {"4.4"})["4.4"]
    assert fraction < 1.0 and "formula" not in message and "test 4.2 says what is wrong there" in message, message
    fraction, message, _, _ = graded("marginal_alpha_bar_shaped_for_images", {"4.2"})["4.2"]
    assert "the mean has shape (1, 1, 3, 4), expected (3, 4)" in message, message


def test_a_missing_loss_gradient_names_the_ways_it_is_cut():
    """Twelfth outside reading, 213: 'is the loss built from differentiable torch operations?' of a .detach()."""
    fraction, message, _, _ = graded("minimax_detaches_logits", {"3.1"})["3.1"]
    assert fraction < 1.0 and "a .detach(), .item(), numpy or a new tensor cuts it" in message, message


def test_a_row_left_without_noise_is_caught():
    """Twelfth outside reading, 206: a loop from row 1 left row 0 equal to m and earned 100."""
    fraction, message, _, _ = graded("row_loop_skips_first_row", {"1.3"})["1.3"]
    assert fraction < 1.0 and "in 1 of its 4000 rows (row 0 first)" in message, message


def test_a_loss_that_returned_a_method_is_told_as_returned_not_raised_in_3_1():
    """Thirteenth outside reading, 240: 3.1 said 'raised StudentValueError' of a .mean without parentheses (its
    own raised() did not go through raised_or_returned)."""
    result = graded("minimax_mean_without_parentheses", {"3.1", "3.2"})
    for number in ("3.1", "3.2"):
        fraction, message, keys, _ = result[number]
        assert fraction < 1.0 and "raised" not in message and "returned what the API does not promise" in message
        assert keys == ["returned_method"], (keys, message)


@pytest.mark.parametrize("name, key, test", [("row_loop_skips_first_row", "sg_row_without_noise", "1.3"),
                                             ("minimax_detaches_logits", "gan_loss_no_gradient", "3.1"),
                                             ("marginal_alpha_bar_shaped_for_images", "fwd_shaped_for_images", "4.2")])
def test_this_round_s_new_signatures_are_named(name, key, test):
    fraction, message, keys, _ = graded(name, {test})[test]
    assert fraction < 1.0 and keys == [key], (keys, message)


def test_a_penalty_that_writes_into_star_is_caught_by_5_3():
    """Fourteenth outside reading, 262: d = star[n].detach(); d -= theta wrote into the caller's star; 5.3 gave 5/5
    and 5.4 sent the student back to tests 5.1-5.3, which showed nothing wrong."""
    fraction, message, keys, _ = graded("penalty_overwrites_star", {"5.3"})["5.3"]
    assert fraction < 1.0 and keys == ["penalty_writes_inputs"] and "changed star['hidden.weight']" in message, message


def test_a_forged_backward_failure_passes_only_redacted_bounded_words():
    """A student's own exception named BackwardFailed reaches backward_failed: its 'what' part is the student's
    text, shown only as redaction shows student words (digits hidden, bounded)."""
    from autograder.selfcheck.public.common import backward_failed
    told = str(backward_failed("BackwardFailed: secret 0.123456 and 7 more " + "x" * 80 + ": RuntimeError: 42"))
    assert "0.123456" not in told and "42" not in told and "x" * 41 not in told, told
