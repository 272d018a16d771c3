"""``nmops check`` against the lab (simulated IX routers + DDNS), one test per fault kind.

The lab runs on a background thread; the CLI runs in the test thread through CliRunner,
exactly as from a shell (its own event loop, real SSH and DNS over 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from nmops.cli import main
from nmops.ix.session import IxSession
from nmops.lab.ixsim import FAULT_KINDS
from tests.integration.labutil import (
    KAGAWA,
    READ_ONLY_COMMANDS,
    TOKYO,
    LabThread,
    fqdn,
)

pytestmark = pytest.mark.lab

EXTRA_LINE = "ip access-list nmops-test permit ip src 192.0.2.0/24 dest any"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabThread]:
    with LabThread(tmp_path / "lab") as running:
        yield running


def check(
    lab: LabThread, *args: str, allowed: frozenset[str] = READ_ONLY_COMMANDS
) -> tuple[int, dict[str, Any]]:
    """``nmops check --config DIR/nmops.yaml --json ARGS``: (exit code, document).

    Every check is a dry run: whatever the routers received during it must be reading
    (`show ...`) or one of the ``allowed`` mode/terminal commands."""
    before = {name: lab.log(name) for name in (TOKYO, KAGAWA)}
    result = CliRunner().invoke(
        main, ["check", "--config", str(lab.config_path), "--json", *args], catch_exceptions=False
    )
    assert result.output.lstrip().startswith("{"), result.output
    for name, log in before.items():
        sent = lab.log(name).since(log).lines
        changes = [line for line in sent if not line.startswith("show ")]
        assert set(changes) <= allowed, f"{name} received {changes}"
    return result.exit_code, json.loads(result.output)


def router_doc(doc: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [r for r in doc["routers"] if r["name"] == name]
    return dict(found)


def name_status(doc: dict[str, Any], router: str, family: str) -> str:
    (name,) = [n for n in router_doc(doc, router)["names"] if n["family"] == family]
    assert name["fqdn"] == fqdn(router, family)
    return str(name["status"])


def name_addresses(doc: dict[str, Any], router: str, family: str) -> list[str]:
    (name,) = [n for n in router_doc(doc, router)["names"] if n["family"] == family]
    return list(name["addresses"])


def findings(doc: dict[str, Any], router: str) -> list[str]:
    return [f["status"] for f in router_doc(doc, router)["findings"]]


def all_names_ok(doc: dict[str, Any]) -> bool:
    return all(n["status"] == "ok" for r in doc["routers"] for n in r["names"])


def wan(lab: LabThread, router: str) -> dict[str, list[str]]:
    """The addresses the lab gave ``router`` (what nmops should read off it)."""
    addresses = lab.router(router).wan
    return {"ipv4": [str(addresses.pppoe_v4)], "ipv6": [str(addresses.v6_global)]}


def apply(lab: LabThread, router: str, lines: list[str], *, save: bool) -> None:
    """Change a router's config through the driver (a session that may change things)."""

    async def go() -> None:
        session = await IxSession.open(lab.target(router), lab.known_hosts(), read_only=False)
        async with session:
            result = await session.apply(lines)
            assert result.ok, result
            if save:
                await session.save()

    asyncio.run(asyncio.wait_for(go(), 20))


# --- healthy and dry run ---------------------------------------------------------------------


