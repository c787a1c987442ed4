#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Linux machine, then runs it.
#   ./run_tests.sh [pytest args...]
# Installs: a .venv with the CPU build of torch (TORCH_SPEC overrides), requirements*.txt, and,
# when running as root with apt-get available, Debian's chromium + chromium-driver for the
# browser end-to-end test and shellcheck for start.sh (those tests skip with a reason where
# the packages cannot be had).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"

if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv"
    "$PYTHON" -m venv .venv
fi
VPY=.venv/bin/python
if ! "$VPY" -c "import torch" 2>/dev/null; then
    echo "[setup] installing $TORCH_SPEC"
    "$VPY" -m pip install -q --upgrade pip
    "$VPY" -m pip install -q "$TORCH_SPEC"
fi
echo "[setup] installing requirements"
"$VPY" -m pip install -q -r requirements.txt -r requirements-dev.txt

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "[setup] installing ${missing[*]} (browser test, launcher lint)"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
            || echo "[setup] ${missing[*]} could not be installed; the tests that need them will skip"
    else
        echo "[setup] ${missing[*]} not found and not root; the tests that need them will skip"
    fi
fi

echo "[test] running pytest"
exec "$VPY" -m pytest "$@"
