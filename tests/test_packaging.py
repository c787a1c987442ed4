"""The project as a package: pyproject's entry point is app.main, no module edits sys.path, and the
installed ``mlsharp`` command works, and calls itself so, from any folder."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import app

REPO = Path(__file__).resolve().parents[1]


def test_console_script_is_app_main_and_every_module_is_packaged():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["mlsharp"] == "app:main"
    modules = set(project["tool"]["setuptools"]["py-modules"])
    top_level = {p.stem for p in REPO.glob("*.py")}
    assert top_level <= modules, f"top-level modules missing from pyproject: {top_level - modules}"


def test_no_module_edits_sys_path():
    needle = "sys.path." + "insert"
    offenders = [str(p.relative_to(REPO)) for p in REPO.rglob("*.py")
                 if ".venv" not in p.parts and needle in p.read_text(encoding="utf-8", errors="replace")]
    assert offenders == []


def test_serve_is_the_default_subcommand():
    plain = subprocess.run([sys.executable, "app.py", "--help"], cwd=REPO, capture_output=True, text=True)
    serve = subprocess.run([sys.executable, "app.py", "serve", "--help"], cwd=REPO, capture_output=True, text=True)
    assert plain.returncode == serve.returncode == 0
    assert plain.stdout == serve.stdout
    for name in app.SUBCOMMANDS:
        assert name in plain.stdout, name


def _console_script() -> Path:
    script = Path(sys.executable).with_name("mlsharp")
    if not script.is_file():
        import pytest

        pytest.skip("the project is not pip-installed in this environment (./run_tests.sh installs it)")
    return script


def test_the_console_script_calls_itself_mlsharp_from_any_folder(tmp_path):
    script = _console_script()
    for args in (["--help"], ["predict", "--help"], ["export-onnx", "--help"], ["worker", "--help"]):
        shown = subprocess.run([str(script), *args], cwd=tmp_path, capture_output=True, text=True)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith(f"usage: mlsharp {' '.join(args[:-1])}".rstrip() + " "), shown.stdout[:80]
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "photo.png")
    missing = subprocess.run([str(script), "predict", "photo.png", "-o", "out",
                              "--checkpoint", "none.pt"], cwd=tmp_path, capture_output=True, text=True)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "error: no checkpoint at none.pt: run `mlsharp --download-model` or pass --checkpoint PATH"
    assert not (tmp_path / "out").exists()


def test_the_console_script_predicts_outside_the_repository(tmp_path, tiny_a_dir):
    done = subprocess.run([str(_console_script()), "predict", str(tiny_a_dir / "input.png"), "-o", "scenes",
                           "--checkpoint", str(tiny_a_dir / "state_dict.pt"),
                           "--model-config", str(tiny_a_dir / "config.json"), "--input-size", "512",
                           "--device", "cpu", "--format", "ply", "--format", "splat"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    from plyfile import PlyData

    count = PlyData.read(str(tmp_path / "scenes" / "input.ply"))["vertex"].count
    assert count > 0 and (tmp_path / "scenes" / "input.splat").stat().st_size == 32 * count
