"""``nmops check`` against the lab (simulated IX routers + DDNS), one test per fault kind.

The lab runs on a background thread; the CLI runs in the test thread through CliRunner,
exactly as from a shell (its own event loop, real SSH and DNS over 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from nmops.cli import main
from nmops.ix.lines import Edit
from nmops.ix.session import ChangeSession
from nmops.lab.ixsim import FAULT_KINDS, golden_configs
from nmops.lab.runner import USERNAME
from nmops.status import Status
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
    doc = json.loads(result.output)
    assert_router_sections(doc)
    return result.exit_code, doc


# --- the `router` and `findings` sections of the document ----------------------------------

ROUTER_KEYS = {
    "reachable",
    "interfaces",
    "locked",
    "error",
    "path",
    "model",
    "firmware",
    "uptime",
    "reload_cause",
    "addresses",
    "nm",
    "peers",
    "saved",
    "seconds",
}
NM_KEYS = {"ok", "result", "code", "last_request", "next_request"}
PEER_KEYS = {"tunnel", "peer_fqdn", "remote", "local", "state", "status", "detail"}
FINDING_KEYS = {"status", "detail", "tunnel"}
STATUSES = {s.value for s in Status}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_time(value: Any) -> bool:
    if value is None:
        return True
    datetime.fromisoformat(value)
    return True


def assert_router_sections(doc: dict[str, Any]) -> None:
    """Exact keys and value types of every router's ``router`` and ``findings`` sections
    (run on every document this module gets, healthy or not)."""
    for entry in doc["routers"]:
        assert set(entry) == {"name", "status", "names", "router", "findings"}
        for finding in entry["findings"]:
            assert set(finding) == FINDING_KEYS, finding
            assert finding["status"] in STATUSES - {"ok"}
            assert isinstance(finding["detail"], str)
            assert finding["tunnel"] is None or isinstance(finding["tunnel"], str)
            # Only a peer finding is about one tunnel.
            assert (finding["tunnel"] is not None) == (finding["status"] == "peer-stale")
        router = entry["router"]
        if router is None:
            continue
        assert set(router) == ROUTER_KEYS, router
        assert isinstance(router["reachable"], bool)
        assert isinstance(router["locked"], bool)
        assert isinstance(router["seconds"], float) and router["seconds"] >= 0
        assert router["path"] is None or re.fullmatch(r"127\.0\.0\.1:\d+", router["path"])
        if router["reachable"]:
            assert router["error"] is None
            assert router["locked"] is False
            assert isinstance(router["path"], str)
            assert isinstance(router["model"], str) and isinstance(router["firmware"], str)
            assert _is_int(router["uptime"])
            assert router["reload_cause"] is None or isinstance(router["reload_cause"], str)
            # The families the router has names for (none for a router without DDNS).
            families = {n["family"] for n in entry["names"]}
            assert set(router["addresses"]) == families
            assert set(router["interfaces"]) == families
            for family, version in (("ipv4", 4), ("ipv6", 6)):
                assert isinstance(router["addresses"].get(family, []), list)
                for address in router["addresses"].get(family, []):
                    assert ipaddress.ip_address(address).version == version
            nm = router["nm"]
            assert set(nm) == NM_KEYS
            assert isinstance(nm["ok"], bool) and isinstance(nm["result"], str)
            assert nm["code"] is None or _is_int(nm["code"])
            assert _is_time(nm["last_request"]) and _is_time(nm["next_request"])
            assert isinstance(router["peers"], list)
            for peer in router["peers"]:
                assert set(peer) == PEER_KEYS, peer
                assert isinstance(peer["tunnel"], str) and isinstance(peer["state"], str)
                assert peer["peer_fqdn"] is None or isinstance(peer["peer_fqdn"], str)
                assert ipaddress.ip_address(peer["remote"])
                assert ipaddress.ip_address(peer["local"])
                assert peer["status"] is None or peer["status"] in STATUSES
                assert peer["detail"] is None or isinstance(peer["detail"], str)
            assert isinstance(router["saved"], bool)
        else:
            # Nothing was read: only why, and where, if a path answered.
            assert isinstance(router["error"], str) and router["error"]
            assert [router[k] for k in ("model", "firmware", "uptime", "reload_cause")] == [
                None
            ] * 4
            assert router["addresses"] == {}
            assert router["nm"] is None
            assert router["peers"] == []
            assert router["saved"] is None


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


NOTIFY = (
    "nm ddns notify interface GigaEthernet0.1 protocol ip",
    "nm ddns notify interface GigaEthernet2.0 protocol ipv6",
)
REREGISTER = [Edit((), line) for notify in NOTIFY for line in (f"no {notify}", notify)]


def apply(lab: LabThread, router: str, edits: list[Edit], *, save: bool) -> None:
    """Change a router's config through the driver (a session that may change things)."""

    async def go() -> None:
        session = await ChangeSession.open(lab.target(router), lab.known_hosts())
        async with session:
            result = await session.apply(edits)
            assert result.ok, result
            if save:
                await session.save()

    asyncio.run(asyncio.wait_for(go(), 20))
    lab.settle()


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
        assert router["interfaces"] == {"ipv4": "GigaEthernet0.1", "ipv6": "GigaEthernet2.0"}
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


