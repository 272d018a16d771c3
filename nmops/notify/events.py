"""What the incident engine tells the notifiers, and what a notifier sends: plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

# open/resolve/remind come from incidents; flapping is one notice for a name that flips;
# action and needs-human come from `nmops fix`; test from `nmops notify --test`.
EventKind = Literal["open", "resolve", "remind", "flapping", "action", "needs-human", "test"]
EVENT_KINDS: tuple[EventKind, ...] = (
    "open",
    "resolve",
    "remind",
    "flapping",
    "action",
    "needs-human",
    "test",
)


@dataclass(frozen=True)
class Event:
    """One thing worth telling: an incident opened or resolved, a reminder, an action."""

    kind: EventKind
    router: str
    subject: str  # the state's subject key: `name:ipv6`, `peer:Tunnel1.0`, `router`, ...
    status: str  # the finding's status (`missing`, `stale`, ...) or the action's outcome
    detail: str  # one line, router/DNS text: shown as plain text, never markup
    at: datetime  # aware UTC: when it happened
    since: datetime | None = None  # when the problem began (open, remind, resolve)
    incident_id: int | None = None
    silenced: bool = False  # recorded and shown, not mailed


@dataclass(frozen=True)
class Message:
    """A mail before it is sent: built separately from sending, so tests read it as it is."""

    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
