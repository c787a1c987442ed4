"""The launchers: start.sh runs in a sandbox with fake tools; Start.ps1/Start.bat are parsed.

start.sh is run from a temporary copy with a PATH that holds only the shell utilities it needs
plus stubs (python3, nvidia-smi, rocminfo, uname), so the GPU detection, the torch choice and
every failure message are checked offline in milliseconds, whatever this machine has installed.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START_SH = ROOT / "start.sh"
START_PS1 = ROOT / "Start.ps1"
START_BAT = ROOT / "Start.bat"
BASH = shutil.which("bash") or "/bin/bash"
# What start.sh calls besides bash builtins; python is deliberately not among them.
TOOLS = ("awk", "cat", "cksum", "date", "df", "dirname", "grep", "mkdir", "rm", "tail", "tee", "touch")
ENV_KNOBS = ("TORCH_BUILD", "TORCH_SPEC", "TORCH_INDEX_URL", "PYTHON", "MLSHARP_DRY_RUN",
             "MLSHARP_SKIP_DOWNLOAD", "ROCM_PATH")


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


class Sandbox:
    """A copy of start.sh with its own PATH; stubs are added per test."""

    def __init__(self, tmp: Path) -> None:
        self.app = tmp / "app"
        self.bin = tmp / "bin"
        self.app.mkdir()
        self.bin.mkdir()
        shutil.copy2(START_SH, self.app / "start.sh")
        (self.app / "requirements.txt").write_text("numpy\n")
        for tool in TOOLS:
            found = shutil.which(tool)
            if found is None:
                pytest.skip(f"{tool} is not installed")
            (self.bin / tool).symlink_to(found)
        self.no_rocm = tmp / "no-rocm"  # ROCM_PATH pointing nowhere: a real /opt/rocm must not leak in

    def python(self, version: str | None = None) -> None:
        """python3 on PATH: the real interpreter, or one that claims ``version``."""
        if version is None:
            _script(self.bin / "python3", f'exec "{sys.executable}" "$@"')
        else:
            _script(self.bin / "python3", f'echo {version}')

    def stub(self, name: str, body: str) -> None:
        _script(self.bin / name, body)

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        base = {k: v for k, v in os.environ.items() if k not in ENV_KNOBS}
        base.update(PATH=str(self.bin), ROCM_PATH=str(self.no_rocm), HOME=str(self.app))
        base.update(env)
        return subprocess.run([BASH, str(self.app / "start.sh"), *args], env=base, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)

    def plan(self, *args: str, **env: str) -> dict[str, str]:
        result = self.run(*args, MLSHARP_DRY_RUN="1", **env)
        assert result.returncode == 0, result.stderr
        plan = {}
        for line in result.stdout.splitlines():
            if line.startswith("plan: "):
                key, _, value = line[len("plan: "):].partition("=")
                plan[key] = value
        return plan


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def fake_venv(box: Sandbox, cuda_ok: bool = True, port_busy: bool = False, pip_error: str = "") -> None:
    """A .venv whose python answers start.sh's questions and records how app.py was started."""
    vbin = box.app / ".venv" / "bin"
    vbin.mkdir(parents=True, exist_ok=True)
    port_reply = "echo '8000 port 8000 on 127.0.0.1 is already in use'" if port_busy else ":"
    pip_reply = f"echo '{pip_error}'; exit 1" if pip_error else "exit 0"
    _script(vbin / "python", f"""
case "$1" in
  -) cat >/dev/null; {port_reply}; exit 0;;
  -m) [ "$2 $3" = "pip install" ] && {{ {pip_reply}; }}; exit 0;;
  -c) case "$2" in *__version__*) echo 2.13.0+fake;; *is_available*) exit {0 if cuda_ok else 1};; esac; exit 0;;
  *) echo "APP STARTED $*";;
esac""")


# ---------------------------------------------------------------------- start.sh: static checks


