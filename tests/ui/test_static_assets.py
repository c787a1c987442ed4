"""The page's files, checked without a browser: offline-only, complete, consistent.

* no URL in our own files points at another host, and nothing vendored loads code from one;
* every import resolves to a file in static/ (through the import map for bare names);
* the vendored viewer is the pinned, MIT-licensed version;
* every string key the page uses exists in every language (English and Chinese at least), stage
  names included, and languages are listed only in i18n.js.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "static"
VENDOR = STATIC / "vendor"
OWN_FILES = [p for p in STATIC.rglob("*") if p.is_file() and VENDOR not in p.parents]
VENDOR_JS = sorted(VENDOR.rglob("*.js"))
INDEX = STATIC / "index.html"

# Anything that would make the browser contact a host: absolute or protocol-relative URLs.
EXTERNAL_URL = re.compile(r"""(?:https?:)?//(?!localhost\b|127\.0\.0\.1\b)[a-z0-9-]+(?:\.[a-z0-9-]+)+""", re.I)
# How JavaScript loads code or data at run time, when given a remote address.
REMOTE_LOAD = re.compile(
    r"""(?:\bfrom\s*|\bimport\s*\(\s*|\bimportScripts\s*\(\s*|\bfetch\s*\(\s*|\bnew\s+(?:Shared)?Worker\s*\(\s*"""
    r"""|\bsrc\s*=\s*)["'`](?:https?:)?//""",
    re.I,
)
STATIC_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']""", re.M)


def import_map() -> dict[str, str]:
    html = INDEX.read_text(encoding="utf-8")
    block = re.search(r'<script type="importmap">(.*?)</script>', html, re.S)
    assert block, "index.html has no import map"
    return json.loads(block.group(1))["imports"]


def test_our_files_name_no_other_host() -> None:
    assert OWN_FILES, "static/ is empty"
    offenders = []
    for path in OWN_FILES:
        if path.suffix not in (".html", ".js", ".css", ".json", ".svg"):
            continue
        for match in EXTERNAL_URL.finditer(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(REPO)}: {match.group(0)}")
    assert not offenders, "URLs to other hosts in static/:\n" + "\n".join(offenders)


def test_vendored_code_loads_nothing_remote() -> None:
    assert VENDOR_JS, "static/vendor/ holds no JavaScript: run tools/vendor_viewer.sh"
    offenders = []
    for path in VENDOR_JS:
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(REPO)}: {m.group(0)}" for m in REMOTE_LOAD.finditer(text)]
    assert not offenders, "vendored code loads from the network:\n" + "\n".join(offenders)


def _resolve(specifier: str, importer: Path, imports: dict[str, str]) -> Path:
    if specifier.startswith((".", "/")):
        return (importer.parent / specifier).resolve()
    if specifier in imports:
        return (STATIC.parent / imports[specifier]).resolve()
    prefixes = [k for k in imports if k.endswith("/") and specifier.startswith(k)]
    assert prefixes, f"{importer.relative_to(REPO)} imports {specifier!r}, which the import map does not name"
    prefix = max(prefixes, key=len)
    return (STATIC.parent / imports[prefix] / specifier[len(prefix):]).resolve()


def test_every_import_resolves_to_a_local_file() -> None:
    imports = import_map()
    for target in imports.values():
        assert target.startswith("./static/vendor/"), target
        assert (STATIC.parent / target).exists(), f"import map target missing: {target}"
    html = INDEX.read_text(encoding="utf-8")
    pages = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert pages, "index.html loads no script or stylesheet"
    for ref in pages:
        if not ref.startswith("data:"):
            assert (STATIC.parent / ref).is_file(), f"index.html refers to missing {ref}"
    checked = 0
    for path in sorted(STATIC.rglob("*.js")):
        for match in STATIC_IMPORT.finditer(path.read_text(encoding="utf-8")):
            specifier = match.group(1) or match.group(2)
            assert _resolve(specifier, path, imports).is_file(), f"{path.relative_to(REPO)}: {specifier}"
            checked += 1
    assert checked > 10