def test_healthy_lab_exit_0_and_sends_nothing_that_changes(lab: LabThread) -> None:
    code, doc = check(lab)
    assert code == 0, doc
    assert doc["status"] == "ok"
    assert all_names_ok(doc)
    for name in (TOKYO, KAGAWA):
        router = router_doc(doc, name)["router"]
        assert router["reachable"] is True
        assert router["error"] is None
        assert router["model"] == "IX2215"
        assert router["firmware"] == "10.7.18"
        assert router["reload_cause"] == "power-on"
        assert router["addresses"] == wan(lab, name)
        assert router["saved"] is True
        assert router["nm"]["ok"] is True
        assert router["nm"]["code"] == 20000
        peers = router["peers"]
        assert len(peers) == 2  # one IKEv2 SA over IPv6, one over IPv4
        assert {p["status"] for p in peers} == {"ok"}
        other = KAGAWA if name == TOKYO else TOKYO
        assert {p["peer_fqdn"] for p in peers} == {fqdn(other, "ipv4"), fqdn(other, "ipv6")}
        assert {p["remote"] for p in peers} == {*wan(lab, other)["ipv4"], *wan(lab, other)["ipv6"]}
        assert router_doc(doc, name)["findings"] == []
        # DNS says what the router has.
        assert name_addresses(doc, name, "ipv4") == wan(lab, name)["ipv4"]
        assert name_addresses(doc, name, "ipv6") == wan(lab, name)["ipv6"]

    # The dry run: only reading, and the mode/terminal commands reading needs.
    for name in (TOKYO, KAGAWA):
        log = lab.log(name)
        assert log.logins == 1
        sent = log.lines
        assert "show running-config" in sent
        assert "show config" in sent
        changes = [line for line in sent if not line.startswith("show ")]
        assert set(changes) <= READ_ONLY_COMMANDS, changes
        assert not any(line in sent for line in ("write memory", "reload", "svintr-config"))
        assert not lab.router(name).unsaved


def test_no_router_skips_the_router_side(lab: LabThread) -> None:
    code, doc = check(lab, "--no-router")
    assert code == 0
    assert all_names_ok(doc)
    assert [r["router"] for r in doc["routers"]] == [None, None]
    assert [r["findings"] for r in doc["routers"]] == [[], []]
    assert lab.log(KAGAWA).logins == 0
    assert lab.log(TOKYO).logins == 0


def test_text_output_names_the_routers(lab: LabThread) -> None:
    result = CliRunner().invoke(main, ["check", "--config", str(lab.config_path)])
    assert result.exit_code == 0, result.output
    assert fqdn(KAGAWA, "ipv6") in result.output
    assert TOKYO in result.output


# --- DDNS faults -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stuck", "family", "other"),
    [("ddns-v6-stuck", "ipv6", "ipv4"), ("ddns-v4-stuck", "ipv4", "ipv6")],
)
def test_ddns_stuck_then_address_change_is_stale(
    lab: LabThread, stuck: str, family: str, other: str
) -> None:
    before = wan(lab, KAGAWA)
    lab.fault(KAGAWA, stuck)
    lab.fault(KAGAWA, "address-change")
    after = wan(lab, KAGAWA)
    assert after[family] != before[family]

    code, doc = check(lab)
    assert code == 2, doc
    assert doc["status"] == "critical"
    assert name_status(doc, KAGAWA, family) == "stale"
    assert name_addresses(doc, KAGAWA, family) == before[family]  # DNS still has the old one
    assert name_status(doc, KAGAWA, other) == "ok"
    assert name_addresses(doc, KAGAWA, other) == after[other]
    assert router_doc(doc, KAGAWA)["router"]["addresses"] == after  # the router knows better
    assert name_status(doc, TOKYO, "ipv4") == name_status(doc, TOKYO, "ipv6") == "ok"
    assert router_doc(doc, KAGAWA)["status"] == "critical"
    assert router_doc(doc, TOKYO)["status"] == "ok"


def test_address_change_alone_is_reregistered(lab: LabThread) -> None:
    before = wan(lab, KAGAWA)
    lab.fault(KAGAWA, "address-change")
    after = wan(lab, KAGAWA)
    assert after["ipv4"] != before["ipv4"]
    assert after["ipv6"] != before["ipv6"]

    code, doc = check(lab)
    assert code == 0, doc
    assert all_names_ok(doc)
    assert name_addresses(doc, KAGAWA, "ipv4") == after["ipv4"]
    assert name_addresses(doc, KAGAWA, "ipv6") == after["ipv6"]
    assert router_doc(doc, KAGAWA)["router"]["addresses"] == after
    # Tokyo's SAs followed the new addresses.
    tokyo_peers = router_doc(doc, TOKYO)["router"]["peers"]
    assert {p["remote"] for p in tokyo_peers} == {*after["ipv4"], *after["ipv6"]}
    assert {p["status"] for p in tokyo_peers} == {"ok"}


