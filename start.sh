#!/usr/bin/env bash
# MLSharp 3D Maker for Linux and macOS: set up (first run) and start the service.
#   ./start.sh [app.py arguments...]          e.g. ./start.sh --port 8001 --no-browser
# Environment knobs:
#   TORCH_BUILD=cuda|rocm|mps|cpu   skip GPU detection       TORCH_SPEC=...       pip requirement for torch
#   TORCH_INDEX_URL=...             pip index for torch      PYTHON=...           interpreter to use
#   MLSHARP_SKIP_DOWNLOAD=1         never offer the checkpoint download
#   MLSHARP_DRY_RUN=1               print the plan and exit without changing anything
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
VPY="$VENV/bin/python"
CHECKPOINT=model_assets/sharp_2572gikvuh.pt
ROCM_INDEX=https://download.pytorch.org/whl/rocm7.2
DRY="${MLSHARP_DRY_RUN:-0}"
LOG=/dev/null
[ "$DRY" = 1 ] || { mkdir -p logs && LOG="logs/setup_$(date +%Y%m%d).log"; }

say() { printf '[start] %s\n' "$*"; printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >>"$LOG"; }
# fail CAUSE FIX...: what went wrong, then how to fix it; every known failure ends here.
fail() {
    printf '\n[start] ERROR: %s\n' "$1" >&2; printf '%s ERROR: %s\n' "$(date +%H:%M:%S)" "$1" >>"$LOG"
    shift; for fix in "$@"; do printf '        fix: %s\n' "$fix" >&2; done
    [ "$LOG" = /dev/null ] || printf '        details: %s\n' "$LOG" >&2
    exit 1
}
# pip_install WHAT ARGS...: run pip, output to console and log; explain the common failures.
pip_install() {
    local what=$1; shift
    say "installing $what"
    if "$VPY" -m pip install --disable-pip-version-check "$@" 2>&1 | tee -a "$LOG"; then return 0; fi
    if tail -n 40 "$LOG" | grep -qi 'no space left'; then
        fail "out of disk space while installing $what" "free space on $(pwd) and in ${TMPDIR:-/tmp}, then run ./start.sh again"
    elif tail -n 40 "$LOG" | grep -qiE 'no matching distribution|could not find a version'; then
        fail "no $what build matches Python $PYV on $(uname -sm)" \
             "use Python 3.10-3.13 (PYTHON=python3.12 ./start.sh, after rm -rf $VENV)" \
             "or choose another build: TORCH_SPEC=... TORCH_INDEX_URL=... ./start.sh"
    elif tail -n 40 "$LOG" | grep -qiE 'connection|resolve|timed out|network'; then
        fail "could not download $what (network)" "check the internet connection or proxy (HTTPS_PROXY), then run ./start.sh again"
    fi
    fail "installing $what failed" "read the pip output above; run ./start.sh again after fixing it"
}
is_ok_python() {  # prints MAJOR.MINOR and succeeds when $1 is Python >= 3.10
    local v; v=$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || return 1
    echo "$v"; [ "${v%%.*}" = 3 ] && [ "${v#*.}" -ge 10 ] 2>/dev/null
}
free_gb() { df -Pk . | awk 'NR == 2 { print int($4 / 1048576) }'; }

# 1. Python 3.10+ -----------------------------------------------------------------------------
PY="" PYV="" SEEN=""
for cand in ${PYTHON:-python3 python3.13 python3.12 python3.11 python3.10 python}; do
    command -v "$cand" >/dev/null 2>&1 || { SEEN="$SEEN${PYTHON:+ $cand(not found)}"; continue; }
    if v=$(is_ok_python "$cand"); then PY=$(command -v "$cand"); PYV=$v; break; fi
    SEEN="$SEEN $cand(${v:-unusable})"
done
if [ -z "$PY" ]; then
    case "$(uname -s)" in
        Darwin) how="brew install python@3.12   (or the installer from https://www.python.org/downloads/)";;
        *) if command -v apt-get >/dev/null; then how="sudo apt-get install python3 python3-venv"
           elif command -v dnf >/dev/null; then how="sudo dnf install python3"
           elif command -v pacman >/dev/null; then how="sudo pacman -S python"
           else how="install Python 3.10 or newer with your package manager"; fi;;
    esac
    fail "Python 3.10 or newer not found${SEEN:+ (found:$SEEN)}" "$how" "or point to one: PYTHON=/path/to/python3 ./start.sh"
fi
say "python: $PY ($PYV)"

# 2. Which PyTorch build ----------------------------------------------------------------------
detect_build() {
    if [ "$(uname -s)" = Darwin ]; then echo mps
    elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; then echo cuda
    elif command -v rocminfo >/dev/null 2>&1 && rocminfo 2>/dev/null | grep -q 'gfx[0-9]'; then echo rocm
    elif [ -d "${ROCM_PATH:-/opt/rocm}" ]; then echo rocm
    else echo cpu; fi
}
BUILD="${TORCH_BUILD:-$(detect_build)}"
SPEC="${TORCH_SPEC:-torch==2.13.0}" INDEX="${TORCH_INDEX_URL:-}"
case "$BUILD" in
    cuda) note="NVIDIA GPU: PyPI's Linux torch wheels are CUDA builds";;
    rocm) note="AMD GPU: ROCm build from the PyTorch index (needs internet; set TORCH_INDEX_URL for a mirror)"
          SPEC="${TORCH_SPEC:-torch>=2.4}" INDEX="${TORCH_INDEX_URL:-$ROCM_INDEX}";;
    mps) note="macOS: PyPI's wheels use the Apple GPU (MPS)"
         if [ "$(uname -m)" = x86_64 ] && [ -z "${TORCH_SPEC:-}" ]; then
             fail "PyTorch no longer publishes builds for Intel Macs (last: 2.2), and MLSharp needs torch 2.4+" \
                  "use an Apple-silicon Mac, or Linux/Windows"; fi;;
    cpu) note="no GPU found: CPU build (smaller download: TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu)";;
    *) fail "TORCH_BUILD=$BUILD is not one of cuda, rocm, mps, cpu" "unset TORCH_BUILD to detect the GPU";;
