"""``nmops demo``: runs on the built-in lab with nothing else installed, and shows the faults."""

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
    assert "The demo ran as intended." in out
    assert "demo problem" not in out


def test_demo_story(tmp_path: Path) -> None:
    result = asyncio.run(run_demo(tmp_path))
    assert result.ok, result.problems
    assert result.problems == ()
    healthy, broken = result.steps
    assert healthy.report.exit_code is ExitCode.OK
    assert all(r.facts is not None and r.facts.reachable for r in healthy.report.routers)
    assert broken.report.exit_code is ExitCode.CRITICAL
    statuses = {(r.name, n.family): n.status for r in broken.report.routers for n in r.names}
    assert statuses == {
        ("ix2215-tokyo", "ipv4"): Status.OK,
        ("ix2215-tokyo", "ipv6"): Status.OK,
        ("ix2215-kagawa", "ipv4"): Status.STALE,  # NetMeister has not heard yet
        ("ix2215-kagawa", "ipv6"): Status.STALE,
    }
    kagawa = next(r for r in broken.report.routers if r.name == "ix2215-kagawa")
    (v6,) = (n for n in kagawa.names if n.family == "ipv6")
    assert kagawa.facts is not None
    # DNS still has the old prefix; the router has moved on.
    assert set(v6.addresses).isdisjoint(kagawa.facts.addresses["ipv6"])
    # The demo wrote its config where it was told to, and every router logged our commands.
    assert (tmp_path / "nmops.yaml").is_file()
    assert (tmp_path / "inventory.yaml").is_file()
    assert "show running-config" in (tmp_path / "logs" / "ix2215-kagawa.log").read_text()
