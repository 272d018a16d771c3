"""Webhooks: one signed JSON POST per alert, with requests.

The receiver checks ``X-Nmops-Signature: sha256=<hex>``, the HMAC-SHA256 of the exact body
with the shared secret; the body carries ``sent_at`` (also in ``X-Nmops-Timestamp``), so an
old request replayed is recognisable, and ``id``, the same for every try of one alert.
A failed POST is not retried here: the outbox retries it with backoff.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import requests

from nmops import __version__
from nmops.config.secrets import SecretRef
from nmops.errors import NmopsError, SecretError

SIGNATURE_HEADER = "X-Nmops-Signature"
TIMESTAMP_HEADER = "X-Nmops-Timestamp"
# Worth trying again later; any other 4xx (and a redirect, not followed) is given up.
_RETRIED = frozenset({408, 425, 429})


class WebhookError(NmopsError):
    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (and the tests): constant-time comparison."""
    return hmac.compare_digest(signature(secret, body), header)


@dataclass(frozen=True)
class Post:
    url: str
    body: bytes
    headers: dict[str, str]


def prepare(url: str, body: bytes, *, secret: str | None, sent_at: datetime) -> Post:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"nmops/{__version__}",
        TIMESTAMP_HEADER: str(int(sent_at.timestamp())),
    }
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    return Post(url=url, body=body, headers=headers)


def _without_path(text: str, url: str) -> str:
    """requests names the URL (and urllib3 its path) in its errors: the path may be a token."""
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    text = text.replace(url, f"{parts.scheme}://{parts.netloc}/…")
    return text.replace(tail, "/…") if tail not in ("", "/") else text


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def post(request: Post, *, timeout: float, session: requests.Session | None = None) -> None:
    """POST it once; WebhookError unless the receiver answered 2xx."""
    http = session or requests.Session()
    try:
        response = http.post(
            request.url,
            data=request.body,
            headers=request.headers,
            timeout=timeout,
            allow_redirects=False,  # a signed alert goes where it was configured to, or nowhere
        )
    except requests.RequestException as exc:
        raise WebhookError(
            f"{type(exc).__name__}: {_without_path(str(exc), request.url)}"
        ) from None
    finally:
        if session is None:
            http.close()
    if 200 <= response.status_code < 300:
        return
    reason = " ".join((response.reason or "").split())
    permanent = response.status_code < 500 and response.status_code not in _RETRIED
    raise WebhookError(
        f"HTTP {response.status_code} {reason}".strip(),
        permanent=permanent,
        retry_after=_retry_after(response),
    )


def reveal(secret: SecretRef | None) -> str | None:
    """The key (or None); a missing one is a WebhookError (retried: the config can be
    fixed)."""
    if secret is None:
        return None
    try:
        return secret.reveal()
    except SecretError as exc:
        raise WebhookError(str(exc)) from None
