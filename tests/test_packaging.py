"""The project as a package: pyproject's entry point is app.main, and no module edits sys.path."""

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
