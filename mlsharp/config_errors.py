"""pydantic's validation errors, worded as the config's one-line messages naming the dotted key.

Only the first error is reported: one line a user can act on beats a list, and fixing it reveals
the next. Values are shown shortened, never for fields marked ``secret`` (API keys).
"""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

class ConfigError(ValueError):
    """A configuration problem, described in one line that names the key."""


_TYPE_WORDS = {
    "bool_type": "expected true or false",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "finite_number": "expected a finite number",
    "string_type": "expected a string",
    "model_type": "expected a mapping of keys",
    "dict_type": "expected a mapping of keys",
}
_BOUNDS = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}


def describe_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fields_by_key(model: Any) -> dict[str, FieldInfo]:
    """A model's fields under the keys files use (the alias where one is set); {} for a non-model."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return {}
    return {info.alias or name: info for name, info in model.model_fields.items()}


def _walk(root: type[BaseModel], names: list[str]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model holding the last name, and that name's field (None where the path leaves the schema)."""
    model: Any = root
    info = None
    for index, name in enumerate(names):
        if not fields_by_key(model):
            return None, None
        info = fields_by_key(model).get(name)
        if index == len(names) - 1:
            return model, info
        model = info.annotation if info is not None else None
    return model, info


def _is_string_list(info: FieldInfo | None) -> bool:
    if info is None:
        return False
    args = get_args(info.annotation)
    return get_origin(info.annotation) is tuple and bool(args) and args[-1] is Ellipsis


def _message(error: dict, root: type[BaseModel]) -> str:
    names = [str(part) for part in error["loc"] if not isinstance(part, int)]
    key = ".".join(names) or "config"
    parent, info = _walk(root, names)
    extra = (info.json_schema_extra if info is not None else None) or {}
    value = error.get("input")
    shown = f"a value of {len(value)} characters" if extra.get("secret") and isinstance(value, str) \
        else describe_value(value)
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        valid = ", ".join(fields_by_key(parent))
        return f"{key}: unknown key (valid keys here: {valid})"
    if extra.get("pair") and kind not in _BOUNDS:
        return f"{key}: expected two integers [W, H] or one integer, got {shown}"
    if _is_string_list(info) and (kind == "tuple_type" or kind == "string_type"):
        got = type(value).__name__ if extra.get("secret") else shown
        return f"{key}: expected a list of strings, got {got}"
    if kind == "literal_error" and info is not None and get_origin(info.annotation) is Literal:
        return f"{key}: expected one of {', '.join(map(str, get_args(info.annotation)))}, got {shown}"
    if kind == "string_pattern_mismatch":
        return f"{key}: must be {extra.get('pattern_help', 'in the expected format')}, got {shown}"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()), "?")
        return f"{key}: must be {_BOUNDS[kind]} {bound}, got {shown}"
    if kind in _TYPE_WORDS:
        return f"{key}: {_TYPE_WORDS[kind]}, got {shown}"
    return f"{key}: {' '.join(str(error.get('msg', 'invalid value')).split())}"


def one_line(exc: ValidationError, root: type[BaseModel]) -> str:
    """The first error of ``exc`` (validating ``root``) as ``dotted.key: what is wrong, got X``."""
    errors = exc.errors()
    return _message(errors[0], root) if errors else "config: invalid"