# --- every fault kind: what it does to a check ----------------------------------------------


@dataclass(frozen=True)
class FaultCase:
    """What ``nmops check`` reports once a fault kind has been brought about.

    ``provoke`` injects the fault (and whatever makes it show) and returns what ``more``
    needs; ``findings`` and ``names`` are exact for both routers (not listed: none / ``ok``);
    ``more`` holds the assertions particular to the kind.
    """

    provoke: Callable[[LabThread], Any]
    exit_code: int
    findings: dict[str, list[str]] = field(default_factory=dict)
    names: dict[tuple[str, str], str] = field(default_factory=dict)
    more: Callable[[LabThread, dict[str, Any], Any], None] | None = None


def _stuck(kind: str) -> Callable[[LabThread], Any]:
    """Registration of one family stops, both addresses change, and kagawa re-registers:
    the other family follows, the stuck one does not."""

    def provoke(lab: LabThread) -> dict[str, list[str]]:
        before = wan(lab, KAGAWA)
        lab.fault(KAGAWA, kind)
        lab.fault(KAGAWA, "address-change")
        apply(lab, KAGAWA, REREGISTER, save=False)
        return before

    return provoke


def _stuck_more(family: str, other: str) -> Callable[[LabThread, dict[str, Any], Any], None]:
    def more(lab: LabThread, doc: dict[str, Any], before: dict[str, list[str]]) -> None:
        after = wan(lab, KAGAWA)
        assert after[family] != before[family]
        assert name_addresses(doc, KAGAWA, family) == before[family]  # DNS kept the old one
        assert name_addresses(doc, KAGAWA, other) == after[other]
        assert router_doc(doc, KAGAWA)["router"]["addresses"] == after  # the router knows

    return more


def _address_change(lab: LabThread) -> dict[str, list[str]]:
    before = wan(lab, KAGAWA)
    lab.fault(KAGAWA, "address-change")
    return before


def _address_change_more(lab: LabThread, doc: dict[str, Any], before: Any) -> None:
    after = wan(lab, KAGAWA)
    assert after["ipv4"] != before["ipv4"]
    assert after["ipv6"] != before["ipv6"]
    # NetMeister has not heard yet: DNS has the old addresses, the router the new ones.
    assert name_addresses(doc, KAGAWA, "ipv4") == before["ipv4"]
    assert name_addresses(doc, KAGAWA, "ipv6") == before["ipv6"]
    assert router_doc(doc, KAGAWA)["router"]["addresses"] == after
    # Once kagawa re-registers, DNS and tokyo's SAs follow.
    apply(lab, KAGAWA, REREGISTER, save=False)
    code, doc = check(lab)
    assert code == 0, doc
    assert name_addresses(doc, KAGAWA, "ipv4") == after["ipv4"]
    tokyo_peers = router_doc(doc, TOKYO)["router"]["peers"]
    assert {p["remote"] for p in tokyo_peers} == {*after["ipv4"], *after["ipv6"]}
    assert {p["status"] for p in tokyo_peers} == {"ok"}


def _ike_peer_stale(lab: LabThread) -> dict[str, list[str]]:
    old_kagawa = wan(lab, KAGAWA)
    lab.fault(TOKYO, "ike-peer-stale")
    lab.fault(KAGAWA, "address-change")
    apply(lab, KAGAWA, REREGISTER, save=False)  # DNS follows kagawa; tokyo's SAs do not
    return old_kagawa


def _ike_peer_stale_more(lab: LabThread, doc: dict[str, Any], old_kagawa: Any) -> None:
    tokyo = router_doc(doc, TOKYO)
    peers = tokyo["router"]["peers"]
    assert {f["tunnel"] for f in tokyo["findings"]} == {p["tunnel"] for p in peers}
    assert {p["status"] for p in peers} == {"peer-stale"}
    assert {p["remote"] for p in peers} == {*old_kagawa["ipv4"], *old_kagawa["ipv6"]}
    for finding in tokyo["findings"]:
        assert "renegotiate the tunnel" in finding["detail"]


