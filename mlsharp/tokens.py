"""JWT bearer tokens (PyJWT) as a second way to authenticate, beside API keys.

Exactly one algorithm is accepted -- the configured one -- so a token cannot pick its own (the
classic "alg: none" or HS256-with-the-public-key confusion). HS256 checks a shared secret; RS256 /
ES256 (and their 384/512 siblings) check a public key, so the service never holds a key that could
mint tokens. ``exp`` and ``sub`` are required (a token that never expires, or names nobody, cannot
own jobs); ``nbf`` and ``iat`` are checked when present; ``aud`` and ``iss`` must equal the
configured values when those are set, and a token carrying an ``aud`` is refused when none is
configured (it was meant for some other service). ``leeway_s`` absorbs clock skew between the
token issuer and this machine.

Nothing here knows about HTTP: :meth:`TokenVerifier.verify` returns the claims or raises
:class:`TokenRejected` with a one-line reason the route layer turns into a 401.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from mlsharp.config import ConfigError

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
PUBLIC_KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")
ALGORITHMS = HMAC_ALGORITHMS + PUBLIC_KEY_ALGORITHMS
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key must be at least as long as the hash
MAX_TOKEN_CHARS = 8192


class TokenError(ValueError):
    """The token settings themselves are unusable (reported at start-up, naming the key)."""


class TokenRejected(Exception):
    """A presented token is not acceptable; ``str()`` is the one-line reason."""


@dataclass(frozen=True)
class TokenSettings:
    algorithm: str
    key: str  # the shared secret (HS*), or a PEM public key / the path of a PEM file (RS*/ES*/PS*)
    audience: str | None = None
    issuer: str | None = None
    leeway_s: float = 30.0


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated base64url parts whose first decodes as a JOSE header with an ``alg``.

    Lets the bearer value of ``Authorization`` be routed to the token check or to the API-key check
    without trying both (an API key never has this shape by accident).
    """
    if token.count(".") != 2 or len(token) > MAX_TOKEN_CHARS:
        return False
    try:
        return "alg" in jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return False


def _public_key(text: str) -> str:
    if "-----BEGIN" in text:
        return text
    path = Path(text).expanduser()
    if not path.is_file():
        raise TokenError(f"the public key is neither PEM text nor a readable file: {text!r}")
    return path.read_text(encoding="ascii")


class TokenVerifier:
    def __init__(self, settings: TokenSettings) -> None:
        if settings.algorithm not in ALGORITHMS:
            raise TokenError(f"unsupported JWT algorithm {settings.algorithm!r}; use one of {', '.join(ALGORITHMS)}")
        if settings.algorithm in HMAC_ALGORITHMS:
            if len(settings.key.encode()) < MIN_SECRET_BYTES:
                raise TokenError(f"the {settings.algorithm} secret must be at least {MIN_SECRET_BYTES} bytes")
            self._key: object = settings.key
        else:
            pem = _public_key(settings.key)
            try:
                self._key = jwt.algorithms.get_default_algorithms()[settings.algorithm].prepare_key(pem)
            except Exception as exc:  # noqa: BLE001 - PyJWT/cryptography raise several kinds
                raise TokenError(f"cannot read the {settings.algorithm} public key ({exc})") from None
        self.settings = settings

    def verify(self, token: str) -> dict:
        """The token's claims; :class:`TokenRejected` when it is forged, expired, early or misdirected."""
        s = self.settings
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRejected("the token is too long")
        required = ["exp", "sub"] + (["aud"] if s.audience else []) + (["iss"] if s.issuer else [])
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[s.algorithm], audience=s.audience, issuer=s.issuer,
                leeway=s.leeway_s, options={"require": required, "verify_aud": True},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("the token is not valid yet (nbf/iat in the future)") from None
        except jwt.InvalidAlgorithmError:
            raise TokenRejected(f"the token is not signed with {s.algorithm}") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("the token's signature does not verify") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("the token is meant for another audience (aud)") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("the token comes from another issuer (iss)") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"the token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"the token is malformed ({exc})") from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip():
            raise TokenRejected("the token's 'sub' claim must be a non-empty string")
        return claims


JWT_SECRET_ENV = "MLSHARP_JWT_SECRET"


def verifier_from_config(security: Any, environ: Mapping[str, str] | None = None) -> TokenVerifier | None:
    """The verifier ``security.jwt_*`` describe, or ``None`` when JWT is not switched on.

    HS* needs ``jwt_secret`` (or ``MLSHARP_JWT_SECRET``); the others ``jwt_public_key``. A key of
    the wrong kind for the algorithm is a start-up error, not a silently disabled check.
    """
    environ = os.environ if environ is None else environ
    secret = environ.get(JWT_SECRET_ENV, "").strip() or security.jwt_secret
    algorithm = security.jwt_algorithm
    hmac_family = algorithm in HMAC_ALGORITHMS
    if not secret and not security.jwt_public_key:
        return None
    key = secret if hmac_family else security.jwt_public_key
    if not key:
        wanted = "security.jwt_secret (or MLSHARP_JWT_SECRET)" if hmac_family else "security.jwt_public_key"
        raise ConfigError(f"security.jwt_algorithm {algorithm} needs {wanted}")
    settings = TokenSettings(algorithm, key, security.jwt_audience, security.jwt_issuer, security.jwt_leeway_s)
    try:
        return TokenVerifier(settings)
    except TokenError as exc:
        raise ConfigError(f"security.jwt: {exc}") from None
