"""The accuracy gate over tests/corpus/accuracy: every correct variant gets full marks and is told
no cause; every wrong one loses points in the tests of its own file; the causes named are only the
variant's own (precision 100%) and name it for at least 90% of the wrong variants that declare one
(recall); every claim of every check fails for some wrong variant and holds for the reference or a
correct variant. (`python -m staff audit` grades every variant by every test and prints the matrix.)"""
import subprocess

import numpy as np
import pytest

from helpers import GRADED_FILES, PYTHON, REPO
from autograder.selfcheck.expect import identify
from staff import audit


@pytest.fixture(scope="module")
def graded():
    corpus, tests, graded = audit.grade_corpus(jobs=2, full=False)
    return corpus, tests, graded, audit.verdicts(corpus, tests, graded)


def test_the_corpus_is_large_enough_and_every_wrong_variant_declares_its_causes():
    from autograder.selfcheck.expect import DIAGNOSES
    corpus = audit.variants()
    wrong = [v for v in corpus if v["kind"] == "wrong"]
    correct = [v for v in corpus if v["kind"] == "correct"]
    assert len(wrong) >= 100 and len(correct) >= 30
    for file in GRADED_FILES:
        assert sum(v["file"] == file for v in wrong) >= 15
    assert all(isinstance(v.get("keys"), list) for v in wrong), [v["name"] for v in wrong if "keys" not in v]
    unknown = {v["name"]: k for v in wrong for k in v["keys"] if k not in DIAGNOSES}
    assert not unknown
    assert sum(bool(v["keys"]) for v in wrong) >= 0.9 * len(wrong)


def test_every_correct_variant_gets_full_marks_and_is_told_no_cause(graded):
    corpus, _, _, report = graded
    problems = {v["name"]: report[v["name"]]["problems"] for v in corpus if v["kind"] == "correct"}
    assert not {k: p for k, p in problems.items() if p}


def test_every_wrong_variant_loses_points_in_its_own_file(graded):
    corpus, _, _, report = graded
    problems = {v["name"]: report[v["name"]]["problems"] for v in corpus if v["kind"] == "wrong"}
    assert not {k: p for k, p in problems.items() if p}


def test_precision_no_wrong_variant_is_told_a_cause_that_is_not_its_own(graded):
    corpus, _, _, report = graded
    wrong, _, precision = audit.figures(corpus, report)
    imprecise = {v["name"]: report[v["name"]]["told"] for v in wrong if not report[v["name"]]["precise"]}
    assert precision >= audit.PRECISION and not imprecise, imprecise


def test_recall_at_least_90_percent_of_the_wrong_variants_are_told_their_cause(graded):
    corpus, _, _, report = graded
    wrong, recall, _ = audit.figures(corpus, report)
    missed = [v["name"] for v in wrong if not report[v["name"]]["recalled"]]
    assert recall >= audit.RECALL, missed


def test_every_claim_can_fail_and_can_hold(graded):
    corpus, tests, scores, _ = graded
    cannot_fail, cannot_hold = audit.claim_coverage(corpus, tests, scores)
    assert not cannot_fail, cannot_fail
    assert not cannot_hold, cannot_hold


def test_the_gate_itself_fails_a_check_that_catches_nothing_or_names_everything(graded):
    """The gate can fail: pretend every test passed every wrong variant, or named every cause."""
    corpus, tests, scores, _ = graded
    lenient = {name: {n: (1.0, "Passed.", [], []) for n in s} for name, s in scores.items()}
    report = audit.verdicts(corpus, tests, lenient)
    assert all("no check of its file catches it" in report[v["name"]]["problems"] for v in corpus if v["kind"] == "wrong")
    assert audit.figures(corpus, report)[1] == 0
    from autograder.selfcheck.expect import DIAGNOSES
    chatty = {name: {n: (f, m, sorted(DIAGNOSES), c) for n, (f, m, k, c) in s.items()} for name, s in scores.items()}
    assert audit.figures(corpus, audit.verdicts(corpus, tests, chatty))[2] == 0


