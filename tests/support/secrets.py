"""The leak detector: what must never appear in a results file (lines of the reference solution, the
hidden checks' source, the goldens' checksums and values). Used by test_hostile.py."""
import json
import re
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).resolve().parent.parent.parent
REFERENCE = SOURCE / "reference"


def solution_lines():
    lines = set()
    for path in REFERENCE.rglob("*.py"):
        inside = False
        for line in path.read_text().splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 25:
                lines.add(line.strip())
    return lines


def check_source_strings():
    """Comments and code lines (no string literal on them) of the hidden checks."""
    found = set()
    for path in (SOURCE / "autograder" / "checks").glob("*.py"):
        for line in path.read_text().splitlines():
            text = line.strip()
            if "#" in text and not text.startswith(("'", '"')):
                comment = text[text.index("#"):].lstrip("# ").strip()
                if len(comment) > 25 and "'" not in text[:text.index("#")] and '"' not in text[:text.index("#")]:
                    found.add(comment)
            elif len(text) > 30 and "'" not in text and '"' not in text:
                found.add(text)
    return found


def golden_strings():
    """The goldens' checksums, the text forms of their float values (what an exfiltration prints), and
    the values rounded to 6 decimals (what a spelled-out exfiltration decodes to)."""
    manifest = json.loads((SOURCE / "autograder" / "goldens" / "manifest.json").read_text())
    found = {f["sha256"] for f in manifest["files"].values()}
    numbers, rounded = set(), set()
    for path in (SOURCE / "autograder" / "goldens").glob("*.npz"):
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                a = npz[key]
                if not np.issubdtype(a.dtype, np.floating):
                    continue
                for v in a.ravel()[:400]:
                    for text in (repr(float(v)), str(v), f"{float(v):.8f}"):
                        if len(text.lstrip("-").replace("0.", "", 1)) >= 9:
                            numbers.add(text.lstrip("-"))
                    if np.isfinite(v) and v != 0:
                        rounded.add(f"{abs(float(v)):.6f}")
    return found, numbers, rounded


SECRETS = {}


def secrets():
    if not SECRETS:
        hashes, numbers, rounded = golden_strings()
        SECRETS.update(solution=solution_lines(), checks=check_source_strings(), hashes=hashes, numbers=numbers,
                       rounded=rounded)
    return SECRETS


def leaks(text, submitted):
    s = secrets()
    found = [f"reference solution line {line!r}" for line in s["solution"] if line in text and line not in submitted]
    found += [f"check source {line!r}" for line in s["checks"] if line in text and line not in submitted]
    found += [f"golden checksum {h}" for h in s["hashes"] if h in text]
    tokens = set(re.findall(r"\d+\.\d+(?:e[-+]?\d+)?", text))
    found += [f"golden value {n}" for n in sorted(tokens & s["numbers"])[:5] if n not in submitted]
    spelled = {f"{v:.6f}" for v in spelled_numbers(text)}
    hits = sorted(spelled & s["rounded"] - {"0.000000", "1.000000"})
    if len(hits) >= 3:   # one or two could be chance; three golden values spelled out are not
        found.append(f"golden values spelled out in words ({', '.join(hits[:3])}, ...)")
    return found


DIGIT_WORDS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine".split())}


def spelled_numbers(text):
    """Numbers written as words ("two point one one six"), as floats."""
    values = []
    for run in re.findall(r"(?:\b(?:minus|zero|one|two|three|four|five|six|seven|eight|nine|point)\b[\s,-]*){4,}",
                          text.lower()):
        digits = "".join("." if w == "point" else "" if w == "minus" else DIGIT_WORDS[w] for w in re.findall(r"[a-z]+", run))
        try:
            values.append(abs(float(digits)))
        except ValueError:
            continue
    return values
