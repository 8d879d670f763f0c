"""config.yaml is validated when loaded: a mistake stops grading with a message that names it."""
import copy

import pytest
import yaml

from autograder.config import PATH, ConfigError, load_config, validate
from autograder.selfcheck.surface import GRADED_FILES

RAW = yaml.safe_load(PATH.read_text())


def test_the_shipped_config_loads_typed():
    config = load_config()
    assert sum(t["points"] for t in config["tests"]) == 100
    assert {t["file"] for t in config["tests"]} == set(GRADED_FILES)
    assert all(isinstance(t["number"], str) and isinstance(t["points"], float) for t in config["tests"])


def broken(change):
    raw = copy.deepcopy(RAW)
    change(raw)
    return raw


@pytest.mark.parametrize("change, message", [
    (lambda r: r["tests"][0].update(file="models/nns.py"), "not a graded file"),
    (lambda r: r["tests"][0].update(points=5), "points sum to 101"),
    (lambda r: r["tests"][0].update(check="checks.utils.no_such_check"), "does not exist"),
    (lambda r: r["tests"][1].update(number="1.1"), "numbers repeat"),
    (lambda r: r["tests"][0].update(visibility="secret"), "visibility must be one of"),
    (lambda r: r["tests"][0].pop("timeout_s"), "missing ['timeout_s']"),
    (lambda r: r["tests"][0].update(weight=3), "unknown ['weight']"),
    (lambda r: r["limits"].update(budget_s=900), "under Gradescope's 600 s"),
    (lambda r: r["limits"].update(worker_rss_mb="lots"), "worker_rss_mb should be int"),
    (lambda r: r.update(tests=[t for t in r["tests"] if t["file"] != "ewc.py"]), "no test judges ewc.py"),
    (lambda r: r["tests"][0].pop("public"), "test 1.1: public must be true"),
    (lambda r: r["tests"][1].update(public=True), "test 1.2: public must be false"),
    (lambda r: r["tests"][0].update(public="yes"), "public should be true or false"),
])
def test_a_config_mistake_is_named(change, message):
    with pytest.raises(ConfigError, match=__import__("re").escape(message)):
        validate(broken(change))


def test_the_advice_after_a_failure_follows_the_public_flag():
    from autograder.messages import NEXT_STEP, next_step
    tests = {t["number"]: t for t in load_config()["tests"]}
    assert next_step(tests["1.1"]) == NEXT_STEP["failed_public"] and next_step(tests["1.2"]) == NEXT_STEP["failed"]
    assert next_step({**tests["1.1"], "public": False}) == NEXT_STEP["failed"]   # the flag decides, not the check's name
