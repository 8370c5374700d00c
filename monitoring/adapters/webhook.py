"""Webhooks: a JSON POST signed with HMAC-SHA256 over "<timestamp>.<body>" with the action group's secret.

Headers: ``X-BackupCenter-Timestamp`` (Unix seconds) and ``X-BackupCenter-Signature: sha256=<hex>``. A receiver
recomputes the HMAC over the timestamp, a dot and the raw body, compares in constant time and rejects stale
timestamps. Redirects are not followed (a signed body must not be replayed elsewhere).
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from monitoring.adapters import DeliveryFailed

SIGNATURE_HEADER = "X-BackupCenter-Signature"
TIMESTAMP_HEADER = "X-BackupCenter-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does; used by the tests and documented for integrators."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post_json(*, url: str, payload: dict, secret: str, timeout: float, delivery_id: int | None = None) -> int:
    """POST `payload`; returns the 2xx status code or raises DeliveryFailed with the status or network error."""
    if not url.startswith(("http://", "https://")):
        raise DeliveryFailed("Webhook URLs must start with http:// or https://.")
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "BackupCenter-Webhook/1",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    if delivery_id is not None:
        headers["X-BackupCenter-Delivery"] = str(delivery_id)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        raise DeliveryFailed(f"HTTP {error.code} {error.reason}"[:500], response_code=error.code) from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DeliveryFailed(f"{reason}"[:500]) from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}", response_code=status)
    return status
