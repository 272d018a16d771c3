"""`nmops report` and `nmops silence` end to end through click: the state database the config
names, a real SMTP server (aiosmtpd) for --send, and --send with the server down."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nmops.cli import main
from nmops.config.load import Config, load_config
from nmops.lab.bind import free_port
from nmops.notify import smtp
from nmops.state import Store
from tests.integration.mailutil import SmtpServer
from tests.unit.test_digest import HOSTILE, check

GOOD = Path(__file__).resolve().parent.parent / "data" / "config" / "good"


@pytest.fixture(autouse=True)
def quick_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtp, "CONNECT_WAIT", 0.0)


def write_config(tmp_path: Path, port: int, extra: str = "") -> Path:
    path = tmp_path / "nmops.yaml"
    path.write_text(
        f"""\
inventory: {GOOD / "inventory.yaml"}
state: {{url: "sqlite:///state.db"}}
policy: {{timezone: Asia/Tokyo}}
report: {{language: en}}
mail:
  smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout: 5}}
  from: nmops@example.net
  to: [ops@example.net, {{address: tanaka@example.jp, events: [open], language: ja}}]
{extra}""",
        encoding="utf-8",
    )
    return path


def nmops(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def populate(path: Path) -> Config:
    """Two checks with kagawa's AAAA missing: one open incident, the link on IPv4."""
    config = load_config(path)
    with Store.open(config.settings.state.resolved(config.base_dir)) as store:
        check(store, config, "ok", "ipv6")
        check(store, config, "missing", "ipv4", f"NODATA {HOSTILE}")
        check(store, config, "missing", "ipv4", f"NODATA {HOSTILE}")
    return config


def test_report_prints_text_and_writes_html(tmp_path: Path) -> None:
    path = write_config(tmp_path, free_port())
    populate(path)
    html = tmp_path / "digest.html"
    result = nmops("report", "--config", str(path), "--html", str(html))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("[nmops] 1 problem: ix2215-kagawa AAAA missing since ")
    assert "== Routers ==" in out and "IPv4 backup since" in out
    page = html.read_text(encoding="utf-8")
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert '<td class="cell c-' in page
    japanese = nmops("report", "--config", str(path), "--language", "ja", "--since", "7d")
    assert japanese.exit_code == 0 and "== インシデント ==" in japanese.stdout


def test_report_send_with_the_server_down_queues_and_exits_1(tmp_path: Path) -> None:
    port = free_port()
    path = write_config(tmp_path, port)
    populate(path)
    result = nmops("report", "--send", "--config", str(path))
    assert result.exit_code == 1, result.output
    assert "the digest is queued but 1 of 1 mails could not be sent now" in result.stderr
    listed = json.loads(nmops("outbox", "--json", "--config", str(path)).stdout)
    [row] = listed["rows"]
    assert row["target"] == "ops@example.net" and row["state"] == "pending"
    assert row["subject"].startswith("[nmops] 1 problem: ix2215-kagawa AAAA missing")
    # The server comes back: the queued digest goes out once.
    server = SmtpServer(port)
    server.start()
    try:
        assert nmops("outbox", "--flush", "--config", str(path)).exit_code == 0
        assert nmops("outbox", "--flush", "--config", str(path)).exit_code == 0
    finally:
        server.stop()
    [mail] = server.inbox.mails
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert str(message["Subject"]).startswith("[nmops] 1 problem: ix2215-kagawa AAAA")


def test_report_send_delivers_to_report_recipients(tmp_path: Path) -> None:
    port = free_port()
    path = write_config(tmp_path, port)
    populate(path)
    server = SmtpServer(port)
    server.start()
    try:
        result = nmops("report", "--send", "--config", str(path))
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sent: [nmops] 1 problem")
    [mail] = server.inbox.mails  # tanaka takes only `open` alerts
    assert mail.rcpt_tos == ("ops@example.net",)
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    html = message.get_body(("html",))
    assert html is not None and "&lt;script&gt;" in html.get_content()


def test_report_send_without_mail_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "nmops.yaml"
    path.write_text(f"inventory: {GOOD / 'inventory.yaml'}\nstate: {{url: 'sqlite:///s.db'}}\n")
    result = nmops("report", "--send", "--config", str(path))
    assert result.exit_code == 3 and "--send needs `mail:`" in result.output


def test_silence_add_list_clear(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        free_port(),
        "incidents:\n  maintenance:\n"
        "    - {routers: '*', every: sun, start: '03:00', duration: 2h, reason: ISP work}\n",
    )
    added = nmops("silence", "ix2215-kagawa", "--for", "2h", "--reason", "swap the ONU",
                  "--config", str(path))  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "silenced ix2215-kagawa until " in added.stdout and "(id 1)" in added.stdout
    listed = nmops("silence", "--list", "--config", str(path))
    assert "ix2215-kagawa" in listed.stdout and "swap the ONU" in listed.stdout
    assert "maintenance *: sun 03:00 for 2 h (ISP work)" in listed.stdout
    doc = json.loads(nmops("silence", "--list", "--json", "--config", str(path)).stdout)
    assert doc["schema"] == "nmops.silences/1"
    assert [s["router"] for s in doc["silences"]] == ["ix2215-kagawa"]
    assert doc["maintenance"][0]["routers"] == "*"
    assert nmops("silence", "--clear", "1", "--config", str(path)).exit_code == 0
    assert nmops("silence", "--clear", "1", "--config", str(path)).exit_code == 1
    after = json.loads(nmops("silence", "--list", "--json", "--config", str(path)).stdout)
    assert after["silences"] == []


def test_silence_refuses_unknown_routers_and_bad_lengths(tmp_path: Path) -> None:
    path = write_config(tmp_path, free_port())
    unknown = nmops("silence", "ix9999", "--config", str(path))
    assert unknown.exit_code == 3 and "no router named 'ix9999'" in unknown.stderr
    assert nmops("silence", "ix2215-tokyo", "--for", "90d", "--config", str(path)).exit_code == 3
    assert nmops("silence", "--config", str(path)).exit_code == 3
    every = nmops("silence", "*", "--for", "30m", "--config", str(path))
    assert every.exit_code == 0 and "silenced * until" in every.stdout