def _ssh_down_more(lab: LabThread, doc: dict[str, Any], _: Any) -> None:
    router = router_doc(doc, KAGAWA)["router"]
    assert router["reachable"] is False
    assert "cannot connect" in router["error"]
    assert router["addresses"] == {}
    assert router_doc(doc, TOKYO)["router"]["reachable"] is True


def _config_locked_more(lab: LabThread, doc: dict[str, Any], _: Any) -> None:
    """nmops reads its facts in config mode (where the IX allows `show`), so a held config
    mode means no facts: a `locked` finding that says why, and no takeover."""
    router = router_doc(doc, KAGAWA)["router"]
    assert router["locked"] is True
    assert router["reachable"] is False
    assert "occupied" in router["error"]
    assert "never takes it over" in router["error"]
    sent = lab.log(KAGAWA).lines
    assert len(sent) >= 2  # retried
    assert set(sent) == {"enable-config"}  # and never took over, nor sent anything else
    assert "config-locked" in lab.router(KAGAWA).faults
    assert router_doc(doc, TOKYO)["router"]["locked"] is False


def _slow_more(lab: LabThread, doc: dict[str, Any], _: Any) -> None:
    kagawa = router_doc(doc, KAGAWA)["router"]
    tokyo = router_doc(doc, TOKYO)["router"]
    assert kagawa["addresses"] == wan(lab, KAGAWA)
    assert kagawa["saved"] is True
    # Every line waits slow_delay (0.2 s in fast timings); tokyo is not slowed.
    assert kagawa["seconds"] >= 1.5
    assert tokyo["seconds"] < kagawa["seconds"]


def _reload_hangs(lab: LabThread) -> None:
    lab.fault(KAGAWA, "reload-hangs")

    async def reload() -> None:
        session = await ChangeSession.open(lab.target(KAGAWA), lab.known_hosts())
        await session.reload()

    asyncio.run(asyncio.wait_for(reload(), 10))


def _reload_hangs_more(lab: LabThread, doc: dict[str, Any], _: Any) -> None:
    assert router_doc(doc, KAGAWA)["router"]["reachable"] is False
    lab.clear(KAGAWA, "reload-hangs")  # power cycle
    code, doc = check(lab)
    assert code == 0, doc
    assert router_doc(doc, KAGAWA)["router"]["reload_cause"] == "power-on"


def _fault(router: str, kind: str) -> Callable[[LabThread], None]:
    return lambda lab: lab.fault(router, kind)


# One entry per kind in FAULT_KINDS: a kind without one fails test_fault_kind.
FAULT_CASES: dict[str, FaultCase] = {
    "ddns-v6-stuck": FaultCase(
        _stuck("ddns-v6-stuck"),
        2,
        names={(KAGAWA, "ipv6"): "stale"},
        more=_stuck_more("ipv6", "ipv4"),
    ),
    "ddns-v4-stuck": FaultCase(
        _stuck("ddns-v4-stuck"),
        2,
        names={(KAGAWA, "ipv4"): "stale"},
        more=_stuck_more("ipv4", "ipv6"),
    ),
    "ddns-v6-needs-restart": FaultCase(
        _stuck("ddns-v6-needs-restart"),
        2,
        names={(KAGAWA, "ipv6"): "stale"},
        more=_stuck_more("ipv6", "ipv4"),
    ),
    "ddns-v4-needs-restart": FaultCase(
        _stuck("ddns-v4-needs-restart"),
        2,
        names={(KAGAWA, "ipv4"): "stale"},
        more=_stuck_more("ipv4", "ipv6"),
    ),
    # Cured by the re-registration `provoke` does: nothing left to see.
    "ddns-v6-needs-reregister": FaultCase(_stuck("ddns-v6-needs-reregister"), 0),
    "ddns-v4-needs-reregister": FaultCase(_stuck("ddns-v4-needs-reregister"), 0),
    "address-change": FaultCase(
        _address_change,
        2,
        names={(KAGAWA, "ipv4"): "stale", (KAGAWA, "ipv6"): "stale"},
        more=_address_change_more,
    ),
    # DNS is right: the fault is in tokyo's SAs, one finding per tunnel.
    "ike-peer-stale": FaultCase(
        _ike_peer_stale,
        2,
        findings={TOKYO: ["peer-stale", "peer-stale"]},
        more=_ike_peer_stale_more,
    ),
    # The router side fails; its names are still checked.
    "ssh-down": FaultCase(
        _fault(KAGAWA, "ssh-down"), 1, findings={KAGAWA: ["unreachable"]}, more=_ssh_down_more
    ),
    "config-locked": FaultCase(
        _fault(KAGAWA, "config-locked"),
        1,
        findings={KAGAWA: ["locked"]},
        more=_config_locked_more,
    ),
    "slow": FaultCase(_fault(KAGAWA, "slow"), 0, more=_slow_more),
    "reload-hangs": FaultCase(
        _reload_hangs, 1, findings={KAGAWA: ["unreachable"]}, more=_reload_hangs_more
    ),
}


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_fault_kind(lab: LabThread, kind: str) -> None:
    case = FAULT_CASES.get(kind)
    if case is None:
        pytest.fail(f"fault kind {kind!r} has no FaultCase: add what `nmops check` reports")
    context = case.provoke(lab)
    code, doc = check(lab)
    assert code == case.exit_code, doc
    assert doc["status"] == ["ok", "warning", "critical", "unknown"][case.exit_code]
    for router in (TOKYO, KAGAWA):
        assert findings(doc, router) == case.findings.get(router, []), router
        for family in ("ipv4", "ipv6"):
            expected = case.names.get((router, family), "ok")
            assert name_status(doc, router, family) == expected, (router, family)
        untouched = router not in case.findings and all(r != router for r, _ in case.names)
        if untouched:
            assert router_doc(doc, router)["status"] == "ok", router
    if case.more is not None:
        case.more(lab, doc, context)