def test_every_check_passes_the_reference_and_fails_at_least_one_realistic_mistake(graded):
    corpus, tests, scores, _ = graded
    reference = scores[audit.REFERENCE_VARIANT["name"]]
    for test in tests:
        assert reference[test["number"]][0] == 1.0, (test["number"], reference[test["number"]][1])
        assert not reference[test["number"]][2]
        caught = [v["name"] for v in corpus if v["kind"] == "wrong" and test["number"] in scores[v["name"]]
                  and scores[v["name"]][test["number"]][0] < 1]
        assert caught, f"test {test['number']} catches none of the wrong variants"


@pytest.mark.parametrize("z_dim", [1, 3])
def test_a_batch_of_one_never_hears_of_sums_over_the_batch(z_dim):
    """Whatever a batch of one returns, no batch-sum cause is named (a sum and a mean are equal there)."""
    from autograder.checks import vae_mistakes as vae
    from autograder.checks.inputs import rng, vae_state
    g = rng("test", "batch of one", z_dim)
    state = vae_state(g, z_dim)
    x = (g.random((1, 784)) < 0.3).astype(np.float32)
    eps = g.normal(size=(1, z_dim)).astype(np.float32)
    t = vae.terms(state, x, eps)
    assert not {"vae_batch_sum", "vae_rec_batch_sum", "vae_kl_batch_sum"} & {key for key, _, _ in vae.hypotheses(t)}
    for key, prediction, _ in vae.hypotheses(t):
        told = vae.diagnose_bound(prediction, t)
        assert told is None or told.keys <= {key}
    for factor in (2.0, 0.5, -1.0, 1 / 760):
        told = vae.diagnose_bound((factor * (t["kl"] + t["rec"]), factor * t["kl"], factor * t["rec"]), t)
        assert told is None or not told.keys & {"vae_batch_sum", "vae_rec_batch_sum", "vae_kl_batch_sum"}


def test_q_xt_given_x0_at_t_1_of_T_1_names_no_cause_for_alpha_t():
    """At t = 1 of T = 1, 1 - beta_t = alpha_bar_t: using one for the other cannot be seen, so never named."""
    from autograder.checks import diffusion
    from autograder.selfcheck.expect import recording, CheckFailed

    # 1 - beta_t in place of alpha_bar_t, at every time: named where it shows (t >= 2), never at t = 1 of T = 1
    def run(probe, betas, x0, xt, t):
        return {"q_xt_given_x0": [np.sqrt(1 - betas[t - 1]) * x0, np.array(betas[t - 1])],
                "q_xt_given_x0_dtype": ["float64", "float64"], "q_xt_given_x0_error": None}

    with recording() as record:
        with pytest.raises(CheckFailed) as failed:
            diffusion.forward_marginal(run)
    assert "fwd_alpha_t" in record["keys"] and "T = 1:" not in str(failed.value).split(" Also ")[0]
    assert diffusion.marginal_failure(run, 1, 1, 0) is None        # right there: nothing to say
    betas = np.array([0.3])
    x0 = np.ones((3, 4))
    hyps = [("fwd_alpha_t", (np.sqrt(1 - betas[0]) * x0, betas[0]), "")]
    correct = (np.sqrt(1 - betas[0]) * x0, np.array(betas[0]))
    assert identify(correct, correct, hyps, diffusion.pair_match()) is None


def test_one_rule_names_a_cause_only_when_one_key_fits_and_the_correct_output_does_not():
    match = lambda a, b: abs(a - b) < 1e-9
    assert identify(2.0, 1.0, [("gan_sign", -1.0, ""), ("gan_half", 2.0, "half")], match).keys == {"gan_half"}
    assert identify(2.0, 1.0, [("gan_sign", 2.0, ""), ("gan_half", 2.0, "")], match) is None      # two keys fit
    assert identify(2.0, 1.0, [("sg_logvar", 2.0, "a"), ("sg_logvar", 2.0, "b")], match) == "a"  # one key, twice
    assert identify(1.0, 1.0, [("gan_half", 1.0, "")], match) is None                            # invisible here
    assert identify(2.0, 1.0, [("gan_half", None, "")], match) is None                           # not predictable


