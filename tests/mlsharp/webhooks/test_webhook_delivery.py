"""Webhook signing, SSRF guard and retries (``mlsharp.webhooks``), against a real loopback receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import pytest

from mlsharp.webhooks import UnsafeWebhook, WebhookSettings, check_webhook_url, deliver, sign, verify
from webhook_receiver import Receiver

SECRET = "webhook-secret-for-tests"


def fake_resolver(answers: dict[str, list[str]]):
    return lambda host, port: answers[host]


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"a":1}'
    headers = sign(SECRET, body, now=1700000000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert headers == {"X-MLSharp-Timestamp": "1700000000", "X-MLSharp-Signature": f"sha256={expected}"}
    assert verify(SECRET, "1700000000", headers["X-MLSharp-Signature"], body, now=1700000010)
    assert not verify(SECRET, "1700000000", headers["X-MLSharp-Signature"], body + b" ", now=1700000010)
    assert not verify("other", "1700000000", headers["X-MLSharp-Signature"], body, now=1700000010)
    assert not verify(SECRET, "1700000000", headers["X-MLSharp-Signature"], body, now=1700009999)  # replay


@pytest.mark.parametrize("url,fragment", [
    ("ftp://example.org/x", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("http:///nohost", "no host"),
    ("http://user:pw@example.org/", "user name"),
    ("http://127.0.0.1:9/x", "loopback/private"),
    ("http://[::1]/x", "loopback/private"),
    ("http://169.254.169.254/latest/meta-data", "loopback/private"),
    ("http://10.1.2.3/", "loopback/private"),
    ("http://[::ffff:192.168.0.1]/", "loopback/private"),
    ("http://100.64.0.1/", "loopback/private"),
    ("http://example.org:99999/", "not a valid URL"),
])
def test_unsafe_urls_are_refused(url, fragment):
    with pytest.raises(UnsafeWebhook, match=fragment):
        check_webhook_url(url, allow_private=False, resolver=fake_resolver({"example.org": ["93.184.215.14"]}))


def test_a_name_is_judged_by_every_address_it_resolves_to_and_pinned():
    resolver = fake_resolver({"hooks.example": ["93.184.215.14", "10.0.0.7"], "ok.example": ["93.184.215.14"]})
    with pytest.raises(UnsafeWebhook, match="10.0.0.7"):
        check_webhook_url("https://hooks.example/in", allow_private=False, resolver=resolver)
    target = check_webhook_url("https://ok.example/in?q=1", allow_private=False, resolver=resolver)
    assert (target.host, target.port, target.path, target.address) == ("ok.example", 443, "/in?q=1", "93.184.215.14")
    assert check_webhook_url("http://127.0.0.1:8/", allow_private=True).address == "127.0.0.1"


def test_a_failed_first_delivery_is_retried_and_correctly_signed():
    attempts, waits = [], []

    async def no_wait(seconds):
        waits.append(seconds)

    with Receiver([500]) as receiver:
        settings = WebhookSettings(SECRET, allow_private=True, max_attempts=4, backoff_s=0.5)
        payload = {"job_id": "abc", "state": "done"}
        delivered = asyncio.run(deliver(receiver.url, payload, settings, attempts.append, sleep=no_wait))
        requests = receiver.wait_for(2)
    assert delivered
    assert [a["status_code"] for a in attempts] == [500, 200] and attempts[0]["error"] and attempts[1]["error"] is None
    assert waits == [0.5]
    first, second = requests
    assert first[2] == second[2] and json.loads(second[2]) == payload and second[0] == "/hook?x=1"
    headers = second[1]
    assert headers["X-MLSharp-Delivery"] == first[1]["X-MLSharp-Delivery"] and headers["X-MLSharp-Attempt"] == "2"
    assert verify(SECRET, headers["X-MLSharp-Timestamp"], headers["X-MLSharp-Signature"], second[2])


def test_attempts_are_bounded_and_back_off_exponentially():
    attempts, waits = [], []

    async def no_wait(seconds):
        waits.append(seconds)

    with Receiver([503] * 10) as receiver:
        settings = WebhookSettings(SECRET, allow_private=True, max_attempts=4, backoff_s=1.0, max_backoff_s=3.0)
        assert not asyncio.run(deliver(receiver.url, {}, settings, attempts.append, sleep=no_wait))
        receiver.wait_for(4)
    assert len(attempts) == 4 and waits == [1.0, 2.0, 3.0]


def test_a_refused_url_is_not_retried_and_a_dead_port_is():
    attempts = []

    async def no_wait(_):
        pass

    settings = WebhookSettings(SECRET, allow_private=False, max_attempts=3)
    assert not asyncio.run(deliver("http://127.0.0.1:9/", {}, settings, attempts.append, sleep=no_wait))
    assert len(attempts) == 1 and "allow_private" in attempts[0]["error"]
    with Receiver([]) as receiver:
        port = receiver.server.server_address[1]
    attempts.clear()  # the receiver is closed: connection refused on each attempt
    settings = WebhookSettings(SECRET, allow_private=True, max_attempts=2, timeout_s=2)
    assert not asyncio.run(deliver(f"http://127.0.0.1:{port}/", {}, settings, attempts.append, sleep=no_wait))
    assert len(attempts) == 2 and all("ConnectionRefused" in a["error"] for a in attempts)


def test_settings_need_a_secret_from_the_config_or_the_environment():
    from types import SimpleNamespace

    webhooks = SimpleNamespace(secret=None, allow_private=False, max_attempts=3, backoff_s=1.0, timeout_s=5.0)
    assert WebhookSettings.from_config(webhooks, environ={}) is None
    settings = WebhookSettings.from_config(webhooks, environ={"MLSHARP_WEBHOOK_SECRET": "from-env"})
    assert settings.secret == "from-env" and settings.max_attempts == 3 and settings.timeout_s == 5.0