def test_ike_peer_stale(lab: LabThread) -> None:
    old_kagawa = wan(lab, KAGAWA)
    lab.fault(TOKYO, "ike-peer-stale")
    lab.fault(KAGAWA, "address-change")

    code, doc = check(lab)
    assert code == 2, doc
    assert all_names_ok(doc)  # DNS is right: the fault is in tokyo's SAs
    assert findings(doc, TOKYO) == ["peer-stale", "peer-stale"]
    tunnels = {f["tunnel"] for f in router_doc(doc, TOKYO)["findings"]}
    assert tunnels == {p["tunnel"] for p in router_doc(doc, TOKYO)["router"]["peers"]}
    peers = router_doc(doc, TOKYO)["router"]["peers"]
    assert {p["status"] for p in peers} == {"peer-stale"}
    assert {p["remote"] for p in peers} == {*old_kagawa["ipv4"], *old_kagawa["ipv6"]}
    assert router_doc(doc, TOKYO)["status"] == "critical"
    assert findings(doc, KAGAWA) == []
    assert router_doc(doc, KAGAWA)["status"] == "ok"


# --- reachability faults ---------------------------------------------------------------------


def test_ssh_down_is_unreachable_names_still_checked(lab: LabThread) -> None:
    lab.fault(KAGAWA, "ssh-down")
    code, doc = check(lab)
    assert code == 1, doc
    assert doc["status"] == "warning"
    assert findings(doc, KAGAWA) == ["unreachable"]
    router = router_doc(doc, KAGAWA)["router"]
    assert router["reachable"] is False
    assert "cannot connect" in router["error"]
    assert router["addresses"] == {}
    assert name_status(doc, KAGAWA, "ipv4") == "ok"
    assert name_status(doc, KAGAWA, "ipv6") == "ok"
    assert router_doc(doc, TOKYO)["router"]["reachable"] is True
    assert findings(doc, TOKYO) == []


def test_config_locked_without_takeover_is_locked_not_a_traceback(lab: LabThread) -> None:
    """nmops reads its facts in config mode (where the IX allows `show`), so a held config
    mode means no facts: a `locked` finding (exit 1) that says why, and no takeover."""
    lab.fault(KAGAWA, "config-locked")
    code, doc = check(lab)
    assert code == 1, doc
    assert doc["status"] == "warning"
    assert findings(doc, KAGAWA) == ["locked"]
    router = router_doc(doc, KAGAWA)["router"]
    assert router["locked"] is True
    assert router["reachable"] is False
    assert "occupied" in router["error"]
    assert "svintr-config" in router["error"]  # says how to take it over
    assert all_names_ok(doc)  # DNS is still checked
    sent = lab.log(KAGAWA).lines
    assert len(sent) >= 2  # retried
    assert set(sent) == {"enable-config"}  # and never took over, nor sent anything else
    assert "config-locked" in lab.router(KAGAWA).faults
    assert findings(doc, TOKYO) == []
    assert router_doc(doc, TOKYO)["router"]["locked"] is False


def test_config_locked_with_takeover_configured(tmp_path: Path) -> None:
    """`ssh.takeover: true` is passed to the check's (read-only) sessions: the check should
    take config mode over with svintr-config and read its facts."""
    with LabThread(tmp_path / "lab") as lab:
        path = lab.config_path
        settings = yaml.safe_load(path.read_text())
        settings["ssh"]["takeover"] = True
        path.write_text(yaml.safe_dump(settings))
        lab.fault(KAGAWA, "config-locked")
        code, doc = check(lab, allowed=READ_ONLY_COMMANDS | {"svintr-config"})
        assert router_doc(doc, KAGAWA)["router"]["error"] is None
        assert code == 0, doc
        assert "svintr-config" in lab.log(KAGAWA).lines


