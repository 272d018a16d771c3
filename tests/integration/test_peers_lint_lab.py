"""`nmops peers lint --running` on the lab over real SSH: the seed routers' running configs
are clean; a twin with an odd real-world config is read without a crash; where the IPv6
notify interface must be is decided from the address the router really has."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nmops.cli import main
from nmops.lab.runner import Twin
from tests.integration.labutil import KAGAWA, LabThread

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "golden"
BRANCH = ROOT / "tests" / "data" / "ix" / "branch-bgp.conf"


def lint_running(lab: LabThread, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        main, ["peers", "lint", "--running", "--json", "--config", str(lab.config_path), *args]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def _wan_side(notify: str) -> str:
    """Kagawa's golden config with its IPv6 from autoconfig on the WAN (no ND proxy),
    notified on ``notify``."""
    text = (SEED / f"{KAGAWA}.conf").read_text()
    text = text.replace(
        "  ipv6 nd proxy GigaEthernet2.0\n", "  ipv6 address autoconfig receive-default\n"
    )
    return text.replace(
        "nm ddns notify interface GigaEthernet2.0 protocol ipv6",
        f"nm ddns notify interface {notify} protocol ipv6",
    )


def test_seed_running_configs_are_clean(tmp_path: Path) -> None:
    with LabThread(tmp_path / "lab") as lab:
        code, doc = lint_running(lab)
    assert doc["source"] == "running" and doc["unread"] == {}
    assert doc["findings"] == [] and code == 0


def test_an_odd_real_config_is_read_without_a_crash(tmp_path: Path) -> None:
    with LabThread(tmp_path / "lab", twins=[Twin("ix-branch", BRANCH)]) as lab:
        code, doc = lint_running(lab, "ix-branch")
    assert doc["unread"] == {}
    assert not [f for f in doc["findings"] if f["code"] == "unreadable"]
    assert code in (0, 1, 2)


@pytest.mark.parametrize(
    ("notify", "expected"),
    [("GigaEthernet0.0", set()), ("GigaEthernet2.0", {("v6-notify", KAGAWA)})],
)
def test_wan_side_ipv6_judged_by_the_real_address(
    tmp_path: Path, notify: str, expected: set[tuple[str, str]]
) -> None:
    twin = tmp_path / "kagawa.conf"
    twin.write_text(_wan_side(notify))
    with LabThread(tmp_path / "lab", twins=[Twin(KAGAWA, twin)]) as lab:
        code, doc = lint_running(lab, KAGAWA)
    found = {(f["code"], f["router"]) for f in doc["findings"]}
    assert found == expected, doc
    if expected:
        (finding,) = doc["findings"]
        assert "no global IPv6 address on the router" in finding["message"]
        assert finding["hint"] == "nm ddns notify interface GigaEthernet0.0 protocol ipv6"
        assert code == 2
    else:
        assert code == 0