def test_start_sh_is_executable_and_parses():
    assert os.access(START_SH, os.X_OK), "README says ./start.sh: the file must keep its executable bit"
    result = subprocess.run(["bash", "-n", str(START_SH)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_start_sh_passes_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    result = subprocess.run(["shellcheck", str(START_SH)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


# ---------------------------------------------------------------------- start.sh: torch choice


def test_cpu_when_no_gpu(box):
    box.python()
    plan = box.plan()
    assert plan["build"] == "cpu"
    assert plan["torch"] == "install torch==2.13.0 index=default"
    assert plan["venv"] == "create .venv"
    assert plan["checkpoint"] == "absent"


def test_nvidia_gets_the_cuda_build(box):
    box.python()
    box.stub("nvidia-smi", 'echo "GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-0)"')
    plan = box.plan()
    assert plan["build"] == "cuda"
    assert plan["torch"].endswith("index=default")  # PyPI's Linux wheels are the CUDA builds


def test_nvidia_smi_without_a_working_driver_falls_back_to_cpu(box):
    box.python()
    box.stub("nvidia-smi", 'echo "NVIDIA-SMI has failed because it could not communicate with the driver"; exit 9')
    assert box.plan()["build"] == "cpu"


def test_amd_via_rocminfo_gets_the_rocm_index(box):
    box.python()
    box.stub("rocminfo", 'echo "  Name:                    gfx1100"')
    plan = box.plan()
    assert plan["build"] == "rocm"
    assert "index=https://download.pytorch.org/whl/rocm" in plan["torch"]


def test_amd_via_rocm_path(box, tmp_path):
    box.python()
    rocm = tmp_path / "rocm"
    rocm.mkdir()
    assert box.plan(ROCM_PATH=str(rocm))["build"] == "rocm"


def test_apple_silicon_gets_the_default_wheel(box):
    box.python()
    box.stub("uname", 'case "$1" in -m) echo arm64;; *) echo Darwin;; esac')
    box.stub("nvidia-smi", 'echo "GPU 0: never asked on a Mac"')
    plan = box.plan()
    assert plan["build"] == "mps"
    assert plan["torch"] == "install torch==2.13.0 index=default"


def test_intel_mac_is_refused_with_a_reason(box):
    box.python()
    box.stub("uname", 'case "$1" in -m) echo x86_64;; *) echo Darwin;; esac')
    result = box.run(MLSHARP_DRY_RUN="1")
    assert result.returncode == 1
    assert "Intel Macs" in result.stderr and "fix:" in result.stderr


def test_environment_overrides_win(box):
    box.python()
    box.stub("nvidia-smi", 'echo "GPU 0: NVIDIA A100"')
    plan = box.plan(TORCH_BUILD="cpu", TORCH_SPEC="torch==2.5.1", TORCH_INDEX_URL="https://mirror.example/whl")
    assert plan["build"] == "cpu"
    assert plan["torch"] == "install torch==2.5.1 index=https://mirror.example/whl"


def test_unknown_torch_build_is_an_error(box):
    box.python()
    result = box.run(TORCH_BUILD="tpu", MLSHARP_DRY_RUN="1")
    assert result.returncode == 1 and "TORCH_BUILD=tpu" in result.stderr


def test_arguments_reach_app_py(box):
    box.python()
    assert box.plan("--port", "8123", "--no-browser")["run"] == ".venv/bin/python app.py --port 8123 --no-browser"


def test_dry_run_changes_nothing(box):
    box.python()
    box.plan()
    assert sorted(p.name for p in box.app.iterdir()) == ["requirements.txt", "start.sh"]


# ---------------------------------------------------------------------- start.sh: failures explained


def test_missing_python_says_how_to_install(box):
    result = box.run()
    assert result.returncode == 1
    assert "Python 3.10 or newer not found" in result.stderr
    assert "fix:" in result.stderr and "PYTHON=" in result.stderr
    assert not (box.app / ".venv").exists()


def test_old_python_is_named(box):
    box.python(version="3.8")
    result = box.run()
    assert result.returncode == 1
    assert "python3(3.8)" in result.stderr


def test_missing_venv_module_is_explained_and_cleaned_up(box):
    box.stub("python3", f"""case "$1" in -m) mkdir -p "$3"; echo 'ensurepip is not available' >&2; exit 1;;
  *) exec "{sys.executable}" "$@";; esac""")
    result = box.run()
    assert result.returncode == 1
    assert "cannot create a virtual environment" in result.stderr
    assert "-venv" in result.stderr  # the Debian/Ubuntu package to install
    assert not (box.app / ".venv").exists(), "a half-made .venv must not be left behind"


def test_existing_torch_is_kept_and_app_started_with_arguments(box):
    box.python()
    fake_venv(box)
    result = box.run("--port", "8123")
    assert result.returncode == 0, result.stderr
    assert "torch 2.13.0+fake already installed" in result.stdout
    assert result.stdout.rstrip().endswith("APP STARTED app.py --port 8123")
    logs = list((box.app / "logs").glob("setup_*.log"))
    assert len(logs) == 1 and "starting:" in logs[0].read_text()


def test_busy_port_stops_before_starting(box):
    box.python()
    fake_venv(box, port_busy=True)
    result = box.run()
    assert result.returncode == 1
    assert "already in use" in result.stderr and "--port 8001" in result.stderr
    assert "APP STARTED" not in result.stdout


def test_nvidia_gpu_that_torch_cannot_use_is_a_warning(box):
    box.python()
    box.stub("nvidia-smi", 'echo "GPU 0: NVIDIA GeForce RTX 3060"')
    fake_venv(box, cuda_ok=False)
    result = box.run()
    assert result.returncode == 0, result.stderr
    assert "NVIDIA GPU is present but this torch cannot use it" in result.stdout
    assert "APP STARTED" in result.stdout


def test_out_of_disk_during_install_is_explained(box):
    box.python()
    fake_venv(box, pip_error="OSError: [Errno 28] No space left on device")
    result = box.run()
    assert result.returncode == 1
    assert "out of disk space" in result.stderr and "fix:" in result.stderr


def test_network_failure_during_install_is_explained(box):
    box.python()
    fake_venv(box, pip_error="Failed to establish a new connection: Temporary failure in name resolution")
    result = box.run()
    assert result.returncode == 1
    assert "(network)" in result.stderr


def test_requirements_are_installed_once_per_change(box):
    box.python()
    fake_venv(box)
    assert box.run().returncode == 0
    # From now on pip fails: an unchanged requirements.txt must not call it again...
    fake_venv(box, pip_error="pip was called")
    assert box.run().returncode == 0
    # ...and a changed one must.
    (box.app / "requirements.txt").write_text("numpy\npillow\n")
    result = box.run()
    assert result.returncode == 1 and "pip was called" in result.stdout


# ---------------------------------------------------------------------- Windows launchers


def test_windows_launchers_are_ascii():
    # Windows PowerShell 5.1 reads a BOM-less script in the ANSI code page: any non-ASCII byte
    # can break parsing on some machines.
    for path in (START_PS1, START_BAT):
        data = path.read_bytes()
        bad = [i for i, b in enumerate(data) if b > 127]
        assert not bad, f"{path.name}: non-ASCII byte at offset {bad[0]}"


def test_start_bat_is_a_thin_wrapper():
    text = START_BAT.read_bytes().decode("ascii")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", ""), "cmd.exe wants CRLF line ends"
    assert '-ExecutionPolicy Bypass -File "%~dp0Start.ps1" %*' in text
    assert "pause" in text  # a double-clicked window stays open on error


def test_start_ps1_parses_with_powershell():
    pwsh = shutil.which("pwsh") or shutil.which("powershell")
    if pwsh is None:
        pytest.skip("PowerShell is not installed here (not in Debian's archive or on PyPI)")
    command = (
        "$errors = $null; "
        f"[System.Management.Automation.Language.Parser]::ParseFile('{START_PS1}', [ref]$null, [ref]$errors) | Out-Null; "
        "$errors | ForEach-Object { $_.ToString() }; exit $errors.Count"
    )
    result = subprocess.run([pwsh, "-NoProfile", "-NonInteractive", "-Command", command],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# Grammar nodes for syntax that PowerShell 7 added (&&/||, ?:, ??, ??=): Windows PowerShell 5.1
# cannot parse them, and it is the one every Windows 10/11 machine has.
PS7_ONLY = {"pipeline_chain_tail", "ternary_expression", "null_coalesce_expression", "??="}


def test_start_ps1_parses_with_tree_sitter_and_avoids_ps7_syntax():
    ts = pytest.importorskip("tree_sitter", reason="tree-sitter not installed (pip install tree-sitter tree-sitter-pwsh)")
    ts_pwsh = pytest.importorskip("tree_sitter_pwsh", reason="tree-sitter-pwsh not installed")
    parser = ts.Parser(ts.Language(ts_pwsh.language()))
    source = START_PS1.read_bytes()
    tree = parser.parse(source)
    problems, ps7 = [], []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            problems.append(f"line {node.start_point[0] + 1}: {source[node.start_byte:node.end_byte][:60]!r}")
        if node.type in PS7_ONLY:
            ps7.append(f"line {node.start_point[0] + 1}: {node.type}")
        stack.extend(node.children)
    assert not problems, "syntax errors: " + "; ".join(problems)
    assert not ps7, "PowerShell 7-only syntax: " + "; ".join(ps7)
