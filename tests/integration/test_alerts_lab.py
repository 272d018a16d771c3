"""Alerts from a cron-driven `nmops check` (no `nmops serve`): the lab breaks, the incident
opens after `confirm_after` checks and one mail arrives at a real SMTP server; it stays quiet
while nothing changes, and one more mail says it resolved after the repair."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nmops.cli import main
from nmops.lab.bind import free_port
from nmops.notify import smtp
from tests.integration.labutil import KAGAWA, LabThread
from tests.integration.mailutil import SmtpServer

pytestmark = pytest.mark.lab


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LabThread]:
    monkeypatch.setattr(smtp, "CONNECT_WAIT", 0.0)
    with LabThread(tmp_path / "lab") as running:
        yield running


def run(lab: LabThread, *args: str) -> int:
    result = CliRunner().invoke(main, [*args, "--config", str(lab.config_path)])
    assert "Traceback" not in result.output, result.output
    return result.exit_code


def subjects(server: SmtpServer) -> list[str]:
    out = []
    for mail in server.inbox.mails:
        parsed = email.message_from_bytes(mail.content, policy=email.policy.default)
        out.append(str(parsed["Subject"]))
    return out


def test_a_cron_check_opens_alerts_once_and_resolves_once(lab: LabThread) -> None:
    server = SmtpServer(free_port())
    server.start()
    try:
        settings = yaml.safe_load(lab.config_path.read_text())
        settings["mail"] = {
            "smtp": {"host": "127.0.0.1", "port": server.port, "security": "none", "timeout": 5},
            "from": "nmops@example.net",
            "to": ["ops@example.net"],
        }
        settings["report"] = {"language": "en"}
        confirm = settings["policy"].get("confirm_after", 2)
        lab.config_path.write_text(yaml.safe_dump(settings))
        assert run(lab, "check") == 0
        lab.fault(KAGAWA, "address-change")
        for _ in range(confirm + 2):
            assert run(lab, "check") == 2
        assert len(server.inbox.mails) == 1, subjects(server)
        (opened,) = subjects(server)
        assert KAGAWA in opened and "problem" in opened
        assert run(lab, "fix", "--apply") == 0
        for _ in range(4):
            run(lab, "check")
        assert len(server.inbox.mails) == 2, subjects(server)
        body = server.inbox.mails[1].content.decode("ascii", "replace")
        assert "resolve" in body.lower()
        password = (lab.directory / "secrets" / "router-password").read_text().strip()
        assert all(password.encode() not in m.content for m in server.inbox.mails)
    finally:
        server.stop()
