"""``check_dns`` against real BIND 9 servers on 127.0.0.1, changed by RFC 2136 updates.

The servers are shared by the session (see ``tests/conftest.py``); every test publishes the
names it uses, under host labels no other test uses, so tests neither reset nor disturb each
other. Timeouts are short (0.3 s, one retry) wherever a server is meant to be down.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nmops.check import CheckReport, check_dns
from nmops.config.load import load_config
from nmops.dns.addresses import Server
from nmops.dns.classify import NameResult
from nmops.dns.engine import Limits, Question, ServerClient
from nmops.dns.wire import AAAA, A, question_wire
from nmops.lab.bind import Bind
from nmops.lab.configs import LabRouter
from nmops.status import ExitCode, Status
from tests.conftest import BindPool, fqdns_of, publish, require

pytestmark = pytest.mark.bind

MakeConfig = Callable[..., Path]
FAST_FAIL = {"timeout": 0.3, "retries": 1}


def run_check(path: Path, routers: list[str] | None = None) -> CheckReport:
    config = load_config(path)
    return asyncio.run(check_dns(config, config.routers(routers)))


def names(report: CheckReport) -> dict[tuple[str, str], NameResult]:
    return {(r.name, n.family): n for r in report.routers for n in r.names}


def addrs(n: NameResult) -> set[str]:
    return {str(a) for a in n.addresses}


@pytest.fixture(scope="module")
def refuser(bind_pool: BindPool) -> Bind:
    """Authoritative for another zone only: REFUSED for ours."""
    return bind_pool.get("refuser", zone="example.jp")


@pytest.fixture(scope="module")
def broken(bind_pool: BindPool) -> Bind:
    """Serves our zone from a file that does not load: SERVFAIL."""
    return bind_pool.get("broken", records=[("bad", "A", "not-an-address")])


def test_all_ok(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "allok", a=["203.0.113.10"], aaaa=["2001:db8:100::1", "2001:db8:100::2"])
    router = LabRouter(
        "allok", expect={"ipv4": ["203.0.113.10"], "ipv6": ["2001:db8:100::2", "2001:db8:100::1"]}
    )
    report = run_check(make_config([bind.address], [router]))
    assert report.exit_code is ExitCode.OK
    assert report.queries == 2
    v4, v6 = report.routers[0].names
    a_name, aaaa_name = fqdns_of("allok")
    assert (v4.fqdn, v4.family, v4.rdtype, v4.status, v4.partial) == (
        a_name,
        "ipv4",
        "A",
        Status.OK,
        False,
    )
    assert (v6.fqdn, v6.rdtype, v6.status) == (aaaa_name, "AAAA", Status.OK)
    assert addrs(v4) == {"203.0.113.10"}
    assert addrs(v6) == {"2001:db8:100::1", "2001:db8:100::2"}
    assert (v4.ttl, v6.ttl) == (bind.ttl, bind.ttl)
    assert [(s.server, s.status) for s in v4.servers] == [(bind.address, Status.OK)]


def test_aaaa_missing_is_nodata(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "nodata", a=["203.0.113.11"], aaaa=[])
    report = run_check(make_config([bind.address], ["nodata"]))
    found = names(report)
    assert found[("nodata", "ipv4")].status is Status.OK
    v6 = found[("nodata", "ipv6")]
    assert (v6.status, v6.addresses, v6.partial) == (Status.MISSING, (), False)
    assert v6.ttl == bind.ttl  # negative TTL: min(SOA TTL, SOA minimum)
    assert report.exit_code is ExitCode.CRITICAL


def test_nxdomain(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "ghost", a=None, aaaa=None)
    report = run_check(make_config([bind.address], ["ghost"]))
    assert {n.status for n in report.routers[0].names} == {Status.NXDOMAIN}
    assert report.exit_code is ExitCode.CRITICAL


def test_stale_against_expect(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "stale", a=["203.0.113.20"], aaaa=["2001:db8:20::1"])
    router = LabRouter("stale", expect={"ipv4": ["203.0.113.21"], "ipv6": ["2001:db8:20::1"]})
    report = run_check(make_config([bind.address], [router]))
    found = names(report)
    v4 = found[("stale", "ipv4")]
    assert (v4.status, addrs(v4), v4.detail) == (
        Status.STALE,
        {"203.0.113.20"},
        "expected 203.0.113.21",
    )
    assert found[("stale", "ipv6")].status is Status.OK
    assert report.exit_code is ExitCode.CRITICAL


def test_private_address_is_bogus(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "bogus", a=["192.168.1.1"], aaaa=["fd00::1"])
    report = run_check(make_config([bind.address], ["bogus"]))
    found = names(report)
    assert (found[("bogus", "ipv4")].status, found[("bogus", "ipv4")].detail) == (
        Status.BOGUS,
        "192.168.1.1 is private",
    )
    assert found[("bogus", "ipv6")].detail == "fd00::1 is unique local (ULA)"
    assert report.exit_code is ExitCode.CRITICAL


def test_documentation_addresses_are_bogus_outside_labs(
    bind: Bind, make_config: MakeConfig
) -> None:
    publish(bind, "docs", a=["203.0.113.12"], aaaa=["2001:db8::12"])
    report = run_check(make_config([bind.address], ["docs"], allow_documentation=False))
    assert {n.status for n in report.routers[0].names} == {Status.BOGUS}


def test_two_servers_agree(bind: Bind, bind2: Bind, make_config: MakeConfig) -> None:
    publish([bind, bind2], "agree", a=["203.0.113.40"], aaaa=["2001:db8:40::1"])
    report = run_check(make_config([bind.address, bind2.address], ["agree"]))
    assert report.exit_code is ExitCode.OK
    for n in report.routers[0].names:
        assert n.status is Status.OK and not n.partial
        assert sorted(s.server for s in n.servers) == sorted([bind.address, bind2.address])
        assert {s.status for s in n.servers} == {Status.OK}


def test_two_servers_disagree(bind: Bind, bind2: Bind, make_config: MakeConfig) -> None:
    publish(bind, "split", a=["203.0.113.30"], aaaa=["2001:db8:30::1"])
    publish(bind2, "split", a=["203.0.113.31"], aaaa=["2001:db8:30::1"])
    report = run_check(make_config([bind.address, bind2.address], ["split"]))
    found = names(report)
    v4 = found[("split", "ipv4")]
    assert (v4.status, v4.partial) == (Status.DISAGREE, False)
    assert addrs(v4) == {"203.0.113.30", "203.0.113.31"}
    said = {s.server: {str(a) for a in s.addresses} for s in v4.servers}
    assert said == {bind.address: {"203.0.113.30"}, bind2.address: {"203.0.113.31"}}
    assert found[("split", "ipv6")].status is Status.OK
    assert report.exit_code is ExitCode.WARNING


def test_one_server_down_is_partial(bind: Bind, dead_server: str, make_config: MakeConfig) -> None:
    publish(bind, "halfway", a=["203.0.113.50"], aaaa=["2001:db8:50::1"])
    started = time.monotonic()
    report = run_check(make_config([bind.address, dead_server], ["halfway"], **FAST_FAIL))
    assert time.monotonic() - started < 3  # 0.3 s, one retry, all queries in parallel
    for n in report.routers[0].names:
        assert (n.status, n.partial) == (Status.OK, True)
        statuses = {s.server: s.status for s in n.servers}
        assert statuses == {bind.address: Status.OK, dead_server: Status.TIMEOUT}
    assert addrs(names(report)[("halfway", "ipv4")]) == {"203.0.113.50"}
    assert report.exit_code is ExitCode.WARNING


def test_every_server_down_is_unknown(make_config: MakeConfig) -> None:
    from nmops.lab.bind import free_port

    dead = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    report = run_check(make_config(dead, ["nobody"], **FAST_FAIL))
    for n in report.routers[0].names:
        assert (n.status, n.partial, n.addresses) == (Status.TIMEOUT, False, ())
        assert n.detail == "no server answered"
        assert [s.status for s in n.servers] == [Status.TIMEOUT, Status.TIMEOUT]
    assert report.exit_code is ExitCode.UNKNOWN


def test_refusing_server_is_partial(bind: Bind, refuser: Bind, make_config: MakeConfig) -> None:
    publish(bind, "refused", a=["203.0.113.60"], aaaa=["2001:db8:60::1"])
    report = run_check(make_config([bind.address, refuser.address], ["refused"]))
    for n in report.routers[0].names:
        assert (n.status, n.partial) == (Status.OK, True)
        assert {s.server: s.status for s in n.servers}[refuser.address] is Status.REFUSED
    assert report.exit_code is ExitCode.WARNING
    only = run_check(make_config([refuser.address], ["refused"]))
    assert {n.status for n in only.routers[0].names} == {Status.REFUSED}
    assert only.exit_code is ExitCode.UNKNOWN


def test_servfail(broken: Bind, make_config: MakeConfig) -> None:
    report = run_check(make_config([broken.address], ["anything"]))
    assert {n.status for n in report.routers[0].names} == {Status.SERVFAIL}
    assert report.exit_code is ExitCode.UNKNOWN


def test_tcp_fallback_returns_every_address(bind: Bind, make_config: MakeConfig) -> None:
    many = [f"2001:db8:99::{i:x}" for i in range(1, 101)]
    publish(bind, "big", a=["203.0.113.99"], aaaa=many)
    report = run_check(make_config([bind.address], ["big"], edns_payload=512))
    v6 = names(report)[("big", "ipv6")]
    assert v6.status is Status.OK
    assert addrs(v6) == set(many)
    assert len(v6.addresses) == 100


def test_tcp_fallback_is_taken_only_when_truncated(bind: Bind) -> None:
    many = [f"2001:db8:98::{i:x}" for i in range(1, 101)]
    publish(bind, "big2", a=["203.0.113.98"], aaaa=many)
    a_name, aaaa_name = fqdns_of("big2")

    async def ask(fqdn: str, rdtype: int) -> tuple[int, set[str], int]:
        question = Question(fqdn, rdtype, question_wire(fqdn, rdtype, 512))
        async with ServerClient(Server("127.0.0.1", bind.port), Limits(retries=0)) as client:
            outcome = await client.ask(question)
        assert outcome.reply is not None, outcome.error
        assert not outcome.reply.truncated
        return outcome.reply.rcode, {str(a) for a in outcome.reply.addresses}, client.sent

    assert asyncio.run(ask(aaaa_name, AAAA)) == (0, set(many), 2)  # UDP (TC), then TCP
    assert asyncio.run(ask(a_name, A)) == (0, {"203.0.113.98"}, 1)  # fits in UDP


def test_dynamic_update_seen_at_once(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "moving", a=["203.0.113.70"], aaaa=["2001:db8:70::1"])
    router = LabRouter("moving", expect={"ipv4": ["203.0.113.70"]})
    path = make_config([bind.address], [router])
    first = names(run_check(path))[("moving", "ipv4")]
    assert (first.status, addrs(first)) == (Status.OK, {"203.0.113.70"})
    publish(bind, "moving", a=["203.0.113.71"], aaaa=[])
    second = run_check(path)
    found = names(second)
    assert (found[("moving", "ipv4")].status, addrs(found[("moving", "ipv4")])) == (
        Status.STALE,
        {"203.0.113.71"},
    )
    assert found[("moving", "ipv6")].status is Status.MISSING
    publish(bind, "moving", a=["203.0.113.70"], aaaa=["2001:db8:70::1"])
    assert run_check(path).exit_code is ExitCode.OK


def test_ns_discovery(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "found", a=["203.0.113.80"], aaaa=["2001:db8:80::1"])
    path = make_config([], ["found"], bootstrap=[bind.address], port=bind.port)
    report = run_check(path)
    assert report.exit_code is ExitCode.OK
    for n in report.routers[0].names:
        # The zone's NS is ns1.nmddns.jp, whose A is 127.0.0.1; the port is dns.port.
        assert [(s.server, s.status) for s in n.servers] == [(f"127.0.0.1:{bind.port}", Status.OK)]
    assert addrs(names(report)[("found", "ipv4")]) == {"203.0.113.80"}


def test_ns_discovery_failure_is_unknown(dead_server: str, make_config: MakeConfig) -> None:
    router = LabRouter("lost", ddns={"ipv4": "GigaEthernet0.1"})
    path = make_config([], [router], bootstrap=[dead_server], **FAST_FAIL)
    report = run_check(path)
    (n,) = report.routers[0].names
    assert (n.status, n.servers) == (Status.ERROR, ())
    assert n.detail is not None and "cannot find the authoritative servers" in n.detail
    assert report.exit_code is ExitCode.UNKNOWN


def test_many_routers_in_one_run(bind: Bind, make_config: MakeConfig) -> None:
    hosts = [f"fleet{i:03d}" for i in range(60)]
    replace: list[tuple[str, str, list[str]]] = []
    for i, host in enumerate(hosts):
        replace.append((f"{host}.fetburner", "A", [str(ipaddress.ip_address("203.0.113.0") + i)]))
        replace.append((f"{host}.fetburner.v6", "AAAA", [f"2001:db8:f::{i + 1:x}"]))
    bind.update(replace=replace)
    routers = [
        LabRouter(h, expect={"ipv4": [str(ipaddress.ip_address("203.0.113.0") + i)]})
        for i, h in enumerate(hosts)
    ]
    report = run_check(make_config([bind.address], routers, concurrency=16))
    assert report.queries == 120
    assert report.exit_code is ExitCode.OK
    assert [r.name for r in report.routers] == hosts
    assert addrs(names(report)[("fleet059", "ipv6")]) == {"2001:db8:f::3c"}


def test_router_selection(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "pick-a", a=["203.0.113.90"], aaaa=["2001:db8:90::1"])
    path = make_config([bind.address], ["pick-a", "pick-b"])
    report = run_check(path, ["pick-a"])
    assert [r.name for r in report.routers] == ["pick-a"]
    assert report.exit_code is ExitCode.OK


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_missing_named_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="named"):
        require(False, "BIND 9 (named) is not installed")
    require(True, "never raised when the tool is there")
