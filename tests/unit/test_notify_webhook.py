"""Webhooks through the outbox, against `responses`: signed exact bodies, retries with backoff
after a failure, no retry storm, and giving up when it is hopeless."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
import sqlalchemy as sa

from nmops.config.model import Settings
from nmops.notify import outbox
from nmops.notify.deliver import deliver_pending
from nmops.notify.queue import queue_alerts
from nmops.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from nmops.state import Store
from nmops.state.schema import outbox as table
from tests.unit.test_notify_outbox import AT, event
from tests.unit.test_state_store import FakeClock

# Slack-like: the path is a token, so it must not be stored, shown or logged.
TOKEN = "tok-3b9f0c7d1e"
URL = f"https://hooks.example.net/services/T0/B0/{TOKEN}"
SECRET = "whk-marker-5f1c2a9e"  # a test value; it must never be stored


def hook_settings(**hook: Any) -> Settings:
    data = {
        "notify": {
            "webhooks": [{"url": URL, "secret": {"env": "NMOPS_TEST_HOOK_KEY"}, **hook}],
            "max_attempts": 4,
        }
    }
    return Settings.model_validate(data, context={"base_dir": Path(".")})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(AT)


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def store(state_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("NMOPS_TEST_HOOK_KEY", SECRET)
    with Store.open(state_url, clock=clock) as opened:
        yield opened


@pytest.fixture
def web() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def states(store: Store) -> list[tuple[str, int, str | None]]:
    with store.read() as conn:
        found = conn.execute(
            sa.select(table.c.state, table.c.attempts, table.c.last_error).order_by(table.c.id)
        ).all()
    return [(r[0], r[1], r[2]) for r in found]


def dump(store: Store) -> str:
    with store.read() as conn:
        return repr(conn.execute(sa.select(table)).all())


def test_the_post_is_signed_over_the_exact_body(store: Store, web: responses.RequestsMock) -> None:
    web.post(URL, status=204)
    queue_alerts(store, hook_settings(), [event()], run_key="r1")
    delivery = deliver_pending(store, hook_settings())
    assert (delivery.sent, delivery.failed, delivery.waiting) == (1, 0, 0)
    [call] = web.calls
    body = call.request.body
    assert isinstance(body, bytes)
    headers = call.request.headers
    assert verify(SECRET, body, headers[SIGNATURE_HEADER])
    assert headers[SIGNATURE_HEADER].startswith("sha256=")
    assert not verify(SECRET, body + b" ", headers[SIGNATURE_HEADER])
    assert headers["Content-Type"].startswith("application/json")
    doc = json.loads(body)
    assert doc["schema"] == "nmops.alert/1"
    assert doc["event"]["router"] == "ix2215-kagawa" and doc["event"]["status"] == "missing"
    assert doc["text"].startswith("[nmops] 1 problem: ix2215-kagawa AAAA missing since")
    assert int(headers[TIMESTAMP_HEADER]) == int(AT.timestamp())
    assert doc["sent_at"] == AT.isoformat()
    assert SECRET not in dump(store) and TOKEN not in dump(store)


def test_the_url_token_is_never_stored_shown_or_logged(
    store: Store, web: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = URL.split("hooks.example.net", 1)[1]
    error = requests.ConnectionError(
        f"HTTPSConnectionPool(host='hooks.example.net', port=443): Max retries exceeded with "
        f"url: {path} (Caused by NewConnectionError('refused'))"
    )
    web.post(URL, body=error)
    queue_alerts(store, hook_settings(), [event()], run_key="r1")
    delivery = deliver_pending(store, hook_settings())
    assert delivery.failed == 1
    [line] = delivery.errors
    assert line.startswith("webhook https://hooks.example.net/… [")
    assert "ConnectionError" in line and "url: /…" in line
    for text in (line, dump(store), caplog.text):
        assert TOKEN not in text


def test_a_500_is_retried_with_backoff_and_no_storm(
    store: Store, web: responses.RequestsMock, clock: FakeClock
) -> None:
    failing = web.post(URL, status=500)
    events = [event(router=f"ix-{n}") for n in range(10)]
    queue_alerts(store, hook_settings(), events, run_key="r1")
    first = deliver_pending(store, hook_settings())
    assert (first.sent, first.failed, first.waiting, first.dead) == (0, 10, 10, 0)
    assert failing.call_count == 10  # one try per row per pass
    assert all("HTTP 500" in e for e in first.errors)
    # Right after, and 20 s later: not due yet, nothing is posted.
    assert deliver_pending(store, hook_settings()).failed == 0
    clock.advance(20)
    assert deliver_pending(store, hook_settings()).failed == 0
    assert failing.call_count == 10
    with store.read() as conn:
        due = conn.execute(sa.select(table.c.next_try_at)).scalars().all()
    assert all(AT + timedelta(seconds=30) <= t <= AT + timedelta(seconds=33) for t in due)
    web.replace(responses.POST, URL, status=200)
    clock.advance(15)
    second = deliver_pending(store, hook_settings())
    assert (second.sent, second.failed, second.waiting) == (10, 0, 0)
    assert [s[:2] for s in states(store)] == [("sent", 2)] * 10
    assert deliver_pending(store, hook_settings()).sent == 0  # exactly once


def test_retry_after_is_honoured(store: Store, web: responses.RequestsMock) -> None:
    web.post(URL, status=429, headers={"Retry-After": "900"})
    queue_alerts(store, hook_settings(), [event()], run_key="r1")
    deliver_pending(store, hook_settings())
    with store.read() as conn:
        [due] = conn.execute(sa.select(table.c.next_try_at)).scalars().all()
    assert due >= AT + timedelta(seconds=900)


def test_a_refusal_gives_up_at_once(store: Store, web: responses.RequestsMock) -> None:
    web.post(URL, status=404)
    queue_alerts(store, hook_settings(), [event()], run_key="r1")
    delivery = deliver_pending(store, hook_settings())
    assert (delivery.failed, delivery.dead, delivery.waiting) == (1, 1, 0)
    assert states(store) == [("dead", 1, "HTTP 404 Not Found")]


def test_after_max_attempts_the_row_is_dead(
    store: Store, web: responses.RequestsMock, clock: FakeClock
) -> None:
    failing = web.post(URL, status=503)
    queue_alerts(store, hook_settings(), [event()], run_key="r1")
    for _ in range(6):
        deliver_pending(store, hook_settings())
        clock.advance(3600 * 2)
    assert failing.call_count == 4
    assert states(store) == [("dead", 4, "HTTP 503 Service Unavailable")]


def test_too_old_is_dead(store: Store, web: responses.RequestsMock, clock: FakeClock) -> None:
    web.post(URL, status=500)
    queue_alerts(store, hook_settings(), [event()], run_key="r1")
    deliver_pending(store, hook_settings())
    clock.advance(3 * 86400)
    delivery = deliver_pending(store, hook_settings())
    assert delivery.dead == 1 and "too old" in delivery.errors[0]
    assert len(web.calls) == 1


def test_flush_sends_what_waits_for_a_retry(store: Store, web: responses.RequestsMock) -> None:
    web.post(URL, status=500)
    queue_alerts(store, hook_settings(), [event()], run_key="r1")
    deliver_pending(store, hook_settings())
    web.replace(responses.POST, URL, status=200)
    assert deliver_pending(store, hook_settings()).sent == 0  # not due
    assert deliver_pending(store, hook_settings(), flush=True).sent == 1
    assert len(web.calls) == 2


def test_a_missing_secret_is_retried_and_never_guessed(
    store: Store, web: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    web.post(URL, status=200)
    queue_alerts(store, hook_settings(), [event()], run_key="r1")
    monkeypatch.delenv("NMOPS_TEST_HOOK_KEY")
    delivery = deliver_pending(store, hook_settings())
    assert delivery.failed == 1 and delivery.dead == 0 and not web.calls
    assert "NMOPS_TEST_HOOK_KEY" in delivery.errors[0]


def test_a_webhook_removed_from_the_config_is_given_up(
    store: Store, web: responses.RequestsMock
) -> None:
    queue_alerts(store, hook_settings(), [event()], run_key="r1")
    delivery = deliver_pending(store, Settings.model_validate({}))
    assert delivery.dead == 1 and not web.calls


def test_a_test_alert_is_not_retried_later(store: Store, web: responses.RequestsMock) -> None:
    web.post(URL, status=500)
    queue_alerts(store, hook_settings(), [event("test")], run_key="t1")
    delivery = deliver_pending(store, hook_settings())
    assert delivery.dead == 1
    assert states(store)[0][0] == "dead"


def test_events_filter_per_webhook(store: Store, web: responses.RequestsMock) -> None:
    assert queue_alerts(store, hook_settings(events=["resolve"]), [event()], run_key="r") == 0
    assert queue_alerts(store, hook_settings(), [event(), event("remind")], run_key="r") == 2
    assert outbox.count_waiting(store) == 2
