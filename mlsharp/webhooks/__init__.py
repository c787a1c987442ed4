"""Webhooks: a signed JSON POST when a job or batch finishes, retried, never to a private address.

* :mod:`.signing` -- ``X-MLSharp-Signature: sha256=HMAC(secret, timestamp + "." + body)``;
* :mod:`.guard` -- http(s) only, and the address connected to is resolved, checked and pinned;
* :mod:`.delivery` -- bounded attempts with exponential backoff, each attempt reported.
"""

from mlsharp.webhooks.delivery import WebhookSettings, deliver
from mlsharp.webhooks.guard import UnsafeWebhook, check_webhook_url
from mlsharp.webhooks.signing import sign, verify

__all__ = ["UnsafeWebhook", "WebhookSettings", "check_webhook_url", "deliver", "sign", "verify"]
