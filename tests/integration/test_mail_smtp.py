"""Alert mail through a real SMTP server (aiosmtpd on 127.0.0.1): it arrives, parses, holds
text and HTML in both languages and no secret; STARTTLS and implicit TLS with AUTH; the
server down, then up: delivered exactly once; two sender processes: each row sent once."""

from __future__ import annotations

import email
import logging
import multiprocessing
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from nmops.config.model import Settings
from nmops.lab.bind import free_port
from nmops.notify import outbox as outbox_rows
from nmops.notify import smtp
from nmops.notify.deliver import CLAIM_TTL, deliver_pending
from nmops.notify.events import Message
from nmops.notify.queue import queue_alerts, queue_message
from nmops.state import Store
from nmops.state.schema import outbox
from tests.integration.mailutil import SmtpServer, self_signed, server_context
from tests.unit.test_notify_outbox import AT, event
from tests.unit.test_state_store import FakeClock

PASSWORD_ENV = "NMOPS_TEST_SMTP_PASSWORD"


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    marker = f"smtp-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv(PASSWORD_ENV, marker)
    return marker


@pytest.fixture(autouse=True)
def quick_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtp, "CONNECT_WAIT", 0.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(AT)


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def store(state_url: str, clock: FakeClock) -> Iterator[Store]:
    with Store.open(state_url, clock=clock) as opened:
        yield opened


def mail_settings(
    port: int, *, security: str = "none", auth: bool = False, **smtp_over: Any
) -> Settings:
    smtp_settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": security,
        "timeout": 5,
        **smtp_over,
    }
    if auth:
        smtp_settings.update(username="nmops", password={"env": PASSWORD_ENV})
    data = {
        "mail": {
            "smtp": smtp_settings,
            "from": "nmops <nmops@example.net>",
            "to": [
                {"address": "tanaka@example.jp", "language": "ja"},
                {"address": "ops@example.net", "language": "en"},
            ],
        },
        "policy": {"timezone": "Asia/Tokyo"},
    }
    return Settings.model_validate(data, context={"base_dir": Path(".")})


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def db_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


