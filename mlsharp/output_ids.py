"""What names an output: its id (random, 32 hex digits) and the suffixes of its formats.

Kept apart from the cache because everything that takes an id from a URL (the service, the
engines, the Redis index) must check it the same way before it touches a path, whether or not a
:class:`mlsharp.cache.ResultCache` is involved.
"""

from __future__ import annotations

import re
import uuid

OUTPUT_ID_RE = re.compile(r"[0-9a-f]{32}")
SIDECAR = ".json"  # beside each cached output: its key and meta (never a format)
_SUFFIXES: list[str] = [".ply", ".spz"]
_DENSITY_TAG = re.compile(r"\.n[1-9][0-9]{0,9}(?=\.)")  # ".n200000.spz": a reduced scene (mlsharp.exports)


def register_suffix(suffix: str) -> None:
    """Make ``suffix`` an output format: servable by :meth:`ResultCache.path_for`, deleted with its
    entry. The export registry calls this for each format it can write."""
    if not re.fullmatch(r"\.[a-z0-9]{1,16}(\.[a-z0-9]{1,8})?", suffix) or suffix == SIDECAR:
        raise ValueError(f"not a usable output suffix: {suffix!r}")
    if suffix not in _SUFFIXES:
        _SUFFIXES.append(suffix)


def output_suffixes() -> tuple[str, ...]:
    return tuple(_SUFFIXES)


def is_output_suffix(suffix: str) -> bool:
    """A registered suffix, or one behind a density tag (any N, without registering each)."""
    return suffix in _SUFFIXES or _DENSITY_TAG.sub("", suffix, count=1) in _SUFFIXES


def new_output_id() -> str:
    """Random, unguessable and safe in a file name (never derived from user input)."""
    return uuid.uuid4().hex


def is_output_id(value: str) -> bool:
    return OUTPUT_ID_RE.fullmatch(value) is not None


def split_name(name: str) -> tuple[str, str] | None:
    """``(output_id, suffix)`` for a file named ``<32 hex><suffix>``, else None."""
    stem, dot, rest = name.partition(".")
    return (stem, dot + rest) if dot and is_output_id(stem) else None
