"""What the user called us: ``app.py`` (``python app.py ...``) or the ``mlsharp`` console script.

Usage lines and hints (``run `mlsharp --download-model```) repeat the user's own words, so a hint
copied from an error works as typed. Torch-free and import-light: ``app.py`` reads it first thing.
"""

from __future__ import annotations

import sys
from pathlib import Path


def program() -> str:
    """The name in ``usage:`` lines."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name and name != "__main__.py" else "app.py"


def command() -> str:
    """What to type to run us again."""
    name = program()
    return f"python {name}" if name.endswith(".py") else name
