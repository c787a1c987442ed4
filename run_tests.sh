#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Linux machine, then runs it.
#   ./run_tests.sh [pytest args...]
# Installs: a .venv with the CPU build of torch (TORCH_SPEC overrides), requirements*.txt, the
# project itself (pip install -e .), and,
# when running as root with apt-get available, Debian's chromium + chromium-driver for the
# browser end-to-end test, shellcheck for start.sh, ffmpeg (ffprobe checks recorded videos) and
# redis-server (the tests start their own on a free loopback port for the dramatiq engine);
# with npm, PlayCanvas's splat-transform (tools/splat-transform) to read our exports back.
# Tests skip with a reason where these cannot be had.
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
echo "[setup] installing the project (editable: the mlsharp command, imports for bench/)"
"$VPY" -m pip install -q --no-deps -e .

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "[setup] installing ${missing[*]} (browser test, launcher lint)"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
            || echo "[setup] ${missing[*]} could not be installed; the tests that need them will skip"
    else
        echo "[setup] ${missing[*]} not found and not root; the tests that need them will skip"
    fi
fi

# PlayCanvas's splat-transform: the independent reader every export format is checked with
# (tests/sharpnet/io/test_splat_transform.py skips with a reason where npm is missing).
if command -v npm >/dev/null 2>&1; then
    echo "[setup] installing splat-transform (tools/splat-transform, from its lockfile)"
    (cd tools/splat-transform && npm ci --no-audit --no-fund --loglevel=error) \
        || echo "[setup] splat-transform could not be installed; the export reader tests will skip"
else
    echo "[setup] npm not found; the export reader tests will skip"
fi

echo "[test] running pytest"
exec "$VPY" -m pytest "$@"
