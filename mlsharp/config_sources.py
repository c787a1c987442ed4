"""Where config layers come from besides the defaults: a YAML/JSON file and the environment.

Both return plain nested dicts; :func:`mlsharp.config.build_config` validates them, one layer at a
time, so an error names the file or variable that made it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from mlsharp.config_errors import ConfigError, fields_by_key


def read_config_file(path: str | Path) -> dict:
    """Parse a .yaml/.yml/.json file into a dict, with one-line errors."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise ConfigError(f"{path}: config files must end in .yaml, .yml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.__class__.__name__})") from None
    try:
        if suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except ValueError as exc:  # json.JSONDecodeError
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError and friends; keep it to one line
        first = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not valid YAML ({first})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def _env_value(info: Any, raw: str) -> Any:
    """An environment string as the field's type: strings stay as typed, lists may be comma-separated,
    anything else is read as a YAML scalar or flow list (``8000``, ``true``, ``[1024, 1024]``)."""
    text = raw.strip()
    if info is None or info.annotation is str or (info.annotation == str | None and text not in ("null", "~")):
        return raw
    args = get_args(info.annotation)
    if get_origin(info.annotation) is tuple and args[-1] is Ellipsis and not text.startswith("["):
        return [item.strip() for item in text.split(",") if item.strip()]
    import yaml

    try:
        return yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - not YAML: validation says what was expected
        return raw


def environment_layers(root: type[BaseModel], prefix: str, environ: Mapping[str, str]) -> list[tuple[dict, str]]:
    """One layer per ``MLSHARP_SECTION__KEY`` (or ``MLSHARP_<top-level key>``) variable.

    Names with ``__`` are always config keys (a typo is an error naming the variable); names
    without are config only when they name a top-level key, so other ``MLSHARP_*`` variables
    (``MLSHARP_API_KEYS``, ...) keep their own meaning.
    """
    layers = []
    for name in sorted(environ):
        if not name.startswith(prefix):
            continue
        path = name[len(prefix):].lower().split("__")
        top = fields_by_key(root).get(path[0])
        if len(path) == 1 and (top is None or isinstance(top.default, BaseModel)):
            continue
        info = top
        for part in path[1:]:
            section = info.annotation if info is not None else None
            info = fields_by_key(section).get(part)
        value: Any = _env_value(info, environ[name])
        for part in reversed(path):
            value = {part: value}
        layers.append((value, f"environment variable {name}"))
    return layers
