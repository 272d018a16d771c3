"""Who is told, and how: `mail:` (SMTP and recipients), `notify:` (webhooks, retries) and
`report:` (the language) in nmops.yaml.

Every address and URL is checked here, so nothing later has to: no CR or LF (or any other
control character) can reach a mail header or an HTTP request line from the config.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nmops.config.secrets import SecretRef
from nmops.names import check_domain, check_host
from nmops.notify.events import EVENT_KINDS, EventKind

Language = Literal["ja", "en"]
# What a recipient may subscribe to: the alert kinds, and `report` (the daily digest).
Subscription = Literal[EventKind, "report"]
SUBSCRIPTIONS: tuple[Subscription, ...] = (*EVENT_KINDS, "report")

# RFC 5322 dot-atom text, ASCII only: anything else is refused rather than encoded.
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DISPLAY = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<address>[^<>]*)>")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _secret(value: Any, info: ValidationInfo) -> SecretRef:
    # model.py's parser, imported when a value is checked: model.py imports this module, so
    # importing it at the top would be a cycle.
    from nmops.config.model import _secret as parse

    return parse(value, info)


Secret = Annotated[SecretRef, BeforeValidator(_secret)]


def check_address(value: str) -> str:
    """A bare mail address, ``local@domain``; the domain in lower case."""
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise ValueError(f"{value!r} is not a mail address (whitespace or control characters)")
    local, at, domain = value.rpartition("@")
    if not at or len(local) > 64 or not _LOCAL.fullmatch(local):
        raise ValueError(f"{value!r} is not a mail address (local@domain)")
    try:
        return f"{local}@{check_domain(domain)}"
    except ValueError:
        raise ValueError(f"{value!r} is not a mail address ({domain!r} is no domain)") from None


def check_sender(value: str) -> str:
    """``address`` or ``Display Name <address>`` (the name printable, no quotes or brackets)."""
    match = _DISPLAY.fullmatch(value.strip())
    if match is None:
        return check_address(value)
    name = match["name"].strip()
    if any(not c.isprintable() for c in name) or any(c in name for c in '"\\'):
        raise ValueError(f"{value!r}: the display name has control characters or quotes")
    address = check_address(match["address"])
    return f"{name} <{address}>" if name else address


def check_url(value: str) -> str:
    """An http(s) URL with a host and no credentials (a secret belongs in `secret`)."""
    if any(not c.isprintable() or c.isspace() for c in value):
        raise ValueError("the URL has whitespace or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the URL holds credentials; put them in `secret` instead")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ValueError(f"{value!r} has a bad port") from None
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            check_domain(host)
        except ValueError:
            raise ValueError(f"{value!r} has no valid host") from None
    return value


Address = Annotated[str, AfterValidator(check_address)]
Sender = Annotated[str, AfterValidator(check_sender)]
Url = Annotated[str, AfterValidator(check_url)]
Host = Annotated[str, AfterValidator(check_host)]

_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class SmtpSettings(_Strict):
    host: Host
    port: int | None = Field(None, ge=1, le=65535)  # default: 587, 465 or 25 by security
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: Secret | None = None
    timeout: float = Field(30.0, gt=0, le=300)
    # A CA bundle (PEM) to verify the server with instead of the system's (a private CA).
    ca_file: str | None = None

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(not c.isprintable() for c in value)):
            raise ValueError("the username is empty or has control characters")
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        base = (info.context or {}).get("base_dir", Path("."))
        return str((base / value).resolve())  # relative to nmops.yaml, like every path

    @model_validator(mode="after")
    def _auth_pair(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both `username` and `password`, or neither")
        if self.password is not None and self.security == "none":
            raise ValueError("AUTH without TLS sends the password in clear: use starttls or tls")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or _DEFAULT_PORTS[self.security]


class Recipient(_Strict):
    address: Address
    # None: everything (every alert kind and the report).
    events: tuple[Subscription, ...] | None = None
    language: Language | None = None  # None: `report.language`

    def wants(self, kind: Subscription) -> bool:
        # A test goes to everyone: it checks the channel, not a subscription.
        return kind == "test" or self.events is None or kind in self.events


def _recipient(value: Any) -> Any:
    return {"address": value} if isinstance(value, str) else value


class MailSettings(_Strict):
    smtp: SmtpSettings
    sender: Sender = Field(alias="from")
    to: list[Annotated[Recipient, BeforeValidator(_recipient)]] = Field(min_length=1)

    @property
    def from_address(self) -> str:
        """The bare address of ``from`` (the envelope sender)."""
        match = _DISPLAY.fullmatch(self.sender)
        return match["address"] if match else self.sender


class Webhook(_Strict):
    url: Url
    secret: Secret | None = None  # HMAC-SHA256 key: X-Nmops-Signature when given
    events: tuple[EventKind, ...] | None = None  # None: every alert kind
    timeout: float = Field(10.0, gt=0, le=120)

    def wants(self, kind: EventKind) -> bool:
        return kind == "test" or self.events is None or kind in self.events

    @property
    def ref(self) -> str:
        """Names this webhook in the outbox: a digest, since the URL itself may hold a
        token (Slack, Teams and Discord put theirs in the path)."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]

    @property
    def shown(self) -> str:
        """The URL as messages, logs and the outbox show it: scheme and host only."""
        parts = urlsplit(self.url)
        rest = "/…" if parts.path not in ("", "/") or parts.query else ""
        return f"{parts.scheme}://{parts.netloc}{rest} [{self.ref[:6]}]"


class NotifySettings(_Strict):
    webhooks: list[Webhook] = Field(default_factory=list)
    # The outbox gives a message up (`dead`) after this many tries or this many seconds.
    max_attempts: int = Field(30, ge=1, le=1000)
    max_age: float = Field(2 * 86400.0, gt=0, le=30 * 86400)


class ReportSettings(_Strict):
    language: Language = "ja"
