"""Text that a client controls, made safe to log or echo: bounded in length, secrets removed.

Why: at DEBUG the access log wrote whole request targets -- a ``?token=...`` in clear, and
60,000-character paths -- and error messages echoed ids as sent. :func:`clip` bounds any such
text; :func:`redact_target` also replaces the values of query parameters that carry credentials.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

MAX_ECHO = 80
MAX_TARGET = 300
SECRET_PARAMS = re.compile(r"(token|key|secret|password|passwd|auth|sig|signature|jwt|session|credential)",
                           re.IGNORECASE)


def clip(text: str, limit: int = MAX_ECHO) -> str:
    """``text`` unchanged if short, else its start and how much was left out."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(name, "REDACTED" if SECRET_PARAMS.search(name) else value) for name, value in pairs],
                     safe="/:")


def redact_target(target: str, limit: int = MAX_TARGET) -> str:
    """A request target (path + query) fit for a log line: secret parameters replaced, clipped."""
    path, sep, query = str(target).partition("?")
    return clip(path + (sep + redact_query(query) if sep else ""), limit)