def test_slow_router_is_still_ok(lab: LabThread) -> None:
    lab.fault(KAGAWA, "slow")
    code, doc = check(lab)
    assert code == 0, doc
    assert all_names_ok(doc)
    kagawa = router_doc(doc, KAGAWA)["router"]
    tokyo = router_doc(doc, TOKYO)["router"]
    assert kagawa["addresses"] == wan(lab, KAGAWA)
    assert kagawa["saved"] is True
    # Every line waits slow_delay (0.2 s in fast timings); tokyo is not slowed.
    assert kagawa["seconds"] >= 1.5
    assert tokyo["seconds"] < kagawa["seconds"]


def test_reload_that_hangs_is_unreachable(lab: LabThread) -> None:
    lab.fault(KAGAWA, "reload-hangs")

    async def reload() -> None:
        session = await IxSession.open(lab.target(KAGAWA), lab.known_hosts(), read_only=False)
        await session.reload()

    asyncio.run(asyncio.wait_for(reload(), 10))
    code, doc = check(lab)
    assert code == 1, doc
    assert findings(doc, KAGAWA) == ["unreachable"]
    assert router_doc(doc, KAGAWA)["router"]["reachable"] is False
    assert all_names_ok(doc)  # DNS still has kagawa's last addresses
    assert router_doc(doc, TOKYO)["status"] == "ok"

    lab.clear(KAGAWA, "reload-hangs")  # power cycle
    code, doc = check(lab)
    assert code == 0, doc
    assert router_doc(doc, KAGAWA)["router"]["reload_cause"] == "power-on"


# --- config state ----------------------------------------------------------------------------


def test_unsaved_change_is_a_warning(lab: LabThread) -> None:
    apply(lab, KAGAWA, [EXTRA_LINE], save=False)
    code, doc = check(lab)
    assert code == 1, doc
    assert findings(doc, KAGAWA) == ["unsaved"]
    assert router_doc(doc, KAGAWA)["router"]["saved"] is False
    assert "write memory" in router_doc(doc, KAGAWA)["findings"][0]["detail"]
    assert all_names_ok(doc)
    assert router_doc(doc, TOKYO)["router"]["saved"] is True

    apply(lab, KAGAWA, [EXTRA_LINE], save=True)
    code, doc = check(lab)
    assert code == 0, doc
    assert router_doc(doc, KAGAWA)["router"]["saved"] is True


def test_notify_interface_without_global_v6_address(lab: LabThread) -> None:
    old = wan(lab, KAGAWA)
    apply(lab, KAGAWA, ["interface GigaEthernet2.0", "no ipv6 enable"], save=True)
    lab.settle()
    code, doc = check(lab)
    assert code == 2, doc
    assert name_status(doc, KAGAWA, "ipv6") == "no-address"
    (v6,) = [n for n in router_doc(doc, KAGAWA)["names"] if n["family"] == "ipv6"]
    assert "GigaEthernet2.0" in v6["detail"]
    assert v6["addresses"] == old["ipv6"]  # the old record stays, as at NetMeister
    assert name_status(doc, KAGAWA, "ipv4") == "ok"
    assert router_doc(doc, KAGAWA)["router"]["addresses"] == {
        "ipv4": old["ipv4"],
        "ipv6": [],
    }
    assert findings(doc, KAGAWA) == []  # saved: no-address is the only problem


def test_notify_interface_shut_down_v4(lab: LabThread) -> None:
    apply(lab, KAGAWA, ["interface GigaEthernet0.1", "shutdown"], save=True)
    lab.settle()
    code, doc = check(lab)
    assert code == 2, doc
    assert name_status(doc, KAGAWA, "ipv4") == "no-address"
    assert name_status(doc, KAGAWA, "ipv6") == "ok"
    assert router_doc(doc, KAGAWA)["router"]["addresses"]["ipv4"] == []


def test_every_fault_kind_is_covered() -> None:
    covered = {
        "ddns-v6-stuck",
        "ddns-v4-stuck",
        "address-change",
        "ike-peer-stale",
        "ssh-down",
        "config-locked",
        "slow",
        "reload-hangs",
    }
    assert set(FAULT_KINDS) == covered
