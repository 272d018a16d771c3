"""Alert mails as values (pure): the subject that says the gist, the text and HTML bodies from
the Jinja2 templates beside this module, and the MIME message a sender puts on the wire.

Everything shown comes from routers, DNS and the config: the text bodies get it with control
characters escaped, the HTML bodies through autoescaping, and a subject or header never holds
a CR or LF (the values are cleaned first, and ``EmailMessage`` refuses them anyway).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import cache
from typing import Any

import css_inline
import jinja2

from nmops.config.notify import Language
from nmops.notify.events import Event, EventKind, Message

# Problems first (what needs someone), then what was done, then what is fine again.
_ORDER: dict[EventKind, int] = {
    "needs-human": 0,
    "open": 1,
    "flapping": 2,
    "remind": 3,
    "action": 4,
    "resolve": 5,
    "test": 6,
}
PROBLEM_KINDS: frozenset[EventKind] = frozenset({"needs-human", "open", "flapping", "remind"})
_LABELS: dict[Language, dict[EventKind, str]] = {
    "en": {
        "open": "problem",
        "resolve": "resolved",
        "remind": "still wrong",
        "flapping": "flapping",
        "action": "action",
        "needs-human": "needs a person",
        "test": "test",
    },
    "ja": {
        "open": "発生",
        "resolve": "解決",
        "remind": "継続中",
        "flapping": "不安定",
        "action": "対処",
        "needs-human": "要対応",
        "test": "テスト",
    },
}
_FAMILIES = {"name:ipv4": "A", "name:ipv6": "AAAA"}
# Headers the sender sets itself; a Message may not override them.
_RESERVED = frozenset({"from", "to", "cc", "bcc", "subject", "date", "message-id"})
SUBJECT_LIMIT = 200


def clean(value: object) -> str:
    """One line of text: control characters (CR and LF included) become visible escapes."""
    text = str(value)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def what(subject: str) -> str:
    """The part of a router a subject key names, as a person says it (`AAAA`, `Tunnel1.0`)."""
    if subject in _FAMILIES:
        return _FAMILIES[subject]
    if subject.startswith("peer:"):
        return subject.removeprefix("peer:")
    if subject.startswith("finding:"):
        # `finding:STATUS` or `finding:STATUS:TUNNEL`: the status is shown anyway.
        _, _, tunnel = subject.removeprefix("finding:").partition(":")
        return tunnel
    return "" if subject == "router" else subject


def local_time(at: datetime, zone: tzinfo, today: datetime | None = None) -> str:
    """``HH:MM`` in ``zone``; with the date when it is not the day of ``today``."""
    here = at.astimezone(zone)
    day = (today or at).astimezone(zone).date()
    return here.strftime("%H:%M" if here.date() == day else "%m-%d %H:%M")


def gist(event: Event, zone: tzinfo, language: Language) -> str:
    """``ix2215-kagawa AAAA missing since 03:12``: one event in a few words."""
    parts = [event.router, what(event.subject), event.status]
    text = " ".join(clean(p) for p in parts if p)
    if event.since is not None and event.kind != "test":
        since = local_time(event.since, zone, event.at)
        text += f" since {since}" if language == "en" else f" ({since} から)"
    return text


def subject_line(events: Sequence[Event], zone: tzinfo, language: Language) -> str:
    """``[nmops] 1 problem: ix2215-kagawa AAAA missing since 03:12`` (the gist first)."""
    ordered = sorted(events, key=lambda e: _ORDER[e.kind])
    if all(e.kind == "test" for e in ordered):
        return "[nmops] test alert" if language == "en" else "[nmops] テスト通知"
    problems = sum(e.kind in PROBLEM_KINDS for e in ordered)
    resolved = sum(e.kind == "resolve" for e in ordered)
    actions = sum(e.kind == "action" for e in ordered)
    counts = []
    if language == "en":
        if problems:
            counts.append(f"{problems} problem{'s' if problems > 1 else ''}")
        if actions:
            counts.append(f"{actions} action{'s' if actions > 1 else ''}")
        if resolved:
            counts.append(f"{resolved} resolved")
    else:
        if problems:
            counts.append(f"問題 {problems} 件")
        if actions:
            counts.append(f"対処 {actions} 件")
        if resolved:
            counts.append(f"解決 {resolved} 件")
    first = gist(ordered[0], zone, language)
    more = len(ordered) - 1
    if more:
        first += f", +{more} more" if language == "en" else f" ほか {more} 件"
    line = f"[nmops] {', '.join(counts)}: {first}"
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 1] + "…"


@dataclass(frozen=True)
class _Row:
    kind: EventKind
    label: str
    router: str
    what: str
    status: str
    detail: str
    at: str
    since: str
    silenced: bool


def _rows(events: Sequence[Event], zone: tzinfo, language: Language) -> list[_Row]:
    ordered = sorted(events, key=lambda e: (_ORDER[e.kind], e.router, e.subject))
    return [
        _Row(
            kind=e.kind,
            label=_LABELS[language][e.kind],
            router=clean(e.router),
            what=clean(what(e.subject)),
            status=clean(e.status),
            detail=clean(e.detail),
            at=local_time(e.at, zone),
            since=local_time(e.since, zone, e.at) if e.since is not None else "",
            silenced=e.silenced,
        )
        for e in ordered
    ]


@cache
def _environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    loader = jinja2.PackageLoader("nmops.notify", "templates")
    text = jinja2.Environment(
        loader=loader,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    html = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    return text, html


def render(name: str, language: Language, context: Mapping[str, Any]) -> tuple[str, str]:
    """``NAME.LANG.txt`` and ``NAME.LANG.html`` rendered; the HTML with its CSS inlined (mail
    clients drop ``<style>``)."""
    text_env, html_env = _environments()
    text = text_env.get_template(f"{name}.{language}.txt").render(context)
    html = html_env.get_template(f"{name}.{language}.html").render(context)
    return text, css_inline.inline(html, load_remote_stylesheets=False)


def alert_message(
    events: Sequence[Event], *, language: Language, zone: tzinfo, host: str = ""
) -> Message:
    """The one mail that tells every event of a run (the caller leaves out silenced ones)."""
    if not events:
        raise ValueError("an alert needs at least one event")
    subject = subject_line(events, zone, language)
    rows = _rows(events, zone, language)
    zone_name = str(getattr(zone, "key", zone))
    context = {"subject": subject, "rows": rows, "zone": zone_name, "host": clean(host)}
    text, html = render("alert", language, context)
    return Message(subject=subject, text=text, html=html)


def message_id(key: str, sender: str) -> str:
    """A Message-ID that stays the same for one outbox key: a retry after a lost answer is
    recognisable as the same mail."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2].rstrip(">")
    return f"<{digest}.nmops@{domain}>"


def mime(
    message: Message, *, sender: str, recipient: str, date: datetime, msgid: str
) -> EmailMessage:
    """The message as it goes on the wire: multipart text + HTML, RFC 2047 headers."""
    mail = EmailMessage(policy=SMTP)
    mail["Subject"] = clean(message.subject)
    mail["From"] = sender
    mail["To"] = recipient
    mail["Date"] = format_datetime(date)
    mail["Message-ID"] = msgid
    # RFC 3834: vacation responders and ticket systems must not answer an alert.
    mail["Auto-Submitted"] = "auto-generated"
    for name, value in message.headers.items():
        if name.lower() in _RESERVED or not name.isascii() or not name.replace("-", "").isalnum():
            raise ValueError(f"header {name!r} cannot be set by a message")
        mail[name] = clean(value)
    # Never 8bit: a server without 8BITMIME must get the mail intact.
    mail.set_content(message.text, cte=_transfer_encoding(message.text))
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html", cte=_transfer_encoding(message.html))
    return mail


def _transfer_encoding(body: str) -> str:
    return "quoted-printable" if body.isascii() else "base64"
