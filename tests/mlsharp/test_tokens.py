"""JWT verification (``mlsharp.tokens``): what is accepted, and every way a token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mlsharp.tokens import TokenError, TokenRejected, TokenSettings, TokenVerifier, looks_like_jwt

SECRET = "s" * 40


def hs(claims: dict, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def claims(**extra) -> dict:
    return {"sub": "alice", "exp": int(time.time()) + 600, **extra}


def pem_pair(private):
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def test_hs256_token_is_accepted_with_its_claims():
    verifier = TokenVerifier(TokenSettings("HS256", SECRET, audience="mlsharp", issuer="https://id.example"))
    token = hs(claims(aud="mlsharp", iss="https://id.example", nbf=int(time.time())))
    assert looks_like_jwt(token)
    assert verifier.verify(token)["sub"] == "alice"


@pytest.mark.parametrize("algorithm,make", [
    ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
])
def test_public_key_algorithms_verify_with_the_public_key_only(tmp_path, algorithm, make):
    private, public = pem_pair(make())
    key_file = tmp_path / "public.pem"
    key_file.write_text(public)
    for key in (public, str(key_file)):  # PEM text or a file path
        verifier = TokenVerifier(TokenSettings(algorithm, key))
        assert verifier.verify(jwt.encode(claims(), private, algorithm=algorithm))["sub"] == "alice"
    other, _ = pem_pair(make())
    with pytest.raises(TokenRejected, match="signature does not verify"):
        verifier.verify(jwt.encode(claims(), other, algorithm=algorithm))


def test_rs256_refuses_an_hs256_token_signed_with_the_public_key():
    _, public = pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    verifier = TokenVerifier(TokenSettings("RS256", public))
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signed = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(b'{"sub":"mallory","exp":%d}' % (time.time() + 600))
    forged = signed + "." + part(hmac.new(public.encode(), signed.encode(), hashlib.sha256).digest())
    with pytest.raises(TokenRejected, match="not signed with RS256"):
        verifier.verify(forged)


@pytest.mark.parametrize("make,reason", [
    (lambda: hs(claims(exp=int(time.time()) - 120)), "expired"),
    (lambda: hs(claims(nbf=int(time.time()) + 600)), "not valid yet"),
    (lambda: hs(claims(), secret="t" * 40), "signature does not verify"),
    (lambda: hs({"sub": "alice"}), "lacks the 'exp' claim"),
    (lambda: hs({"exp": int(time.time()) + 600}), "lacks the 'sub' claim"),
    (lambda: hs(claims(sub="")), "non-empty string"),
    (lambda: hs(claims(aud="someone-else")), "another audience"),
    (lambda: hs(claims(), secret="s" * 64, algorithm="HS512"), "not signed with HS256"),
    (lambda: "a.b.c", "malformed"),
], ids=["expired", "nbf", "forged", "no-exp", "no-sub", "empty-sub", "audience", "algorithm", "malformed"])
def test_bad_tokens_are_refused_with_a_reason(make, reason):
    # Tokens are made when the test runs, not at collection: a long suite (30 min under load)
    # would otherwise let the 'not valid yet' token become valid and the others expire.
    with pytest.raises(TokenRejected, match=reason):
        TokenVerifier(TokenSettings("HS256", SECRET)).verify(make())


def test_audience_and_issuer_are_checked_when_configured():
    verifier = TokenVerifier(TokenSettings("HS256", SECRET, audience="mlsharp", issuer="me"))
    with pytest.raises(TokenRejected, match="'aud'"):
        verifier.verify(hs(claims(iss="me")))
    with pytest.raises(TokenRejected, match="another issuer"):
        verifier.verify(hs(claims(aud="mlsharp", iss="you")))


def test_leeway_absorbs_clock_skew():
    token = hs(claims(exp=int(time.time()) - 5))
    assert TokenVerifier(TokenSettings("HS256", SECRET, leeway_s=60)).verify(token)["sub"] == "alice"
    with pytest.raises(TokenRejected, match="expired"):
        TokenVerifier(TokenSettings("HS256", SECRET, leeway_s=0)).verify(token)


def test_unusable_settings_are_refused_up_front():
    with pytest.raises(TokenError, match="at least 32 bytes"):
        TokenVerifier(TokenSettings("HS256", "short"))
    with pytest.raises(TokenError, match="unsupported"):
        TokenVerifier(TokenSettings("none", SECRET))
    with pytest.raises(TokenError, match="neither PEM"):
        TokenVerifier(TokenSettings("RS256", "/no/such/key.pem"))


def test_api_keys_do_not_look_like_tokens():
    assert not looks_like_jwt("0123456789abcdef0123") and not looks_like_jwt("x.y")


def test_settings_come_from_the_config_and_the_environment():
    from types import SimpleNamespace

    from mlsharp.config import ConfigError
    from mlsharp.tokens import verifier_from_config

    security = SimpleNamespace(jwt_algorithm="HS256", jwt_secret=None, jwt_public_key=None, jwt_audience=None,
                               jwt_issuer=None, jwt_leeway_s=30.0)
    assert verifier_from_config(security, environ={}) is None  # JWT off
    verifier = verifier_from_config(security, environ={"MLSHARP_JWT_SECRET": SECRET})
    assert verifier.verify(hs(claims()))["sub"] == "alice"
    with pytest.raises(ConfigError, match="needs security.jwt_public_key"):
        verifier_from_config(SimpleNamespace(**{**vars(security), "jwt_algorithm": "RS256"}),
                             environ={"MLSHARP_JWT_SECRET": SECRET})
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        verifier_from_config(SimpleNamespace(**{**vars(security), "jwt_secret": "short"}), environ={})
