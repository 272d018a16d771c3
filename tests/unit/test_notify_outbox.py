"""The outbox: queueing is idempotent, recipients get what they subscribed to, claims are
exclusive and expire, failures back off and finally give up."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from nmops.config.model import Settings
from nmops.notify import outbox
from nmops.notify.events import Event, Message
from nmops.notify.queue import message_keys, queue_alerts, queue_message
from nmops.state import Store
from nmops.state.schema import outbox as table
from tests.unit.test_state_store import FakeClock

AT = datetime(2026, 12, 2, 18, 40, tzinfo=UTC)
# The outbox shows a webhook by host and a digest of its URL (its path may be a token).
HOOK_SHOWN = (
    "https://hooks.example.net/… ["
    + hashlib.sha256(b"https://hooks.example.net/a").hexdigest()[:6]
    + "]"
)


def settings(**over: Any) -> Settings:
    data: dict[str, Any] = {
        "mail": {
            "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"},
            "from": "nmops <nmops@example.net>",
            "to": [
                "all@example.net",
                {"address": "opens@example.net", "events": ["open"], "language": "en"},
                {"address": "digest@example.net", "events": ["report"]},
            ],
        },
        "notify": {"webhooks": [{"url": "https://hooks.example.net/a", "events": ["open"]}]},
    }
    data.update(over)
    return Settings.model_validate(data, context={"base_dir": Path(".")})


def event(kind: str = "open", **over: Any) -> Event:
    values: dict[str, Any] = {
        "kind": kind,
        "router": "ix2215-kagawa",
        "subject": "name:ipv6",
        "status": "missing",
        "detail": "no AAAA",
        "at": AT,
        "since": AT - timedelta(minutes=20),
    }
    values.update(over)
    return Event(**values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(AT)


# tests/integration/test_mail_postgres.py replaces it: the same tests on PostgreSQL.
@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def store(state_url: str, clock: FakeClock) -> Iterator[Store]:
    with Store.open(state_url, clock=clock) as opened:
        yield opened


def rows(store: Store) -> list[outbox.OutboxRow]:
    with store.read() as conn:
        ids = conn.execute(sa.select(table.c.key)).scalars().all()
    return outbox.by_keys(store, list(ids))


def test_one_mail_per_recipient_with_only_its_events(store: Store) -> None:
    events = [event(), event("resolve", router="ix2215-tokyo", status="ok")]
    assert queue_alerts(store, settings(), events, run_key="run-1") == 3
    written = {(r.channel, r.target): r for r in rows(store)}
    assert set(written) == {
        ("mail", "all@example.net"),
        ("mail", "opens@example.net"),
        ("webhook", HOOK_SHOWN),
    }
    everything = written[("mail", "all@example.net")]
    assert "ix2215-tokyo" in everything.body["text"] and "ix2215-kagawa" in everything.body["text"]
    assert "解決" in everything.body["text"]  # report.language: ja by default
    opens = written[("mail", "opens@example.net")]
    assert "ix2215-tokyo" not in opens.body["text"]  # it subscribed to `open` only
    assert opens.subject.startswith("[nmops] 1 problem: ix2215-kagawa AAAA missing since")
    hook = written[("webhook", HOOK_SHOWN)]
    assert hook.body["payload"]["event"]["router"] == "ix2215-kagawa"
    assert all(r.state == "pending" and r.attempts == 0 for r in written.values())


def test_queueing_the_same_run_twice_writes_nothing_new(store: Store) -> None:
    events = [event()]
    assert queue_alerts(store, settings(), events, run_key="run-1") == 3
    assert queue_alerts(store, settings(), events, run_key="run-1") == 0
    assert len(rows(store)) == 3
    assert queue_alerts(store, settings(), events, run_key="run-2") == 3


def test_silenced_events_are_never_sent(store: Store) -> None:
    assert queue_alerts(store, settings(), [event(silenced=True)], run_key="r") == 0
    both = [event(silenced=True), event(router="ix2215-tokyo")]
    assert queue_alerts(store, settings(), both, run_key="r2") == 3
    assert all("ix2215-kagawa" not in r.subject for r in rows(store))


def test_nothing_configured_queues_nothing(store: Store) -> None:
    bare = Settings.model_validate({})
    assert queue_alerts(store, bare, [event()], run_key="r") == 0
    assert queue_message(store, bare, Message(subject="s", text="t"), key="d") == 0


def test_a_digest_goes_to_the_report_recipients(store: Store) -> None:
    digest = Message(subject="[nmops] daily report", text="all well", html="<p>all well</p>")
    assert queue_message(store, settings(), digest, key="digest:2026-12-03") == 2
    assert queue_message(store, settings(), digest, key="digest:2026-12-03") == 0
    assert {r.target for r in rows(store)} == {"all@example.net", "digest@example.net"}
    keys = message_keys(settings(), "digest:2026-12-03")
    assert {r.key for r in outbox.by_keys(store, list(keys.values()))} == set(keys.values())
    [one, _] = rows(store)
    assert one.body["html"] == "<p>all well</p>" and one.body["message_id"].startswith("<")


def test_a_claim_is_exclusive_and_expires(store: Store, clock: FakeClock) -> None:
    queue_alerts(store, settings(), [event()], run_key="r")
    mine = outbox.claim(store, "a/1", ttl=60, limit=10)
    assert len(mine) == 3 and all(r.attempts == 1 for r in mine)
    assert outbox.claim(store, "b/1", ttl=60, limit=10) == []
    clock.advance(61)  # sender a died: its claim runs out and b takes the rows
    taken = outbox.claim(store, "b/2", ttl=60, limit=10)
    assert [r.id for r in taken] == [r.id for r in mine] and all(r.attempts == 2 for r in taken)
    # a, back from the dead, can no longer touch them.
    assert not outbox.renew(store, mine[0].id, "a/1", 60)
    assert not outbox.mark_sent(store, mine[0].id, "a/1")
    assert outbox.mark_sent(store, mine[0].id, "b/2")


def test_claims_take_at_most_the_limit(store: Store) -> None:
    for n in range(5):
        queue_alerts(store, settings(), [event()], run_key=f"r{n}")
    first = outbox.claim(store, "a", ttl=60, limit=4)
    second = outbox.claim(store, "b", ttl=60, limit=100)
    assert len(first) == 4 and len(second) == 11
    assert not {r.id for r in first} & {r.id for r in second}


def test_backoff_grows_to_a_cap_and_spreads() -> None:
    waits = [outbox.backoff(n, 7).total_seconds() for n in range(1, 12)]
    assert waits == sorted(waits)
    assert 30 <= waits[0] <= 33 and 60 <= waits[1] <= 66
    assert 3600 <= waits[-1] <= 3960
    assert len({outbox.backoff(3, row).total_seconds() for row in range(20)}) > 10
