"""The one-file HTML (static/js/onefile.js) bundles every module the viewer needs, checked without a browser.

The bundle cannot fetch anything when opened from file://, so a module that viewer.js imports
(directly or through another of our modules) but MODULES forgets would break only the downloaded
file; test_exports.py opens one in Chromium, this catches the omission in milliseconds and says which.
"""

from __future__ import annotations

import re
from pathlib import Path

JS = Path(__file__).resolve().parents[2] / "static" / "js"
RELATIVE_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;'"]*?\bfrom\s*"\./([\w-]+)\.js"|^\s*import\s*"\./([\w-]+)\.js\"""", re.M)


def bundled() -> dict[str, str]:
    text = (JS / "onefile.js").read_text(encoding="utf-8")
    return dict(re.findall(r'\["(mlsharp/[\w-]+)", "js/([\w-]+)\.js"\]', text))


def test_every_module_the_viewer_imports_is_bundled() -> None:
    names = bundled()
    assert names.get("mlsharp/viewer") == "viewer", names
    needed, queue = set(), ["viewer"]
    while queue:
        module = queue.pop()
        needed.add(module)
        for match in RELATIVE_IMPORT.finditer((JS / f"{module}.js").read_text(encoding="utf-8")):
            imported = match.group(1) or match.group(2)
            if imported not in needed:
                queue.append(imported)
    assert "fly" in needed  # the scan follows imports at all
    missing = sorted(m for m in needed if names.get(f"mlsharp/{m}") != m)
    assert not missing, f"static/js/onefile.js MODULES lacks: {missing}"


def test_our_modules_import_each_other_with_double_quotes() -> None:
    # The loader rewrites only '"./name.js"' (double quotes) to the import-map name.
    for module in bundled().values():
        text = (JS / f"{module}.js").read_text(encoding="utf-8")
        assert not re.search(r"""from\s*'\./""", text), f"{module}.js: use double quotes for relative imports"
