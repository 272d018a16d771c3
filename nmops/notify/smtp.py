"""Sending mail over SMTP: STARTTLS, implicit TLS or plain, with AUTH, timeouts, and a few
quick retries (tenacity) of the connection for transient failures; anything longer is the
outbox's business (a retry with backoff).

The password is read when connecting and is never logged or put in an error: smtplib's debug
output stays off, and error texts are scrubbed of it before they travel on.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from nmops.config.notify import SmtpSettings
from nmops.errors import NmopsError, SecretError

log = logging.getLogger(__name__)

CONNECT_ATTEMPTS = 3
# Seconds between connection attempts (exponential); tests set it to 0.
CONNECT_WAIT = 0.5


class MailError(NmopsError):
    """Sending failed; ``permanent`` when the server refused the mail for good (5xx)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def _transient(exc: BaseException) -> bool:
    """Worth another try now: the network, a dropped connection, a 4xx answer."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, OSError | smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError)


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "****") if secret else text


def describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error
        reply = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        return f"{exc.smtp_code} {' '.join(reply.split())}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt}: {code}" for rcpt, (code, _) in exc.recipients.items())
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.ca_file)


def _open(settings: SmtpSettings, password: str | None) -> smtplib.SMTP:
    host, port, timeout = settings.host, settings.effective_port, settings.timeout
    client: smtplib.SMTP
    if settings.security == "tls":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context(settings))
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    try:
        client.ehlo()
        if settings.security == "starttls":
            if not client.has_extn("starttls"):
                raise MailError(f"SMTP {host}:{port} does not offer STARTTLS", permanent=False)
            client.starttls(context=_tls_context(settings))
            client.ehlo()
        if settings.username is not None and password is not None:
            client.login(settings.username, password)
    except BaseException:
        client.close()
        raise
    return client


@contextmanager
def connect(settings: SmtpSettings) -> Iterator[smtplib.SMTP]:
    """A logged-in SMTP session; MailError (never holding the password) when none could be
    had after a few quick tries."""
    where = f"SMTP {settings.host}:{settings.effective_port}"
    try:
        password = settings.password.reveal() if settings.password is not None else None
    except SecretError as exc:
        raise MailError(f"{where}: {exc}") from None
    try:
        retrying = Retrying(
            stop=stop_after_attempt(CONNECT_ATTEMPTS),
            wait=wait_exponential(multiplier=CONNECT_WAIT, max=8),
            retry=retry_if_exception(_transient),
            reraise=True,
        )
        client = retrying(_open, settings, password)
    except MailError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        permanent = isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
        # An authentication failure is the config's to fix: retried later, not given up.
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            permanent = False
        raise MailError(
            f"{where}: {_scrub(describe(exc), password)}", permanent=permanent
        ) from None
    try:
        yield client
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def send(client: smtplib.SMTP, mail: EmailMessage, *, sender: str, recipient: str) -> None:
    """One mail through an open session; MailError when it was not accepted."""
    try:
        client.send_message(mail, from_addr=sender, to_addrs=[recipient])
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise MailError(describe(exc), permanent=all(c >= 500 for c in codes)) from None
    except smtplib.SMTPResponseException as exc:
        raise MailError(describe(exc), permanent=exc.smtp_code >= 500) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(describe(exc)) from None
