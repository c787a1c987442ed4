"""How a webhook body is signed, and how a receiver checks it (the README shows the same in 5 lines).

The signed message is ``<unix seconds>.<raw body>``: binding the timestamp into the MAC lets a
receiver refuse replays older than its tolerance, and signing the *raw* bytes means nobody has to
re-serialise JSON identically to verify.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-MLSharp-Timestamp"
SIGNATURE_HEADER = "X-MLSharp-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def sign(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The two headers of one delivery attempt (re-signed per attempt, so a late retry is fresh)."""
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str, timestamp: str, presented: str, body: bytes, tolerance_s: float = 300.0,
           now: float | None = None) -> bool:
    """Receiver side: the signature matches and the timestamp is within ``tolerance_s`` of now."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, stamp, body), presented or "")
