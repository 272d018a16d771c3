"""``nmops demo``: runs on the built-in lab with nothing else installed and tells the whole
story: healthy, broken, planned, repaired by walking the ladder, green, recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from nmops.cli import main
from nmops.lab.demo import run_demo
from nmops.status import ExitCode, Status


def test_demo_cli() -> None:
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "stale" in out
    assert "ix2215-kagawa.fetburner.v6.nmddns.jp" in out
    assert "the router has" in out
    for rung in ("reregister", "client-restart", "reboot"):
        assert rung in out
    assert "nmops history" in out
    assert "The demo ran as intended." in out
    assert "demo problem" not in out


def test_demo_story(tmp_path: Path) -> None:
    result = asyncio.run(run_demo(tmp_path))
    assert result.ok, result.problems
    healthy, broken, planned, repaired, green, history = result.steps
    assert healthy.report is not None and healthy.report.exit_code is ExitCode.OK
    assert broken.report is not None and broken.report.exit_code is ExitCode.CRITICAL
    statuses = {(r.name, n.family): n.status for r in broken.report.routers for n in r.names}
    assert statuses[("ix2215-kagawa", "ipv4")] is Status.STALE
    assert statuses[("ix2215-kagawa", "ipv6")] is Status.STALE
    assert planned.fix is not None and planned.fix.results == []
    assert [s.rung.value for s in planned.fix.plan.steps][:3] == [
        "reregister",
        "client-restart",
        "reboot",
    ]
    assert repaired.fix is not None
    assert [(r.step.rung.value, r.outcome) for r in repaired.fix.results][:3] == [
        ("reregister", "partial"),
        ("client-restart", "no-effect"),
        ("reboot", "verified"),
    ]
    assert result.reloads == 1
    assert green.report is not None and green.report.exit_code is ExitCode.OK
    assert any(e.kind == "action" and e.what == "reboot" for e in history.history)
    # The demo wrote its config where it was told to, and every router logged our commands.
    assert (tmp_path / "nmops.yaml").is_file()
    assert (tmp_path / "state.db").is_file()
    assert "show running-config" in (tmp_path / "logs" / "ix2215-kagawa.log").read_text()