esac
say "torch build: $BUILD - $note"

HAVE_TORCH=""
[ -x "$VPY" ] && HAVE_TORCH=$("$VPY" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
if [ "$DRY" = 1 ]; then
    echo "plan: python=$PY version=$PYV"
    echo "plan: venv=$([ -x "$VPY" ] && echo reuse || echo create) $VENV"
    echo "plan: build=$BUILD"
    if [ -n "$HAVE_TORCH" ]; then echo "plan: torch=keep $HAVE_TORCH"; else echo "plan: torch=install $SPEC index=${INDEX:-default}"; fi
    echo "plan: checkpoint=$([ -f "$CHECKPOINT" ] && echo present || echo absent)"
    echo "plan: disk_free_gb=$(free_gb)"
    echo "plan: run=$VPY app.py $*"
    exit 0
fi

# 3. Virtual environment, torch, requirements --------------------------------------------------
if [ ! -x "$VPY" ]; then
    say "creating $VENV"
    if ! "$PY" -m venv "$VENV" >>"$LOG" 2>&1; then
        rm -rf "$VENV"
        fail "Python $PYV cannot create a virtual environment (the venv/ensurepip module is missing)" \
             "Debian/Ubuntu: sudo apt-get install python$PYV-venv   (then run ./start.sh again)"
    fi
    "$VPY" -m pip install -q --disable-pip-version-check --upgrade pip >>"$LOG" 2>&1 || say "could not upgrade pip; continuing"
fi
"$VPY" -c '' 2>/dev/null || fail "$VENV is broken (was its Python removed or upgraded?)" "rm -rf $VENV && ./start.sh"
if ! "$VPY" -m pip --version >/dev/null 2>&1; then
    "$VPY" -m ensurepip --upgrade >>"$LOG" 2>&1 ||
        fail "pip is missing in $VENV" "rm -rf $VENV; install python$PYV-venv (Debian/Ubuntu) and run ./start.sh again"
fi

if [ -n "$HAVE_TORCH" ]; then
    say "torch $HAVE_TORCH already installed in $VENV (delete $VENV to choose again)"
else
    case "$BUILD" in cuda|rocm) need=8;; *) need=2;; esac
    [ "$(free_gb)" -ge "$need" ] || fail "out of disk: the $BUILD build of torch needs about $need GB, $(free_gb) GB free on $(pwd)" \
        "free some space (or move this folder to a larger disk) and run ./start.sh again"
    pip_install "PyTorch ($SPEC)" "$SPEC" ${INDEX:+--index-url "$INDEX"}
fi
case "$BUILD" in  # a GPU that torch cannot use is worth a loud warning, not a stop: the CPU still works
    cuda) "$VPY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null || {
          say "WARNING: an NVIDIA GPU is present but this torch cannot use it; MLSharp will run on the CPU."
          say "  fix: update the NVIDIA driver (nvidia-smi shows the CUDA version it supports), or reinstall torch:"
          say "       $VPY -m pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu126"; };;
    rocm) "$VPY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null ||
          say "WARNING: torch cannot use the AMD GPU (ROCm build and driver must match); MLSharp will run on the CPU.";;
esac

STAMP="$VENV/.mlsharp-requirements"
if [ "$(cksum <requirements.txt)" != "$(cat "$STAMP" 2>/dev/null)" ]; then
    pip_install "requirements" -r requirements.txt
    cksum <requirements.txt >"$STAMP"
fi

# 4. Optional checkpoint download (the preview backend works without it) -----------------------
NO_ASK="$VENV/.mlsharp-no-download"
if [ ! -f "$CHECKPOINT" ] && [ "${MLSHARP_SKIP_DOWNLOAD:-0}" != 1 ] && [ ! -f "$NO_ASK" ] && [ -t 0 ] && [ -t 1 ]; then
    echo "The SHARP checkpoint (2.8 GB) is not installed; without it a quick preview model answers."
    echo "Its weights are under Apple's research-only model licence (see README)."
    answer=""; read -r -t 120 -p "Download it now? [y/N] " answer || true
    case "$answer" in
        [yY]*) "$VPY" app.py --download-model || say "download failed; starting with the preview backend";;
        *) touch "$NO_ASK"; say "skipped; download later with: $VPY app.py --download-model";;
    esac
fi

# 5. Port check, then start --------------------------------------------------------------------
PORT_PROBLEM=$("$VPY" - "$@" 2>/dev/null <<'PY' || true
import sys
try:
    from app import port_problem
    from mlsharp.cli import build_parser, overrides_from_args
    from mlsharp.config import load_config
    args = build_parser().parse_args(sys.argv[1:])
    config, _ = load_config(args.config, overrides_from_args(args))
    problem = None if args.download_model else port_problem(config.server.host, config.server.port)
except BaseException:  # predict, --help, a bad flag or config: app.py itself explains those
    sys.exit(0)
if problem:
    print(config.server.port, problem)
PY
)
if [ -n "$PORT_PROBLEM" ]; then
    port=${PORT_PROBLEM%% *}
    fail "${PORT_PROBLEM#* }" "start on another port: ./start.sh --port $((port + 1))" \
         "or find the program holding it: ss -ltnp | grep :$port   (macOS: lsof -nP -iTCP:$port -sTCP:LISTEN)"
fi
say "starting: $VPY app.py $*"
exec "$VPY" app.py "$@"