def test_fault_cases_name_only_known_kinds() -> None:
    assert FAULT_KINDS, "no fault kinds: test_fault_kind would run nothing"
    assert set(FAULT_CASES) <= set(FAULT_KINDS), set(FAULT_CASES) - set(FAULT_KINDS)


def test_check_never_takes_config_mode_over_even_with_takeover_configured(
    tmp_path: Path,
) -> None:
    """`ssh.takeover: true` is for change sessions (`fix --apply`): a scheduled check must
    not throw a person out of config mode."""
    with LabThread(tmp_path / "lab") as lab:
        path = lab.config_path
        settings = yaml.safe_load(path.read_text())
        settings["ssh"]["takeover"] = True
        path.write_text(yaml.safe_dump(settings))
        lab.fault(KAGAWA, "config-locked")
        code, doc = check(lab)
        assert code == 1, doc
        assert findings(doc, KAGAWA) == ["locked"]
        assert "svintr-config" not in lab.log(KAGAWA).lines
        assert "config-locked" in lab.router(KAGAWA).faults


# --- config state ----------------------------------------------------------------------------


def test_unsaved_change_is_a_warning(lab: LabThread) -> None:
    apply(lab, KAGAWA, [Edit((), EXTRA_LINE)], save=False)
    code, doc = check(lab)
    assert code == 1, doc
    assert findings(doc, KAGAWA) == ["unsaved"]
    assert router_doc(doc, KAGAWA)["router"]["saved"] is False
    assert "write memory" in router_doc(doc, KAGAWA)["findings"][0]["detail"]
    assert all_names_ok(doc)
    assert router_doc(doc, TOKYO)["router"]["saved"] is True

    apply(lab, KAGAWA, [Edit((), EXTRA_LINE)], save=True)
    code, doc = check(lab)
    assert code == 0, doc
    assert router_doc(doc, KAGAWA)["router"]["saved"] is True


def test_notify_interface_without_global_v6_address(lab: LabThread) -> None:
    old = wan(lab, KAGAWA)
    apply(lab, KAGAWA, [Edit(("interface GigaEthernet2.0",), "no ipv6 enable")], save=True)
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
    apply(lab, KAGAWA, [Edit(("interface GigaEthernet0.1",), "shutdown")], save=True)
    code, doc = check(lab)
    assert code == 2, doc
    assert name_status(doc, KAGAWA, "ipv4") == "no-address"
    assert name_status(doc, KAGAWA, "ipv6") == "ok"
    assert router_doc(doc, KAGAWA)["router"]["addresses"]["ipv4"] == []


# --- nmops's own side: transcripts, pinned keys ----------------------------------------------

# Secrets in the lab's golden configs, which `show running-config` prints in the clear.
GOLDEN_SECRETS = ("password-fetburner", "ix2215-tokyo-psk", "ix2215-kagawa-psk", "password-1")


