"""A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1, optionally with STARTTLS
(a throwaway self-signed certificate) or implicit TLS, and AUTH."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes


@dataclass
class Inbox:
    """What the server accepted, in order (the handler runs in the server's thread)."""

    mails: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    delay: float = 0.0  # seconds per mail: a slow server, so two senders overlap
    refuse: frozenset[str] = frozenset()  # recipients answered 550

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert envelope.content is not None
        if self.delay:
            await asyncio.sleep(self.delay)
        content = envelope.content
        raw = content if isinstance(content, bytes) else content.encode()
        with self.lock:
            self.mails.append(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), raw))
        return "250 OK"


class Authenticator:
    def __init__(self, inbox: Inbox, username: str, password: str) -> None:
        self.inbox = inbox
        self.username = username.encode()
        self.password = password.encode()

    def __call__(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.inbox.logins.append((data.login, data.password))
        ok = (data.login, data.password) == (self.username, self.password)
        return AuthResult(success=ok, handled=False)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and localhost) and its key, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nmops test smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


class SmtpServer:
    """aiosmtpd in a thread on 127.0.0.1:``port``; ``start`` and ``stop`` may repeat (the
    same port: mail server down, then up again)."""

    def __init__(
        self,
        port: int,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.port = port
        self.inbox = Inbox()
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.login = login
        self.controller: Controller | None = None

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.starttls is not None:
            kwargs.update(tls_context=self.starttls, require_starttls=True)
        if self.login is not None:
            kwargs.update(
                authenticator=Authenticator(self.inbox, *self.login),
                auth_required=True,
                # aiosmtpd counts only STARTTLS as TLS; an implicit TLS session is one too.
                auth_require_tls=self.starttls is not None,
            )
        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=self.implicit_tls,
            server_hostname="127.0.0.1",
            **kwargs,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