def test_vendored_viewer_is_the_pinned_mit_version() -> None:
    pins = json.loads((REPO / "tools" / "viewer" / "package.json").read_text())["dependencies"]
    vendored = json.loads((VENDOR / "VERSIONS.json").read_text())
    assert {name: info["version"] for name, info in vendored.items()} == pins
    for folder in ("three", "spark"):
        meta = json.loads((VENDOR / folder / "package.json").read_text())
        assert meta["license"] == "MIT" and (VENDOR / folder / "LICENSE").is_file()
        assert meta["version"] == pins[meta["name"]]
    lock = json.loads((REPO / "tools" / "viewer" / "package-lock.json").read_text())["packages"]
    for name, version in pins.items():
        assert lock[f"node_modules/{name}"]["version"] == version
        assert lock[f"node_modules/{name}"]["integrity"].startswith("sha512-")


def _string_tables() -> dict[str, set[str]]:
    """Each locale's string keys, read from the LOCALES table of i18n.js (code -> {..., strings})."""
    text = (STATIC / "js" / "i18n.js").read_text(encoding="utf-8")
    start = text.index("export const LOCALES = {")
    body = text[start: text.index("\n};\n", start)]
    blocks = re.split(r"^  ([\w-]+): \{$", body, flags=re.M)[1:]
    tables = {blocks[i]: set(re.findall(r'^\s+"([\w.]+)":', blocks[i + 1], re.M)) for i in range(0, len(blocks), 2)}
    assert {"en", "zh"} <= set(tables), sorted(tables)
    return tables


def test_every_string_exists_in_both_languages() -> None:
    tables = _string_tables()
    for code, keys in tables.items():
        assert keys == tables["en"], {
            f"missing in {code}": sorted(tables["en"] - keys), "missing in en": sorted(keys - tables["en"])}
    used = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([\w.]+)"', INDEX.read_text(encoding="utf-8")))
    for path in (STATIC / "js").glob("*.js"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", text))
        used |= set(re.findall(r"""(?:showError|i18n\s*=)\s*\(?\s*["']([\w.]+\.[\w.]+)["']""", text))
        used |= {m for m in re.findall(r"""["']((?:error|viewer|history|generate|stage)\.[\w.]+)["']""", text)}
    exports = (STATIC / "js" / "exports.js").read_text(encoding="utf-8")  # s(key) is t("export." + key)
    used |= {f"export.{key}" for key in re.findall(r"""\bs\(\s*["']([\w.]+)["']""", exports)}
    missing = sorted(key for key in used if key not in tables["en"])
    assert not missing, f"keys used but not defined: {missing}"
    assert len(used) > 60


def test_languages_are_listed_only_in_i18n() -> None:
    """Adding a language is one LOCALES block: no other page file names a language or locale."""
    codes = set(_string_tables())
    text = (STATIC / "js" / "i18n.js").read_text(encoding="utf-8")
    tags = set(re.findall(r'htmlLang: "([\w-]+)"', text)) | set(re.findall(r'intl: "([\w-]+)"', text))
    names = sorted(codes | tags)
    quoted = re.compile(r"""["'`](?:%s)["'`]""" % "|".join(map(re.escape, names)))
    offenders = []
    for path in OWN_FILES:
        if path.suffix not in (".js", ".html") or path.name == "i18n.js":
            continue
        text = path.read_text(encoding="utf-8")
        if path == INDEX:  # the document's language before the script runs: i18n.js's fallback
            text = text.replace('<html lang="en">', "<html>", 1)
        for match in quoted.finditer(text):
            offenders.append(f"{path.relative_to(REPO)}: {match.group(0)}")
        if path.suffix == ".js":
            offenders += [f"{path.relative_to(REPO)}: toLocaleString without a locale"
                          for _ in re.finditer(r"toLocaleString\(\s*\)", text)]
    assert not offenders, "languages named outside i18n.js:\n" + "\n".join(offenders)
    assert "<option" not in re.search(r'<select id="lang-select"[^>]*>(.*?)</select>',
                                      INDEX.read_text(encoding="utf-8"), re.S).group(1)


def test_every_job_stage_and_backend_has_a_label() -> None:
    schemas = pytest.importorskip("mlsharp.schemas")
    stages = typing.get_args(schemas.JobStatus.model_fields["stage"].annotation)
    backends = typing.get_args(schemas.PredictResponse.model_fields["backend"].annotation)
    keys = _string_tables()["en"]
    # "uploading" and "downloading" are the page's own stages around the service's.
    for stage in (*stages, "uploading", "downloading"):
        assert f"stage.{stage}" in keys
    for backend in backends:
        assert f"backend.{backend}" in keys