def test_transcripts_record_commands_and_output_without_secrets(lab: LabThread) -> None:
    golden = "\n".join(text for _, text in golden_configs())
    for secret in GOLDEN_SECRETS:
        assert secret in golden  # the values a transcript could leak are the real ones
    router_password = (lab.directory / "secrets" / "router-password").read_text().strip()
    assert router_password
    secrets = (*GOLDEN_SECRETS, router_password)

    code, doc = check(lab)
    assert code == 0, doc
    for name in (TOKYO, KAGAWA):
        path = lab.directory / "nmops-logs" / f"{name}.log"
        assert path.is_file(), sorted(lab.directory.iterdir())
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        endpoint = lab.lab.endpoints[name]
        assert f"-- login {USERNAME}@127.0.0.1:{endpoint.port}" in lines[0]
        commands = [line.split(" > ", 1)[1] for line in lines if " > " in line]
        assert "show running-config" in commands
        assert "show config" in commands
        assert "show version" in commands
        output = [line for line in lines if line.startswith("< ") or " < " in line]
        assert len(output) > 50  # the configs' lines, not just the commands
        assert any(line.endswith(f"< hostname {name}") for line in lines)
        # The secret-carrying lines were recorded, masked.
        assert any(line.endswith("< nm account fetburner password plain ****") for line in lines)
        assert any(line.endswith(" key char ****") for line in lines)
        for secret in secrets:
            assert secret not in text, f"{secret!r} in {path}"


def test_unusable_log_dir_still_gives_a_normal_check(
    lab: LabThread, caplog: pytest.LogCaptureFixture
) -> None:
    """A transcript is a record, not the job: a file where the log folder should be costs
    the transcripts and a warning, never the check."""
    blocker = lab.directory / "nmops-logs"
    blocker.write_text("not a folder\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        result = CliRunner().invoke(
            main, ["check", "--config", str(lab.config_path), "--json"], catch_exceptions=False
        )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    doc = json.loads(result.stdout)
    assert_router_sections(doc)
    assert all_names_ok(doc)
    for name in (TOKYO, KAGAWA):
        assert router_doc(doc, name)["router"]["reachable"] is True
        assert findings(doc, name) == []
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"
    assert "cannot write transcript" in caplog.text


def test_corrupt_pinned_key_is_that_routers_problem_only(lab: LabThread) -> None:
    known = lab.directory / "known_hosts"
    kagawa_port = lab.lab.endpoints[KAGAWA].port
    kagawa_pattern = f"[127.0.0.1]:{kagawa_port} "
    lines = known.read_text(encoding="utf-8").splitlines()
    assert sum(line.startswith(kagawa_pattern) for line in lines) == 1
    known.write_text(
        "".join(
            f"{kagawa_pattern}ssh-rsa AAAA-not-base64!\n"
            if line.startswith(kagawa_pattern)
            else line + "\n"
            for line in lines
        ),
        encoding="utf-8",
    )

    code, doc = check(lab)
    assert code == 1, doc
    assert doc["status"] == "warning"
    assert findings(doc, KAGAWA) == ["unreachable"]
    router = router_doc(doc, KAGAWA)["router"]
    assert router["reachable"] is False
    assert str(known) in router["error"]
    assert f"[127.0.0.1]:{kagawa_port}" in router["error"]
    assert router_doc(doc, KAGAWA)["findings"][0]["detail"] == router["error"]
    assert all_names_ok(doc)  # DNS is still checked
    assert lab.log(KAGAWA).logins == 0  # never connected without a key to check against
    assert router_doc(doc, TOKYO)["router"]["reachable"] is True
    assert findings(doc, TOKYO) == []
    assert router_doc(doc, TOKYO)["status"] == "ok"


# --- a router without DDNS names (a hub with a fixed address) ------------------------------


def _without_ddns(lab: LabThread, router: str) -> None:
    path = lab.config_path.parent / "inventory.yaml"
    inventory = yaml.safe_load(path.read_text())
    del inventory["routers"][router]["ddns"]
    # A link needs a name or a fixed address at each end; this hub has neither in the
    # inventory (its real address is not the lab's business), so it has no links here.
    inventory.pop("links", None)
    path.write_text(yaml.safe_dump(inventory))