def test_a_penalty_without_lam_and_one_without_its_half_are_told_apart_and_never_named_where_equal():
    """At lam = 0.5 both give S / 2: no cause; the check's own lams tell them apart (neither hides the other)."""
    from autograder.checks import ewc, ewc_mistakes
    g = np.random.default_rng(0)
    state = {"w": g.normal(size=(3, 2))}
    fisher, star = {"w": g.uniform(0, 2, (3, 2))}, {"w": g.normal(size=(3, 2))}
    s = float((fisher["w"] * (state["w"] - star["w"]) ** 2).sum())
    match = lambda a, b: bool(np.isclose(a, b, rtol=1e-4))
    told = lambda lam, v: identify(v, lam / 2 * s, ewc_mistakes.penalty_hypotheses(state, fisher, star, lam), match)
    assert told(0.5, s / 2) is None and told(0.5, 0.5 * s) is None
    for lam in ewc.PENALTY_LAMS:
        assert lam == 1.0 or told(lam, s / 2).keys == {"penalty_no_lam"}
        assert told(lam, lam * s).keys == {"penalty_no_half"}


def test_every_variant_is_wrong_or_correct_as_declared_by_a_check_that_does_not_use_the_grader():
    """validate.py compares each variant with the reference directly (values, gradients, statistics)."""
    result = subprocess.run([PYTHON, "tests/corpus/accuracy/validate.py"], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and " 0 misclassified" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]


def test_one_mistake_costs_one_set_of_points_and_a_method_is_not_blamed_for_its_helper():
    """A float32 result for float64 inputs costs only 4.4's dtype claim (0.5 of its 17 weight, one dtype case); an undetached fisher/star only 5.3's
    claim for it (1 of 5); a wrong discriminator_loss is named in 3.1 and 3.3 says to fix it first."""
    tests = {t["number"]: t for t in audit.load_config()["tests"]}
    named = {v["name"]: v for v in audit.variants()}

    def grade(name, numbers):
        return audit.grade_variant(named[name], [tests[n] for n in numbers])

    for name in ("marginal_float32_cast", "posterior_float32_cast"):
        scores = grade(name, ("4.1", "4.2", "4.3", "4.4"))
        assert [scores[n][0] for n in ("4.1", "4.2", "4.3")] == [1.0, 1.0, 1.0], scores
        # 4.4's claims weigh 17: values and dtypes 15, the device claim 2; one dtype case is 0.5 of them
        assert scores["4.4"][0] == pytest.approx(1 - 0.5 / 17) and scores["4.4"][2] == ["dtype_not_kept"], scores["4.4"]
    leak = grade("penalty_fisher_not_detached", ("5.3",))["5.3"]
    assert [name for name, held in leak[3] if not held] == ["nothing into fisher or star"], leak   # one claim of 6
    assert leak[0] == pytest.approx(5 / 6) and leak[2] == ["penalty_leak"], leak
    swapped = grade("d_loss_real_fake_swapped", ("3.1", "3.3"))
    assert swapped["3.1"][2] == ["gan_d_swapped"]
    assert "fix discriminator_loss first" in swapped["3.3"][1] and not swapped["3.3"][2], swapped["3.3"]


def grade_named(name, numbers):
    tests = {t["number"]: t for t in audit.load_config()["tests"]}
    variant = next(v for v in audit.variants() if v["name"] == name)
    return audit.grade_variant(variant, [tests[n] for n in numbers])


