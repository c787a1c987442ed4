"""Usage lines and hints repeat what the user typed: ``python app.py`` or ``mlsharp``."""

from __future__ import annotations

import sys

import pytest

from mlsharp.cli_name import command, program


@pytest.mark.parametrize("argv0, name, typed", [
    ("/home/me/ml-sharp/app.py", "app.py", "python app.py"),
    ("app.py", "app.py", "python app.py"),
    ("/home/me/.venv/bin/mlsharp", "mlsharp", "mlsharp"),
    ("/usr/lib/python3/app/__main__.py", "app.py", "python app.py"),
    ("", "app.py", "python app.py"),
])
def test_the_name_the_user_typed(monkeypatch, argv0, name, typed):
    monkeypatch.setattr(sys, "argv", [argv0])
    assert (program(), command()) == (name, typed)
