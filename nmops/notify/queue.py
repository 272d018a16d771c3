"""Turning events and prepared messages into outbox rows (the sending is ``deliver``'s).

What a row holds is everything the sender needs except secrets: the whole mail (subject,
bodies, From, To, Date, Message-ID) or the whole webhook payload. The SMTP password and the
webhook keys are read from the settings when the row is sent, never stored.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nmops.config.model import Settings
from nmops.config.notify import MailSettings
from nmops.notify.events import Event, Message
from nmops.notify.message import alert_message, clean, message_id, subject_line
from nmops.notify.outbox import NewRow, add
from nmops.state.store import Store

WEBHOOK_SCHEMA = "nmops.alert/1"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _event_id(event: Event) -> str:
    """Stable for one event: the same run queued twice gives the same keys."""
    return _digest(
        event.kind, event.router, event.subject, event.status, event.at.isoformat(),
        str(event.incident_id),
    )  # fmt: skip


def mail_row(
    mail: MailSettings, message: Message, *, key: str, recipient: str, now: datetime, once: bool
) -> NewRow:
    body: dict[str, Any] = {
        "from": mail.sender,
        "to": recipient,
        "date": now.isoformat(),
        "message_id": message_id(key, mail.from_address),
        "text": message.text,
        "html": message.html,
        "headers": dict(message.headers),
    }
    if once:
        body["max_attempts"] = 1
    return NewRow(
        key=key, channel="mail", target=recipient, subject=clean(message.subject), body=body
    )


def event_payload(event: Event, *, delivery_id: str, settings: Settings) -> dict[str, Any]:
    """The JSON a webhook receives (``sent_at`` is added when it is sent)."""
    zone = settings.policy.zone
    return {
        "schema": WEBHOOK_SCHEMA,
        "id": delivery_id,
        "text": subject_line([event], zone, "en"),
        "event": {
            "kind": event.kind,
            "router": event.router,
            "subject": event.subject,
            "status": event.status,
            "detail": event.detail,
            "at": event.at.isoformat(),
            "since": event.since.isoformat() if event.since else None,
            "incident_id": event.incident_id,
        },
    }


def alert_rows(
    settings: Settings, events: Sequence[Event], *, run_key: str, now: datetime
) -> list[NewRow]:
    """The rows one run's events become: one mail per recipient that subscribed to any of
    them, one POST per event per webhook that wants it. Silenced events are left out."""
    told = [e for e in events if not e.silenced]
    once = bool(told) and all(e.kind == "test" for e in told)  # a test is not retried later
    rows: list[NewRow] = []
    mail = settings.mail
    if mail is not None:
        host = socket.gethostname()
        for recipient in mail.to:
            mine = [e for e in told if recipient.wants(e.kind)]
            if not mine:
                continue
            language = recipient.language or settings.report.language
            message = alert_message(mine, language=language, zone=settings.policy.zone, host=host)
            key = f"alert:{run_key}:mail:{recipient.address}"
            rows.append(
                mail_row(mail, message, key=key, recipient=recipient.address, now=now, once=once)
            )
    for hook in settings.notify.webhooks:
        for event in told:
            if not hook.wants(event.kind):
                continue
            key = f"alert:{run_key}:webhook:{hook.ref}:{_event_id(event)}"
            payload = event_payload(event, delivery_id=_digest(key), settings=settings)
            body: dict[str, Any] = {"webhook": hook.ref, "payload": payload}
            if once:
                body["max_attempts"] = 1
            rows.append(
                NewRow(
                    key=key,
                    channel="webhook",
                    target=hook.shown,
                    subject=payload["text"],
                    body=body,
                )
            )
    return rows


def queue_alerts(store: Store, settings: Settings, events: Sequence[Event], *, run_key: str) -> int:
    """Queue every event of one run; returns how many rows were written (0 when the same
    run was queued before)."""
    return add(store, alert_rows(settings, events, run_key=run_key, now=store.now()))


def message_keys(settings: Settings, key: str) -> dict[str, str]:
    """The outbox key of each report recipient's copy of the message queued as ``key``
    (recipient -> key): how `nmops report --send` finds out whether its digest went out."""
    mail = settings.mail
    if mail is None:
        return {}
    return {r.address: f"{key}:mail:{r.address}" for r in mail.to if r.wants("report")}


def queue_message(store: Store, settings: Settings, message: Message, *, key: str) -> int:
    """Queue a prepared mail (the digest) for every recipient of the report."""
    mail = settings.mail
    if mail is None:
        return 0
    now = store.now()
    rows = [
        mail_row(mail, message, key=row_key, recipient=address, now=now, once=False)
        for address, row_key in message_keys(settings, key).items()
    ]
    return add(store, rows)


def webhook_body(payload: dict[str, Any], sent_at: datetime) -> bytes:
    """The exact bytes POSTed (and signed): compact, keys sorted, UTF-8."""
    document = {**payload, "sent_at": sent_at.isoformat()}
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
