"""The accuracy gate over tests/corpus/accuracy: every correct variant gets full marks, every wrong
one loses points in the tests of its own file and nowhere else, and for at least 80% of the wrong
ones the feedback names the mistake. (`python -m staff audit` prints the whole matrix.)"""
import pytest

from helpers import GRADED_FILES, REFERENCE
from staff import audit


@pytest.fixture(scope="module")
def graded():
    corpus, tests, graded = audit.grade_corpus(jobs=2, full=False)
    return corpus, tests, graded, audit.verdicts(corpus, tests, graded)


def test_the_corpus_is_large_enough():
    corpus = audit.variants()
    wrong = [v for v in corpus if v["kind"] == "wrong"]
    correct = [v for v in corpus if v["kind"] == "correct"]
    assert len(wrong) >= 50 and len(correct) >= 15
    for file in GRADED_FILES:
        assert sum(v["file"] == file for v in wrong) >= 6


def test_every_correct_variant_gets_full_marks(graded):
    corpus, _, _, report = graded
    problems = {v["name"]: report[v["name"]]["problems"] for v in corpus if v["kind"] == "correct"}
    assert not {k: p for k, p in problems.items() if p}


def test_every_wrong_variant_loses_points_in_its_own_file_and_nowhere_else(graded):
    corpus, _, _, report = graded
    problems = {v["name"]: report[v["name"]]["problems"] for v in corpus if v["kind"] == "wrong"}
    assert not {k: p for k, p in problems.items() if p}


def test_feedback_names_the_mistake_for_at_least_80_percent(graded):
    corpus, _, _, report = graded
    wrong = [v for v in corpus if v["kind"] == "wrong"]
    unnamed = [v["name"] for v in wrong if not report[v["name"]]["named"]]
    assert 1 - len(unnamed) / len(wrong) >= audit.HINT_RATE, unnamed


def test_the_gate_itself_fails_a_check_that_catches_nothing(graded):
    """The gate can fail: pretend every test passed every wrong variant."""
    corpus, tests, graded_scores, _ = graded
    lenient = {name: {n: (1.0, "Passed.") for n in scores} for name, scores in graded_scores.items()}
    report = audit.verdicts(corpus, tests, lenient)
    assert all("no check of its file catches it" in report[v["name"]]["problems"] for v in corpus if v["kind"] == "wrong")


def test_every_check_passes_the_reference_and_fails_at_least_one_realistic_mistake(graded):
    from autograder.grade import judge
    from autograder.selfcheck.local import local_run
    from helpers import HANDOUT
    corpus, tests, scores, _ = graded
    run = local_run(REFERENCE, clean_root=HANDOUT)
    for test in tests:
        assert judge(test, run)[0] == 1.0, test["number"]
        caught = [v["name"] for v in corpus if v["kind"] == "wrong" and test["number"] in scores[v["name"]]
                  and scores[v["name"]][test["number"]][0] < 1]
        assert caught, f"test {test['number']} catches none of the wrong variants"