def test_alert_arrives_over_starttls_with_auth_in_both_languages_without_secrets(
    store: Store,
    password: str,
    tls_files: tuple[Path, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cert, key = tls_files
    port = free_port()
    server = SmtpServer(port, starttls=server_context(cert, key), login=("nmops", password))
    server.start()
    try:
        settings = mail_settings(port, security="starttls", auth=True, ca_file=str(cert))
        events = [
            event(),
            event("resolve", router="ix2215-tokyo", subject="name:ipv4", status="ok", detail=""),
        ]
        assert queue_alerts(store, settings, events, run_key="run-42") == 2
        delivery = deliver_pending(store, settings)
        assert (delivery.sent, delivery.failed, delivery.waiting) == (2, 0, 0), delivery.errors
    finally:
        server.stop()
    assert server.inbox.logins == [(b"nmops", password.encode())]  # AUTH happened, over TLS
    by_rcpt = {m.rcpt_tos: m for m in server.inbox.mails}
    assert set(by_rcpt) == {("tanaka@example.jp",), ("ops@example.net",)}
    ja = parsed(by_rcpt[("tanaka@example.jp",)].content)
    en = parsed(by_rcpt[("ops@example.net",)].content)
    assert (
        ja["Subject"]
        == "[nmops] 問題 1 件, 解決 1 件: ix2215-kagawa AAAA missing (03:20 から) ほか 1 件"
    )
    assert b"=?utf-8?" in by_rcpt[("tanaka@example.jp",)].content.split(b"\r\n\r\n")[0]
    assert (
        en["Subject"]
        == "[nmops] 1 problem, 1 resolved: ix2215-kagawa AAAA missing since 03:20, +1 more"
    )
    for message, word in ((ja, "発生"), (en, "problem")):
        assert message["From"] == "nmops <nmops@example.net>"
        assert message["Date"] and message["Message-ID"]
        text, html = parts(message)
        for body in (text, html):
            assert "ix2215-kagawa" in body and "ix2215-tokyo" in body and "no AAAA" in body
            assert word in body
        assert "<table" in html
    assert by_rcpt[("ops@example.net",)].mail_from == "nmops@example.net"
    secret = password.encode()
    for mail in server.inbox.mails:
        assert secret not in mail.content
    assert secret not in db_bytes(tmp_path)
    assert password not in caplog.text


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_and_a_wrong_password_is_retried_not_shown(
    store: Store, password: str, tls_files: tuple[Path, Path], tmp_path: Path,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, clock: FakeClock,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    cert, key = tls_files
    port = free_port()
    server = SmtpServer(port, implicit_tls=server_context(cert, key), login=("nmops", password))
    server.start()
    try:
        settings = mail_settings(port, security="tls", auth=True, ca_file=str(cert))
        queue_alerts(store, settings, [event()], run_key="r")
        wrong = f"wrong-{uuid.uuid4().hex}"
        monkeypatch.setenv(PASSWORD_ENV, wrong)
        failed = deliver_pending(store, settings)
        assert (failed.failed, failed.dead, failed.waiting) == (2, 0, 2)
        assert all("535" in e for e in failed.errors), failed.errors
        monkeypatch.setenv(PASSWORD_ENV, password)
        clock.advance(60)
        sent = deliver_pending(store, settings)
        assert (sent.sent, sent.waiting) == (2, 0), sent.errors
    finally:
        server.stop()
    assert len(server.inbox.mails) == 2
    for text in (caplog.text, repr(failed), db_bytes(tmp_path).decode(errors="replace")):
        assert password not in text and wrong not in text


def test_a_tls_server_that_cannot_be_verified_is_refused(
    store: Store, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    port = free_port()
    server = SmtpServer(port, starttls=server_context(cert, key))
    server.start()
    try:
        settings = mail_settings(port, security="starttls")  # no ca_file: the system's CAs
        queue_alerts(store, settings, [event()], run_key="r")
        delivery = deliver_pending(store, settings)
    finally:
        server.stop()
    assert delivery.failed == 2 and not server.inbox.mails
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.errors[0]


def test_smtp_down_then_up_delivers_exactly_once(store: Store, clock: FakeClock) -> None:
    port = free_port()
    settings = mail_settings(port)
    queue_alerts(store, settings, [event()], run_key="r1")
    queue_message(store, settings, Message(subject="[nmops] 日報", text="本日は異常なし"), key="d1")
    down = deliver_pending(store, settings)
    assert (down.sent, down.failed, down.waiting) == (0, 4, 4)
    assert "Connection refused" in down.errors[0] or "refused" in down.errors[0].lower()
    server = SmtpServer(port)
    server.start()
    try:
        assert deliver_pending(store, settings).sent == 0  # not due yet: no hammering
        clock.advance(40)
        up = deliver_pending(store, settings)
        again = deliver_pending(store, settings, flush=True)
    finally:
        server.stop()
    assert (up.sent, up.failed, up.waiting) == (4, 0, 0)
    assert again.sent == 0
    assert len(server.inbox.mails) == 4
    ids = [parsed(m.content)["Message-ID"] for m in server.inbox.mails]
    assert len(set(ids)) == 4
    digest = [parsed(m.content) for m in server.inbox.mails if b"=?utf-8?" in m.content[:200]]
    assert any(m["Subject"] == "[nmops] 日報" for m in digest)


def test_a_refused_recipient_is_given_up_the_others_go(store: Store) -> None:
    port = free_port()
    server = SmtpServer(port)
    server.inbox.refuse = frozenset({"tanaka@example.jp"})
    server.start()
    try:
        settings = mail_settings(port)
        queue_alerts(store, settings, [event()], run_key="r1")
        delivery = deliver_pending(store, settings)
    finally:
        server.stop()
    assert (delivery.sent, delivery.dead) == (1, 1)
    assert "550" in delivery.errors[0]
    with store.read() as conn:
        states = dict(conn.execute(sa.select(outbox.c.target, outbox.c.state)).all())
    assert states == {"tanaka@example.jp": "dead", "ops@example.net": "sent"}


def _sender(url: str, settings_json: str, name: str, go: Any, done: Any) -> None:
    settings = Settings.model_validate_json(settings_json)
    with Store.open(url) as store:
        go.wait(60)
        delivery = deliver_pending(store, settings, sender_id=name)
    done.put((name, delivery.sent, delivery.failed))


def test_two_sender_processes_send_each_row_once(state_url: str) -> None:
    port = free_port()
    server = SmtpServer(port)
    server.inbox.delay = 0.05  # so that the two senders overlap (3 s of mail in 3 claims)
    server.start()
    settings = mail_settings(port)
    with Store.open(state_url) as store:
        for n in range(30):
            queue_alerts(store, settings, [event(router=f"ix-{n}")], run_key=f"r{n}")
    spawn = multiprocessing.get_context("spawn")
    go, done = spawn.Event(), spawn.Queue()
    children = [
        spawn.Process(
            target=_sender,
            args=(state_url, settings.model_dump_json(by_alias=True), name, go, done),
        )
        for name in ("a", "b")
    ]
    try:
        for child in children:
            child.start()
        go.set()
        results = [done.get(timeout=90) for _ in children]
        for child in children:
            child.join(30)
    finally:
        server.stop()
    assert [c.exitcode for c in children] == [0, 0]
    sent = {name: count for name, count, _ in results}
    assert sum(sent.values()) == 60 and all(failed == 0 for _, _, failed in results)
    assert all(count > 0 for count in sent.values()), sent  # both really took part
    ids = [parsed(m.content)["Message-ID"] for m in server.inbox.mails]
    assert len(ids) == 60 and len(set(ids)) == 60
    with Store.open(state_url) as store, store.read() as conn:
        rows = conn.execute(sa.select(outbox.c.state, outbox.c.attempts)).all()
    assert sorted(set(rows)) == [("sent", 1)]


def test_a_sender_that_died_holding_a_claim_is_taken_over_once(
    store: Store, clock: FakeClock
) -> None:
    port = free_port()
    server = SmtpServer(port)
    server.start()
    try:
        settings = mail_settings(port)
        queue_alerts(store, settings, [event()], run_key="r1")
        # A sender claimed both mails and was killed before sending them.
        assert len(outbox_rows.claim(store, "killed/1", ttl=CLAIM_TTL, limit=10)) == 2
        assert deliver_pending(store, settings).sent == 0  # its claim still runs
        clock.advance(CLAIM_TTL + 1)
        taken = deliver_pending(store, settings)
        assert (taken.sent, taken.waiting) == (2, 0)
        assert deliver_pending(store, settings, flush=True).sent == 0
    finally:
        server.stop()
    assert len(server.inbox.mails) == 2