def test_wrong_code_earns_nothing_for_the_claims_its_mistake_breaks():
    """eps standardized over the tensor (1.3 gave 100), zeros (1.2 gave 1/3), D's fake logits detached (3.3 gave
    6/6), alpha_bars garbage (4.4), a NaN penalty (5.4: slow, in the audit's matrix)."""
    standardized = grade_named("eps_standardized_over_tensor", ("1.3",))["1.3"]
    # "not re-centred" weighs 2 of 1.3's 12 (README, "How points follow mistakes")
    assert standardized[0] == pytest.approx(1 - 2 / 12) and standardized[2] == ["sg_recentred"], standardized
    assert [name for name, held in standardized[3] if not held] == ["not re-centred"], standardized
    zeros = grade_named("returns_zeros", ("1.2", "1.3"))
    assert zeros["1.2"][0] == 0 and zeros["1.3"][0] == 0, zeros
    detached = grade_named("gan_fake_logits_detached", ("3.3",))["3.3"]
    assert detached[0] < 1 and detached[2] == ["gan_step_d_fake_detached"], detached
    assert grade_named("ab_constant_half", ("4.4",))["4.4"][0] == 0


def test_a_mistake_wrong_everywhere_is_described_once_where_its_test_is():
    """A formula wrong at moderate logits is charged by 3.1; 3.2 says so once (it had a line per large-logit case).
    A posterior variance wrong at every t is 4.3's; 4.4 says so once (it had a line per time and dtype)."""
    halved = grade_named("d_loss_halved", ("3.2",))["3.2"]
    assert halved[1].count("wrong at moderate logits too") == 1 and "at real logits [10000" not in halved[1], halved
    beta = grade_named("posterior_var_uses_ab_t_for_prev", ("4.4",))["4.4"][1]
    assert beta.count("wrong at an ordinary time too") == 1 and "t = T = 10 of this schedule" not in beta, beta
    assert beta.count("the dtype claims earn points once") == 1, beta


def test_a_nan_is_charged_by_the_values_not_again_by_batch_means_or_gradients():
    """A NaN prior variance: 2.1 charges the NaN values; 2.2's batch means hold (rec is right, kl's NaN says
    nothing about means); 2.3 defers its gradients to 2.1 instead of 'off by up to nan'. A NaN that appears only
    on the doubled batch is told as observed, without 'batch means do not change'."""
    nan = grade_named("vae_nan_prior_variance", ("2.1", "2.2", "2.3"))
    assert nan["2.1"][0] < 1 and nan["2.2"][0] == 1.0, nan
    assert "earn points once its value is right" in nan["2.3"][1] and "nan" not in nan["2.3"][1].lower(), nan["2.3"]
    large = grade_named("vae_nan_on_large_batches", ("2.2",))["2.2"]
    assert large[0] < 1 and "changed kl from" in large[1] and "batch means do not change" not in large[1], large


def test_a_recognized_fisher_mistake_is_charged_in_5_1_only():
    """fisher_sum's side effects are all right: 5.2 gives full marks (it lost 3 of 3 while 5.1 charged the sum);
    NaN stays unearned there."""
    summed = grade_named("fisher_sum_not_mean", ("5.1", "5.2"))
    assert summed["5.1"][2] == ["fisher_sum"] and summed["5.2"][0] == 1.0, summed
    assert grade_named("fisher_returns_nan", ("5.2",))["5.2"][0] == 0


def test_advice_follows_only_a_message_with_something_to_fix():
    """'Fix what the message above describes' after points that only wait on another test is advice about nothing."""
    from autograder.messages import next_step
    from autograder.selfcheck.expect import Claims, deferred, join
    test = {"public": False}
    waiting = Claims()
    waiting.claim("x", 1, True)
    waiting.form("mode", 1, True, "mode changed.", False, deferred("mode earns points once the values are right."))
    assert next_step(test, waiting.outcome().message) is None
    wrong = Claims()
    wrong.claim("value", 1, False, "the value is 3, expected 2.")
    wrong.form("mode", 1, True, "mode changed.", False, deferred("mode earns points once the values are right."))
    assert next_step(test, wrong.outcome().message) == next_step(test)
    assert next_step(test, join(deferred("waits. "), "and this is wrong.")) == next_step(test)
    nan = grade_named("fisher_returns_nan", ("5.2",))["5.2"][1]
    assert "Fix what" not in nan and "pytest" not in nan, nan
