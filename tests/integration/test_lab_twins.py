"""Lab twins: a simulated router loaded with any real IX config (`nmops lab up
--router-config NAME=FILE`), kept verbatim, checked like any router."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from nmops.cli import main
from nmops.ix import lines
from nmops.ix.dialect import clean_output, read_command
from nmops.ix.lines import Edit
from nmops.ix.session import ChangeSession, ReadSession
from nmops.lab.ixsim import LabError, golden_config
from nmops.lab.runner import Twin, start_lab
from tests.integration.labutil import KAGAWA, TOKYO, LabThread

pytestmark = pytest.mark.lab

DATA = Path(__file__).resolve().parents[1] / "data" / "ix"
BRANCH = DATA / "branch-bgp.conf"


def run(coro: Any, timeout: float = 30) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def file_config(path: Path) -> lines.Config:
    return lines.parse("\n".join(clean_output(path.read_text())))


@pytest.fixture
def lab(tmp_path: Path) -> Any:
    with LabThread(tmp_path / "lab", twins=[Twin("ix-branch", BRANCH)]) as running:
        yield running


def test_twin_holds_the_file_verbatim_and_shows_it_back(lab: LabThread) -> None:
    want = file_config(BRANCH)
    router = lab.router("ix-branch")
    assert router.running.same_as(want) and router.startup.same_as(want)
    # Nested blocks the simulator has no grammar for are kept, nested.
    assert (
        "router bgp 64512",
        "address-family ipv4 unicast",
        "neighbor 192.0.2.254 distribute-list pref-out out",
    ) in want.paths

    async def go() -> tuple[str, str]:
        async with await ReadSession.open(lab.target("ix-branch"), lab.known_hosts()) as session:
            return (
                await session.show(read_command("show_running")),
                await session.show(read_command("show_startup")),
            )

    running, startup = run(go())
    assert lines.parse(running).same_as(want)
    assert lines.saved(running, startup)
    assert "    network 10.20.0.0/16" in running.splitlines()


def test_twin_is_checked_by_its_own_ddns_lines(lab: LabThread) -> None:
    inventory = yaml.safe_load((lab.config_path.parent / "inventory.yaml").read_text())
    entry = inventory["routers"]["ix-branch"]
    assert entry["ddns"] == {"ipv4": "GigaEthernet0.0", "ipv6": "GigaEthernet0.0"}
    assert entry["ddns_hostname"] == "branch"
    result = CliRunner().invoke(
        main, ["check", "--config", str(lab.config_path), "--router", "ix-branch", "--json"]
    )
    assert result.exit_code == 0, result.output
    (doc,) = json.loads(result.output)["routers"]
    assert [n["fqdn"] for n in doc["names"]] == [
        "branch.fetburner.nmddns.jp",
        "branch.fetburner.v6.nmddns.jp",
    ]
    assert {n["status"] for n in doc["names"]} == {"ok"}
    # WAN-side IPv6 (autoconfig): the global address is on the WAN, where it is notified.
    wan = lab.router("ix-branch").wan
    assert doc["router"]["addresses"] == {"ipv4": [str(wan.pppoe_v4)], "ipv6": [str(wan.v6_global)]}
    assert doc["findings"] == []


def test_twin_is_as_strict_as_any_simulated_router(lab: LabThread) -> None:
    async def go() -> tuple[Any, Any]:
        async with await ChangeSession.open(lab.target("ix-branch"), lab.known_hosts()) as s:
            ok = await s.apply([Edit(("interface GigaEthernet2:2.0",), "description printers")])
            bad = await s.apply([Edit(("interface GigaEthernet7.0",), "description nowhere")])
            return ok, bad

    ok, bad = run(go())
    assert ok.ok
    assert not bad.ok and bad.error == "% GigaEthernet7.0 -- Invalid command."
    running = lab.router("ix-branch").running
    assert ("interface GigaEthernet2:2.0", "description printers") in running.paths
    assert not any(p[0] == "interface GigaEthernet7.0" for p in running.paths)
    # What was there and not touched is still there, nested as before.
    assert ("policy-map output-policy", "class voice", "set ip dscp 48") in running.paths


def test_a_twin_replaces_the_seed_router_of_its_name(tmp_path: Path) -> None:
    changed = tmp_path / "tokyo.conf"
    changed.write_text(golden_config(TOKYO).replace("ip ospf cost 100", "ip ospf cost 50"))
    with LabThread(tmp_path / "lab", twins=[Twin(TOKYO, changed)]) as lab:
        assert sorted(lab.lab.endpoints) == sorted([TOKYO, KAGAWA])
        assert ("interface Tunnel2.0", "ip ospf cost 50") in lab.router(TOKYO).running.paths


def test_a_twin_that_would_share_dns_names_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "kagawa-copy.conf"
    copy.write_text(golden_config(KAGAWA))  # same hostname: the same DDNS names

    async def go() -> None:
        lab = await start_lab(tmp_path / "lab", fast=True, twins=[Twin("kagawa-copy", copy)])
        await lab.stop()

    with pytest.raises(LabError, match=r"would register ix2215-kagawa\.fetburner"):
        run(go())


@pytest.mark.parametrize("value", ["nofile", "=x.conf", "bad name=x.conf", "x="])
def test_router_config_option_is_checked(value: str) -> None:
    with pytest.raises(LabError):
        Twin.parse(value)


def test_a_twin_file_without_config_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.conf"
    empty.write_text("! nothing here\n\n")
    with pytest.raises(LabError, match="no config lines"):
        Twin("x", empty).config_text()
    with pytest.raises(LabError, match="cannot read"):
        Twin("x", tmp_path / "missing.conf").config_text()


def test_a_router_naming_a_hostile_interface_is_an_error_not_a_command(tmp_path: Path) -> None:
    """The notify interface comes from the router's own config: nmops validates it before it
    goes into `show ip interface IF`, and reports the router, instead of sending it."""
    hostile = tmp_path / "hostile.conf"
    hostile.write_text(
        golden_config(TOKYO).replace(
            "nm ddns notify interface GigaEthernet0.1 protocol ip",
            "nm ddns notify interface GigaEthernet0.1;reload protocol ip",
        )
    )
    with LabThread(tmp_path / "lab", twins=[Twin(TOKYO, hostile)]) as lab:
        inventory_path = lab.config_path.parent / "inventory.yaml"
        inventory = yaml.safe_load(inventory_path.read_text())
        # The lab left the bad name out of the inventory; the inventory names a good one.
        assert inventory["routers"][TOKYO]["ddns"] == {"ipv6": "GigaEthernet2.0"}
        inventory["routers"][TOKYO]["ddns"]["ipv4"] = "GigaEthernet0.1"
        inventory_path.write_text(yaml.safe_dump(inventory))
        result = CliRunner().invoke(
            main, ["check", "--config", str(lab.config_path), "--router", TOKYO, "--json"]
        )
        (doc,) = json.loads(result.output)["routers"]
        assert [f["status"] for f in doc["findings"]] == ["error"]
        assert "refused" in doc["findings"][0]["detail"]
        # The A record was never registered (the router's own notify line is broken):
        # CRITICAL, which outranks the router's UNKNOWN.
        assert result.exit_code == 2
        sent = lab.log(TOKYO).lines
        assert not any("reload" in line for line in sent)
        assert not any(";" in line for line in sent)