def test_router_without_ddns_is_still_checked(lab: LabThread) -> None:
    _without_ddns(lab, TOKYO)
    code, doc = check(lab, "--router", TOKYO)
    assert code == 0, doc
    (entry,) = doc["routers"]
    assert entry["name"] == TOKYO
    assert entry["names"] == []  # no names of its own
    router = entry["router"]
    assert router["reachable"] is True and router["saved"] is True
    assert router["addresses"] == {}
    # Its IKE peers are judged against the spokes' names, although kagawa is not checked.
    assert {p["status"] for p in router["peers"]} == {"ok"}
    assert {p["peer_fqdn"] for p in router["peers"]} == {fqdn(KAGAWA, "ipv4"), fqdn(KAGAWA, "ipv6")}


def test_router_without_ddns_finds_a_stale_peer_alone(lab: LabThread) -> None:
    _without_ddns(lab, TOKYO)
    lab.fault(TOKYO, "ike-peer-stale")
    lab.fault(KAGAWA, "address-change")
    apply(lab, KAGAWA, REREGISTER, save=False)
    code, doc = check(lab, "--router", TOKYO)
    assert code == 2, doc
    (entry,) = doc["routers"]
    assert findings(doc, TOKYO) == ["peer-stale", "peer-stale"]
    assert entry["names"] == []


# --- routers that answer oddly (found by attacking nmops) ------------------------------------


@pytest.fixture
def odd_show(lab: LabThread, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, Any], None]:
    """Replace one of the simulator's `show` renderers for kagawa only."""
    from nmops.lab.ixsim import show

    def replace(name: str, render: Callable[..., str]) -> None:
        original = getattr(show, name)

        def odd(router: Any, *args: Any) -> str:
            text = original(router, *args)
            return render(text, *args) if router.name == KAGAWA else text

        monkeypatch.setattr(show, name, odd)

    return replace


def test_two_addresses_on_the_notify_interface_are_not_stale(
    lab: LabThread, odd_show: Callable[[str, Any], None]
) -> None:
    """NetMeister publishes one address; the router may have more: DNS holding one of them
    is right (this was a CRITICAL `stale`, and a plan that ended in a reboot)."""
    odd_show(
        "ip_interface",
        lambda text, _if: text.replace(
            "  Broadcast address", "  Secondary address is 198.51.100.99/32\n  Broadcast address"
        ),
    )
    code, doc = check(lab)
    assert code == 0, doc
    assert name_status(doc, KAGAWA, "ipv4") == "ok"
    assert "198.51.100.99" in router_doc(doc, KAGAWA)["router"]["addresses"]["ipv4"]


def test_a_refused_show_is_an_error_not_unreachable(
    lab: LabThread, odd_show: Callable[[str, Any], None]
) -> None:
    odd_show("ikev2_sa", lambda text: "% ikev2 -- Invalid command.\n")
    code, doc = check(lab)
    assert code == 3, doc
    assert findings(doc, KAGAWA) == ["error"]
    assert "Invalid command" in router_doc(doc, KAGAWA)["findings"][0]["detail"]
    assert lab.log(KAGAWA).logins == 1  # the answer is the finding: no other path tried


def test_a_notice_line_in_the_config_costs_nothing(
    lab: LabThread, odd_show: Callable[[str, Any], None]
) -> None:
    def notice(line: str) -> Callable[[str], str]:
        def add(text: str) -> str:
            assert "!\nhostname" in text
            return text.replace("!\nhostname", f"!\n{line}\nhostname")

        return add

    odd_show("running_config", notice("% Notice: x"))
    odd_show("startup_config", notice("% Warning: y"))
    code, doc = check(lab)
    assert code == 0, doc
    assert router_doc(doc, KAGAWA)["router"]["saved"] is True


def test_a_half_negotiated_sa_is_not_an_error(
    lab: LabThread, odd_show: Callable[[str, Any], None]
) -> None:
    odd_show(
        "ikev2_sa",
        lambda text: (
            text + "IKEv2 SA, Tunnel9.0\n  Local address is 198.51.100.2, port is 500\n"
            "  State is negotiating\n"
        ),
    )
    code, doc = check(lab)
    assert code == 0, doc
    assert len(router_doc(doc, KAGAWA)["router"]["peers"]) == 2


@pytest.mark.parametrize("result", ["Failure (40100)", "Disabled"])
def test_a_failing_netmeister_client_is_a_finding(
    lab: LabThread, odd_show: Callable[[str, Any], None], result: str
) -> None:
    odd_show(
        "nm_information", lambda text: re.sub(r"Result      : .*", f"Result      : {result}", text)
    )
    code, doc = check(lab)
    assert code == 1, doc
    assert findings(doc, KAGAWA) == ["nm-failed"]
