"""`nmops notify --test` and `nmops outbox [--flush] [--json]` end to end: a real SMTP server,
webhooks through `responses`, the state database the config names."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner, Result

from nmops.cli import main
from nmops.lab.bind import free_port
from nmops.notify import smtp
from nmops.notify.webhook import SIGNATURE_HEADER, verify
from tests.integration.mailutil import SmtpServer

GOOD = Path(__file__).resolve().parent.parent / "data" / "config" / "good"
HOOK = "https://hooks.example.net/nmops"


@pytest.fixture(autouse=True)
def quick_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtp, "CONNECT_WAIT", 0.0)


@pytest.fixture
def hook_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = f"hook-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("NMOPS_TEST_CLI_HOOK_KEY", key)
    return key


def config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "nmops.yaml"
    path.write_text(
        f"""\
inventory: {GOOD / "inventory.yaml"}
state: {{url: "sqlite:///state.db"}}
mail:
  smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout: 5}}
  from: nmops@example.net
  to: [ops@example.net, {{address: tanaka@example.jp, events: [report]}}]
notify:
  webhooks: [{{url: "{HOOK}", secret: {{env: NMOPS_TEST_CLI_HOOK_KEY}}}}]
""",
        encoding="utf-8",
    )
    return path


def nmops(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_notify_test_goes_through_every_channel(tmp_path: Path, hook_key: str) -> None:
    port = free_port()
    path = config(tmp_path, port)
    server = SmtpServer(port)
    server.start()
    try:
        with responses.RequestsMock() as web:
            web.post(HOOK, status=200)
            result = nmops("notify", "--test", "--config", str(path))
            [call] = web.calls
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # A test goes to every recipient, whatever they subscribed to.
    assert sorted(lines)[:2] == ["ok mail ops@example.net", "ok mail tanaka@example.jp"]
    assert sorted(lines)[2].startswith("ok webhook https://hooks.example.net/… [")
    assert "/nmops" not in result.stdout  # the path may be a token: never shown
    assert len(server.inbox.mails) == 2
    body = call.request.body
    assert isinstance(body, bytes)
    assert verify(hook_key, body, call.request.headers[SIGNATURE_HEADER])
    assert json.loads(body)["event"]["kind"] == "test"
    assert hook_key.encode() not in (tmp_path / "state.db").read_bytes()


def test_notify_test_says_what_failed_and_exits_non_zero(tmp_path: Path, hook_key: str) -> None:
    path = config(tmp_path, free_port())  # nothing listens there
    with responses.RequestsMock() as web:
        web.post(HOOK, status=502)
        result = nmops("notify", "--test", "--config", str(path))
    assert result.exit_code == 1
    assert "failed mail ops@example.net: SMTP 127.0.0.1:" in result.stdout
    assert "failed webhook https://hooks.example.net/… [" in result.stdout
    assert ": HTTP 502 Bad Gateway" in result.stdout
    # A test that failed is not sent hours later.
    listed = json.loads(nmops("outbox", "--json", "--config", str(path)).stdout)
    assert {r["state"] for r in listed["rows"]} == {"dead"}


def test_notify_without_channels(tmp_path: Path) -> None:
    path = tmp_path / "nmops.yaml"
    path.write_text(f"inventory: {GOOD / 'inventory.yaml'}\nstate: {{url: 'sqlite:///s.db'}}\n")
    result = nmops("notify", "--test", "--config", str(path))
    assert result.exit_code == 3 and "no channel is configured" in result.stdout
    assert nmops("notify", "--config", str(path)).exit_code == 3  # nothing asked


def test_outbox_lists_what_waits_and_flush_sends_it(tmp_path: Path, hook_key: str) -> None:
    from nmops.config.load import load_config
    from nmops.notify.queue import queue_alerts
    from nmops.state import Store
    from tests.unit.test_notify_outbox import event

    port = free_port()
    path = config(tmp_path, port)
    loaded = load_config(path)
    url = loaded.settings.state.resolved(loaded.base_dir)
    with Store.open(url) as store:
        assert queue_alerts(store, loaded.settings, [event()], run_key="r1") == 2
    with responses.RequestsMock() as web:
        web.post(HOOK, status=500)
        first = nmops("outbox", "--flush", "--config", str(path))
        assert first.exit_code == 1
        assert "sent 0, failed 2 (0 given up), 2 waiting" in first.stdout
        listed = nmops("outbox", "--json", "--config", str(path))
    doc = json.loads(listed.stdout)
    assert doc["schema"] == "nmops.outbox/1" and listed.exit_code == 0
    rows = {r["channel"]: r for r in doc["rows"]}
    assert rows["mail"]["target"] == "ops@example.net" and rows["mail"]["attempts"] == 1
    assert "refused" in rows["mail"]["last_error"].lower()
    assert rows["webhook"]["last_error"] == "HTTP 500 Internal Server Error"
    assert rows["mail"]["subject"].startswith("[nmops] 問題 1 件: ix2215-kagawa AAAA missing")
    table = nmops("outbox", "--config", str(path)).stdout
    assert "ops@example.net" in table and "HTTP 500" in table
    server = SmtpServer(port)
    server.start()
    try:
        with responses.RequestsMock() as web:
            web.post(HOOK, status=200)
            flushed = nmops("outbox", "--flush", "--config", str(path))
    finally:
        server.stop()
    assert flushed.exit_code == 0, flushed.output
    assert "sent 2, failed 0 (0 given up), 0 waiting" in flushed.stdout
    assert "the outbox is empty" in flushed.stdout
    assert len(server.inbox.mails) == 1


def test_retry_gives_what_was_given_up_another_go_once(tmp_path: Path, hook_key: str) -> None:
    port = free_port()
    path = config(tmp_path, port)
    path.write_text(path.read_text() + "  max_attempts: 1\n", encoding="utf-8")  # notify:
    with responses.RequestsMock() as web:
        web.post(HOOK, status=500)
        nmops("notify", "--test", "--config", str(path))  # dies at once: one try allowed
    listed = json.loads(nmops("outbox", "--json", "--config", str(path)).stdout)
    assert {r["state"] for r in listed["rows"]} == {"dead"} and len(listed["rows"]) == 3
    assert "given another go" not in nmops("outbox", "--flush", "--config", str(path)).stdout
    server = SmtpServer(port)
    server.start()
    try:
        with responses.RequestsMock() as web:
            web.post(HOOK, status=200)
            retried = nmops("outbox", "--retry", "--json", "--config", str(path))
            again = nmops("outbox", "--retry", "--config", str(path))
            assert len(web.calls) == 1
    finally:
        server.stop()
    doc = json.loads(retried.stdout)
    assert retried.exit_code == 0, retried.output
    assert doc["requeued"] == 3 and doc["flush"]["sent"] == 3 and doc["rows"] == []
    assert len(server.inbox.mails) == 2  # once each, not again on the second --retry
    assert "given another go: 0" in again.stdout and again.exit_code == 0
