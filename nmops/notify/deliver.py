"""Emptying the outbox: claim due rows, send them, record what happened.

Exactly once, as far as a sender can make it: a row is sent only by the pass that holds its
claim, and the claim is renewed (checked) right before the send. The one gap no outbox can
close is a sender killed after the server accepted a mail and before the row was marked
``sent``: that row is sent again when its claim expires, with the same Message-ID (or, for a
webhook, the same ``id``), so the duplicate is recognisable.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

import requests

from nmops.config.model import Settings
from nmops.notify import outbox, smtp, webhook
from nmops.notify.events import Message
from nmops.notify.message import clean, mime
from nmops.notify.outbox import OutboxRow
from nmops.notify.queue import webhook_body
from nmops.state.store import Store

log = logging.getLogger(__name__)

# Longer than one send can take (SMTP timeout and its quick retries): a claim only expires
# when its sender is gone.
CLAIM_TTL = 600.0
BATCH = 20  # rows per claim: two senders share a long queue instead of one taking it all
MAX_BATCHES = 100  # per pass; what is left waits for the next pass


@dataclass(frozen=True)
class Delivery:
    """What one pass did: rows sent, tries that failed (retried later or given up), rows
    still waiting, and one line per failure."""

    sent: int
    failed: int
    waiting: int
    errors: tuple[str, ...]
    dead: int = 0  # of ``failed``, the rows given up

    @property
    def ok(self) -> bool:
        return self.failed == 0


@dataclass
class _Tally:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def default_sender() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class _Pass:
    """One pass of one sender: its claim token, the settings, and the tally."""

    def __init__(self, store: Store, settings: Settings, token: str) -> None:
        self.store = store
        self.settings = settings
        self.token = token
        self.tally = _Tally()

    def _limit(self, row: OutboxRow) -> int:
        value = row.body.get("max_attempts")
        return value if isinstance(value, int) else self.settings.notify.max_attempts

    def _too_old(self, row: OutboxRow, now: datetime) -> bool:
        return now - row.created_at >= timedelta(seconds=self.settings.notify.max_age)

    def sent(self, row: OutboxRow) -> None:
        if outbox.mark_sent(self.store, row.id, self.token):
            self.tally.sent += 1
            log.info("outbox: sent %s %d to %s", row.channel, row.id, row.target)
        else:
            # The claim expired and another sender took the row while this one was sending.
            log.warning("outbox: %s %d was sent, but its claim had been lost", row.channel, row.id)

    def failed(
        self, row: OutboxRow, error: str, *, permanent: bool = False, at_least: float = 0.0
    ) -> None:
        error = clean(error)
        now = self.store.now()
        give_up = permanent or row.attempts >= self._limit(row) or self._too_old(row, now)
        retry_at = None
        if not give_up:
            wait = max(outbox.backoff(row.attempts, row.id), timedelta(seconds=at_least))
            retry_at = now + wait
        if not outbox.mark_failed(self.store, row.id, self.token, error, retry_at=retry_at):
            return  # no longer ours: the new holder reports on it
        self.tally.failed += 1
        self.tally.dead += retry_at is None
        self.tally.errors.append(f"{row.channel} {row.target}: {error}")
        if retry_at is None:
            log.warning("outbox: gave %s %d to %s up: %s", row.channel, row.id, row.target, error)
        else:
            log.warning(
                "outbox: %s %d to %s failed (attempt %d, next at %s): %s",
                row.channel, row.id, row.target, row.attempts, retry_at.isoformat(), error,
            )  # fmt: skip

    def still_worth_it(self, row: OutboxRow) -> bool:
        """Rows retaken from a dead sender may have used up their tries already."""
        if row.attempts > self._limit(row):
            tries = row.attempts - 1
            error = f"{row.last_error or 'no answer'} (gave up after {tries} tries)"
            self.failed(row, error, permanent=True)
            return False
        if self._too_old(row, self.store.now()):
            self.failed(row, f"{row.last_error or 'not sent'} (too old)", permanent=True)
            return False
        return True

    def mine(self, row: OutboxRow) -> bool:
        return outbox.renew(self.store, row.id, self.token, CLAIM_TTL)

    def mails(self, rows: Sequence[OutboxRow]) -> None:
        mail = self.settings.mail
        if mail is None:
            for row in rows:
                self.failed(row, "mail is not configured (`mail:` in nmops.yaml)")
            return
        left = list(rows)
        try:
            with smtp.connect(mail.smtp) as client:
                while left:
                    row = left.pop(0)
                    if not self.mine(row):
                        continue
                    try:
                        message = _mime(row)
                    except (KeyError, TypeError, ValueError) as exc:
                        self.failed(row, f"unreadable outbox row: {exc}", permanent=True)
                        continue
                    try:
                        smtp.send(client, message, sender=_envelope(row), recipient=row.target)
                    except smtp.MailError as exc:
                        self.failed(row, str(exc), permanent=exc.permanent)
                    else:
                        self.sent(row)
        except smtp.MailError as exc:
            # No session: every mail of the batch waits for the next try, none is attempted.
            for row in left:
                self.failed(row, str(exc), permanent=exc.permanent)

    def hooks(self, rows: Sequence[OutboxRow]) -> None:
        hooks = {h.ref: h for h in reversed(self.settings.notify.webhooks)}
        with requests.Session() as session:
            for row in rows:
                hook = hooks.get(str(row.body.get("webhook")))
                if hook is None:
                    self.failed(row, "no webhook with this URL is configured now", permanent=True)
                    continue
                if not self.mine(row):
                    continue
                try:
                    secret = webhook.reveal(hook.secret)
                    now = self.store.now()
                    body = webhook_body(dict(row.body["payload"]), now)
                    request = webhook.prepare(hook.url, body, secret=secret, sent_at=now)
                    webhook.post(request, timeout=hook.timeout, session=session)
                except webhook.WebhookError as exc:
                    self.failed(
                        row, str(exc), permanent=exc.permanent, at_least=exc.retry_after or 0.0
                    )
                else:
                    self.sent(row)


def _mime(row: OutboxRow) -> EmailMessage:
    body = row.body
    message = Message(
        subject=row.subject,
        text=body["text"],
        html=body.get("html"),
        headers=dict(body.get("headers") or {}),
    )
    return mime(
        message,
        sender=body["from"],
        recipient=row.target,
        date=datetime.fromisoformat(body["date"]),
        msgid=body["message_id"],
    )


def _envelope(row: OutboxRow) -> str:
    return parseaddr(row.body["from"])[1]


def deliver_pending(
    store: Store, settings: Settings, *, sender_id: str | None = None, flush: bool = False
) -> Delivery:
    """Send what is due in the outbox (``flush``: everything pending, retries included)."""
    token = f"{sender_id or default_sender()}/{uuid.uuid4().hex[:12]}"
    if flush:
        outbox.release_waits(store)
    work = _Pass(store, settings, token)
    for _ in range(MAX_BATCHES):
        rows = outbox.claim(store, token, ttl=CLAIM_TTL, limit=BATCH)
        if not rows:
            break
        live = [r for r in rows if work.still_worth_it(r)]
        mails = [r for r in live if r.channel == "mail"]
        if mails:
            work.mails(mails)
        hooks = [r for r in live if r.channel == "webhook"]
        if hooks:
            work.hooks(hooks)
        for row in live:
            if row.channel not in ("mail", "webhook"):
                work.failed(row, f"unknown channel {row.channel!r}", permanent=True)
    tally = work.tally
    return Delivery(
        sent=tally.sent,
        failed=tally.failed,
        waiting=outbox.count_waiting(store),
        errors=tuple(tally.errors),
        dead=tally.dead,
    )
