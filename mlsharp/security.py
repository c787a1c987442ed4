"""Optional API keys for ``/api/*`` (and ``/metrics``): off until a key is configured.

Keys come from ``security.api_keys`` and the ``MLSHARP_API_KEYS`` environment variable
(comma-separated), so a key need not be written into a file. The routes check them through
``mlsharp.http.deps.get_caller``. A request presents one in an
``X-API-Key`` header or as ``Authorization: Bearer <key>``. Every configured key is compared with
:func:`hmac.compare_digest` and the loop never stops early, so timing does not reveal how much of
a guess was right or which key matched.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Iterable, Mapping

from fastapi import Request

from mlsharp.config import API_KEY_PATTERN, Config, ConfigError

API_KEYS_ENV = "MLSHARP_API_KEYS"
_KEY_RE = re.compile(API_KEY_PATTERN)


class ApiKeys:
    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._keys = [key.encode() for key in keys]

    @classmethod
    def from_config(cls, config: Config, environ: Mapping[str, str] | None = None) -> "ApiKeys":
        environ = os.environ if environ is None else environ
        keys = list(config.security.api_keys)
        for raw in environ.get(API_KEYS_ENV, "").split(","):
            key = raw.strip()
            if not key:
                continue
            if not _KEY_RE.fullmatch(key):
                raise ConfigError(
                    f"{API_KEYS_ENV}: each key must be at least 16 printable characters without spaces"
                )
            keys.append(key)
        return cls(keys)

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def accepts(self, presented: str | None) -> bool:
        if not self._keys:
            return True
        candidate = (presented or "").encode()
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(candidate, key)
        return matched and bool(presented)


def presented_key(request: Request) -> str | None:
    header = request.headers.get("x-api-key")
    if header:
        return header.strip()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None
