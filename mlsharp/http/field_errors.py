"""Request-validation errors in plain words, naming each field as a person sees it.

FastAPI's own text ("f_px: Input should be a valid number, unable to parse string as a number")
names the wire field and pydantic's jargon; the page shows ``detail`` as it is, so the person who
typed "abc" into *Focal length* should read "Focal length must be a number, got “abc”". The
service's own range checks (:mod:`mlsharp.service`) use the same labels (:mod:`mlsharp.field_labels`).
"""

from __future__ import annotations

from typing import Any

from mlsharp.field_labels import label
from mlsharp.redact import clip

_MISSING = {"file": "No photo was sent", "files": "No photos were sent"}
_WHERE = ("body", "query", "path", "header", "cookie")
_NUMBER = {"float_parsing": "a number", "float_type": "a number", "finite_number": "a finite number",
           "int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number"}
_BOUND = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
          "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}


def _echo(value: Any) -> str:
    text = " ".join(str(value).split())  # one line, whatever was sent
    return f"“{clip(text, 40)}”"


def plain(error: dict[str, Any]) -> str:
    """One pydantic error as a sentence about the field the person filled in."""
    loc = [str(p) for p in error.get("loc", ()) if p not in _WHERE]
    field = label(loc[-1]) if loc else "The request"
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "missing":
        return _MISSING.get(loc[-1] if loc else "", f"{field} is required")
    if kind in _NUMBER:
        return f"{field} must be {_NUMBER[kind]}, got {_echo(error.get('input', ''))}"
    if kind in _BOUND:
        words, key = _BOUND[kind]
        return f"{field} must be {words} {ctx.get(key)}, got {_echo(error.get('input', ''))}"
    if kind in ("enum", "literal_error"):
        return f"{field} must be {ctx.get('expected', 'one of the listed values')}, got {_echo(error.get('input', ''))}"
    if kind == "string_too_long":
        return f"{field} is too long (at most {ctx.get('max_length')} characters)"
    message = str(error.get("msg", "is not valid"))
    return f"{field}: {message[:1].lower()}{message[1:]}"


def one_line(errors: list[dict[str, Any]]) -> str:
    """Every error of a request, joined into the one-line ``detail``."""
    return "; ".join(plain(e) for e in errors) or "The request is not valid"
