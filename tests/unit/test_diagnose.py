"""The three-way truth check (pure): what DNS should say, ``no-address``, judging IKE SAs
against DNS, and the router-level findings, from hand-built values."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from nmops.config.model import Family, Router
from nmops.diagnose import (
    Finding,
    PeerView,
    expectation,
    peer_views,
    router_findings,
    with_router_truth,
)
from nmops.dns.addresses import IPAddress
from nmops.dns.classify import NameResult, ServerResult
from nmops.ix import lines, routerconfig
from nmops.ix.observed import RouterFacts
from nmops.ix.parsers import IkeSa
from nmops.ix.routerconfig import Tunnel
from nmops.status import Status

V4_IF, V6_IF = "GigaEthernet0.1", "GigaEthernet2.0"
KAGAWA_V4 = "ix2215-kagawa.fetburner.nmddns.jp"
KAGAWA_V6 = "ix2215-kagawa.fetburner.v6.nmddns.jp"


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def ips(*texts: str) -> tuple[IPAddress, ...]:
    return tuple(ip(t) for t in texts)


def router(expect: dict[str, list[str]] | None = None) -> Router:
    body: dict[str, Any] = {"name": "ix2215-tokyo", "ddns": {"ipv4": V4_IF, "ipv6": V6_IF}}
    if expect is not None:
        body["expect"] = expect
    return Router.model_validate(body)


def facts(
    *,
    reachable: bool = True,
    addresses: dict[str, tuple[IPAddress, ...]] | None = None,
    ike: tuple[IkeSa, ...] = (),
    tunnels: tuple[Tunnel, ...] = (),
    saved: bool | None = True,
    error: str | None = None,
    locked: bool = False,
    unreadable: bool = False,
    running: str | None = None,
) -> RouterFacts:
    addresses = addresses if addresses is not None else {}
    config = lines.parse(running) if running is not None else None
    return RouterFacts(
        "ix2215-tokyo",
        reachable,
        error=error,
        addresses=addresses,
        interfaces={f: V4_IF if f == "ipv4" else V6_IF for f in addresses},
        ike=ike,
        tunnels=tunnels,
        saved=saved,
        locked=locked,
        unreadable=unreadable,
        running=config,
        netmeister=routerconfig.netmeister(config) if config is not None else None,
    )


def name(
    fqdn: str,
    family: str,
    status: Status = Status.OK,
    addresses: tuple[IPAddress, ...] = (),
    *,
    partial: bool = False,
) -> NameResult:
    rdtype = "A" if family == "ipv4" else "AAAA"
    servers = (ServerResult("192.0.2.53:53", status, addresses, 60),)
    return NameResult(fqdn, family, rdtype, status, partial, addresses, 60, servers, "as served")


def sa(
    tunnel: str,
    remote: str,
    peer: str | None,
    *,
    local: str = "198.51.100.1",
    state: str = "established",
) -> tuple[IkeSa, Tunnel | None]:
    """An SA and its tunnel as the running config says (``peer``: the FQDN written in the
    tunnel's `ikev2 peer-fqdn-ipv4/6` line, as typed; an address for `ikev2 peer ADDRESS`;
    None for an SA whose tunnel the config does not hold)."""
    ike = IkeSa(tunnel, ip(local), 500, ip(remote), 500, state)
    if peer is None:
        return ike, None
    family = "6" if ":" in remote else "4"
    line = (
        f"ikev2 peer {peer} authentication psk id keyid x"
        if peer[0].isdigit()
        else f"ikev2 peer-fqdn-ipv{family} {peer} authentication psk id keyid x"
    )
    config = lines.parse(
        f"interface {tunnel}\n  tunnel mode ipsec-ikev2\n  {line}\n  no shutdown\n"
    )
    (parsed,) = routerconfig.tunnels(config)
    return ike, parsed


def with_sas(*pairs: tuple[IkeSa, Tunnel | None]) -> RouterFacts:
    return facts(
        ike=tuple(p[0] for p in pairs), tunnels=tuple(p[1] for p in pairs if p[1] is not None)
    )


# --- expectation -----------------------------------------------------------------------------

EXPECT = {"ipv4": ["203.0.113.10"], "ipv6": ["2001:db8:100::1", "2001:db8:100::2"]}
HAS = {"ipv4": ips("198.51.100.7"), "ipv6": ips("2001:db8:7::1", "2001:db8:7::2")}


@pytest.mark.parametrize(
    ("expect", "observed", "family", "addresses", "source"),
    [
        # Not asked: the inventory's expect, or no opinion at all.
        (EXPECT, None, "ipv4", {"203.0.113.10"}, "expected"),
        (EXPECT, None, "ipv6", {*EXPECT["ipv6"]}, "expected"),
        (None, None, "ipv4", set(), "expected"),
        # Asked and it has addresses: the router wins over expect.
        (EXPECT, facts(addresses=HAS), "ipv4", {"198.51.100.7"}, "the router has"),
        (EXPECT, facts(addresses=HAS), "ipv6", {*map(str, HAS["ipv6"])}, "the router has"),
        (None, facts(addresses=HAS), "ipv4", {"198.51.100.7"}, "the router has"),
        # Asked, but no global address for that family: back to expect.
        (EXPECT, facts(addresses={"ipv4": ()}), "ipv4", {"203.0.113.10"}, "expected"),
        (None, facts(addresses={"ipv4": ()}), "ipv4", set(), "expected"),
        (EXPECT, facts(addresses={"ipv4": HAS["ipv4"]}), "ipv6", {*EXPECT["ipv6"]}, "expected"),
        # Not reachable: whatever it carries is not the router's word.
        (EXPECT, facts(reachable=False, addresses=HAS), "ipv4", {"203.0.113.10"}, "expected"),
        (None, facts(reachable=False, error="cannot connect"), "ipv6", set(), "expected"),
    ],
)
def test_expectation(
    expect: dict[str, list[str]] | None,
    observed: RouterFacts | None,
    family: Family,
    addresses: set[str],
    source: str,
) -> None:
    got, said_by = expectation(router(expect), observed, family)
    assert isinstance(got, frozenset)
    assert {str(a) for a in got} == addresses
    assert said_by == source


# --- with_router_truth -----------------------------------------------------------------------

V4_NAME = name("ix2215-tokyo.fetburner.nmddns.jp", "ipv4", Status.STALE, ips("203.0.113.9"))
V6_NAME = name("ix2215-tokyo.fetburner.v6.nmddns.jp", "ipv6", Status.OK, ips("2001:db8:7::1"))
V6_NONE = name("ix2215-tokyo.fetburner.v6.nmddns.jp", "ipv6", Status.MISSING, ())


@pytest.mark.parametrize(
    ("result", "observed"),
    [
        (V4_NAME, None),  # not asked
        (V4_NAME, facts(reachable=False, error="cannot connect")),
        (V4_NAME, facts(locked=True, reachable=False, error="occupied")),
        (V4_NAME, facts(addresses={"ipv4": ips("198.51.100.7"), "ipv6": ()})),  # v4 present
        (V6_NAME, facts(addresses={"ipv4": (), "ipv6": ips("2001:db8:7::1")})),  # v6 present
        (V6_NONE, facts(addresses={"ipv4": (), "ipv6": ips("2001:db8:7::1")})),
    ],
)
def test_with_router_truth_unchanged(result: NameResult, observed: RouterFacts | None) -> None:
    assert with_router_truth(result, observed) is result


@pytest.mark.parametrize(
    ("result", "addresses", "detail"),
    [
        (
            V4_NAME,
            {"ipv4": (), "ipv6": ips("2001:db8:7::1")},
            f"{V4_IF} has no global ipv4 address (DNS says 203.0.113.9)",
        ),
        (
            V6_NAME,
            {"ipv4": ips("198.51.100.7"), "ipv6": ()},
            f"{V6_IF} has no global ipv6 address (DNS says 2001:db8:7::1)",
        ),
        (
            V6_NONE,
            {"ipv4": ips("198.51.100.7"), "ipv6": ()},
            f"{V6_IF} has no global ipv6 address (DNS says nothing)",
        ),
        (
            name("x.fetburner.nmddns.jp", "ipv4", Status.OK, ips("203.0.113.9", "203.0.113.10")),
            {"ipv4": ()},
            f"{V4_IF} has no global ipv4 address (DNS says 203.0.113.9, 203.0.113.10)",
        ),
    ],
)
def test_with_router_truth_no_address(
    result: NameResult, addresses: dict[str, tuple[IPAddress, ...]], detail: str
) -> None:
    got = with_router_truth(result, facts(addresses=addresses))
    assert got.status is Status.NO_ADDRESS
    assert got.detail == detail
    # Only status and detail change: what DNS said stays on the record.
    unchanged = ("fqdn", "family", "rdtype", "partial", "addresses", "ttl", "servers")
    assert [getattr(got, f) for f in unchanged] == [getattr(result, f) for f in unchanged]


# --- peer_views ------------------------------------------------------------------------------

KAGAWA_NOW_V4, KAGAWA_NOW_V6 = "198.51.100.2", "2001:db8:2::1"
NAMES_OK = {
    KAGAWA_V4: name(KAGAWA_V4, "ipv4", Status.OK, ips(KAGAWA_NOW_V4)),
    KAGAWA_V6: name(KAGAWA_V6, "ipv6", Status.OK, ips(KAGAWA_NOW_V6, "2001:db8:2::2")),
}


def only_v4(status: Status, *addresses: str) -> dict[str, NameResult]:
    """DNS's view of kagawa's A name alone."""
    return {KAGAWA_V4: name(KAGAWA_V4, "ipv4", status, ips(*addresses))}


OSAKA = "ix2215-osaka.fetburner.nmddns.jp"
OLD_V4, OLD_V6, TOKYO_V6 = "198.51.100.99", "2001:db8:99::1", "2001:db8:1::1"
PARTIAL_OK = {KAGAWA_V4: name(KAGAWA_V4, "ipv4", Status.OK, ips(KAGAWA_NOW_V4), partial=True)}


@pytest.mark.parametrize(
    ("ike_pair", "names", "status", "fqdn"),
    [
        # DNS is right and the SA uses what it says.
        (sa("Tunnel2.0", KAGAWA_NOW_V4, KAGAWA_V4), NAMES_OK, Status.OK, KAGAWA_V4),
        (
            sa("Tunnel1.0", "2001:db8:2::2", KAGAWA_V6, local=TOKYO_V6),
            NAMES_OK,
            Status.OK,
            KAGAWA_V6,
        ),
        # A partial (but ok) answer is still DNS's word.
        (sa("Tunnel2.0", KAGAWA_NOW_V4, KAGAWA_V4), PARTIAL_OK, Status.OK, KAGAWA_V4),
        # DNS is right, the SA is not.
        (sa("Tunnel2.0", OLD_V4, KAGAWA_V4), NAMES_OK, Status.PEER_STALE, KAGAWA_V4),
        (
            sa("Tunnel1.0", OLD_V6, KAGAWA_V6, local=TOKYO_V6),
            NAMES_OK,
            Status.PEER_STALE,
            KAGAWA_V6,
        ),
        (sa("Tunnel2.0", OLD_V4, KAGAWA_V4), PARTIAL_OK, Status.PEER_STALE, KAGAWA_V4),
        # The router prints the FQDN as configured: case and a trailing dot do not matter.
        (sa("Tunnel2.0", KAGAWA_NOW_V4, KAGAWA_V4.upper() + "."), NAMES_OK, Status.OK, KAGAWA_V4),
        (
            sa("Tunnel2.0", OLD_V4, "IX2215-Kagawa.FetBurner.nmddns.JP."),
            NAMES_OK,
            Status.PEER_STALE,
            KAGAWA_V4,
        ),
        (
            sa("Tunnel1.0", OLD_V6, KAGAWA_V6 + ".", local=TOKYO_V6),
            NAMES_OK,
            Status.PEER_STALE,
            KAGAWA_V6,
        ),
        # The peer's name was not checked in this run: no opinion.
        (sa("Tunnel3.0", "203.0.113.50", OSAKA), NAMES_OK, None, OSAKA),
        (sa("Tunnel3.0", "203.0.113.50", OSAKA.upper() + "."), NAMES_OK, None, OSAKA),
        (sa("Tunnel2.0", KAGAWA_NOW_V4, KAGAWA_V4), {}, None, KAGAWA_V4),
        # An SA whose tunnel the config does not hold: nothing to judge by.
        (sa("Tunnel4.0", "203.0.113.60", None), NAMES_OK, None, None),
        # A tunnel with a fixed peer address (a hub): judged against that address.
        (sa("Tunnel5.0", "203.0.113.60", "203.0.113.60"), NAMES_OK, Status.OK, None),
        (sa("Tunnel5.0", "203.0.113.61", "203.0.113.60"), {}, Status.PEER_STALE, None),
        # The name itself is not ok in DNS: that is the name's finding, not the SA's.
        (sa("Tunnel2.0", OLD_V4, KAGAWA_V4), only_v4(Status.STALE, KAGAWA_NOW_V4), None, KAGAWA_V4),
        (
            sa("Tunnel2.0", OLD_V4, KAGAWA_V4),
            only_v4(Status.DISAGREE, KAGAWA_NOW_V4, "198.51.100.3"),
            None,
            KAGAWA_V4,
        ),
        (sa("Tunnel2.0", KAGAWA_NOW_V4, KAGAWA_V4), only_v4(Status.TIMEOUT), None, KAGAWA_V4),
        (
            sa("Tunnel2.0", OLD_V4, KAGAWA_V4),
            only_v4(Status.NO_ADDRESS, KAGAWA_NOW_V4),
            None,
            KAGAWA_V4,
        ),
        (sa("Tunnel2.0", OLD_V4, KAGAWA_V4), only_v4(Status.MISSING), None, KAGAWA_V4),
        (sa("Tunnel2.0", OLD_V4, KAGAWA_V4), only_v4(Status.NXDOMAIN), None, KAGAWA_V4),
        (sa("Tunnel2.0", OLD_V4, KAGAWA_V4), only_v4(Status.BOGUS, "10.0.0.1"), None, KAGAWA_V4),
    ],
)
def test_peer_views(
    ike_pair: tuple[IkeSa, Tunnel | None],
    names: dict[str, NameResult],
    status: Status | None,
    fqdn: str | None,
) -> None:
    ike_sa, tunnel = ike_pair
    (got,) = peer_views(with_sas(ike_pair), names)
    assert got.status is status
    assert got.peer_fqdn == fqdn
    assert (got.tunnel, got.remote, got.local, got.state) == (
        ike_sa.tunnel,
        ike_sa.remote,
        ike_sa.local,
        ike_sa.state,
    )
    if status is Status.PEER_STALE and fqdn is None:
        assert tunnel is not None
        assert got.detail == (
            f"{ike_sa.tunnel} talks to {ike_sa.remote}, its config says {tunnel.peer_address}"
        )
    elif status is Status.PEER_STALE:
        assert fqdn is not None
        shown = ", ".join(str(a) for a in names[fqdn].addresses)
        assert got.detail == (
            f"{ike_sa.tunnel} talks to {ike_sa.remote} but {fqdn} is {shown}: "
            "renegotiate the tunnel"
        )
    else:
        assert got.detail is None


def test_peer_views_keep_every_sa_in_order() -> None:
    sas = (
        sa("Tunnel1.0", KAGAWA_NOW_V6, KAGAWA_V6, local="2001:db8:1::1"),
        sa("Tunnel2.0", "198.51.100.99", KAGAWA_V4, state="negotiating"),
        sa("Tunnel3.0", "203.0.113.60", None),
    )
    views = peer_views(with_sas(*sas), NAMES_OK)
    assert [(v.tunnel, v.status, v.state) for v in views] == [
        ("Tunnel1.0", Status.OK, "established"),
        ("Tunnel2.0", Status.PEER_STALE, "negotiating"),
        ("Tunnel3.0", None, "established"),
    ]
    assert peer_views(facts(ike=()), NAMES_OK) == ()


# --- router_findings -------------------------------------------------------------------------


def view(tunnel: str, status: Status | None, detail: str | None = None) -> PeerView:
    old, local = ip("198.51.100.99"), ip("198.51.100.1")
    return PeerView(tunnel, KAGAWA_V4, old, local, "established", status, detail)


UNSAVED = Finding(
    Status.UNSAVED,
    "running config differs from startup: a reboot would revert it (write memory)",
)
STALE_1 = view("Tunnel1.0", Status.PEER_STALE, "Tunnel1.0 talks to an old address")
STALE_2 = view("Tunnel2.0", Status.PEER_STALE, "Tunnel2.0 talks to an old address")


OCCUPIED = "ix2215-tokyo: config mode is occupied by another session"
NO_SA_HEADER = "127.0.0.1:22: no IKEv2 SA header"
REFUSED = "127.0.0.1:22: cannot connect: refused"
DOWN = facts(reachable=False)


def one(status: Status, detail: str, tunnel: str | None = None) -> tuple[Finding, ...]:
    return (Finding(status, detail, tunnel),)


@pytest.mark.parametrize(
    ("observed", "peers", "expected"),
    [
        # Not asked: nothing to say.
        (None, (), ()),
        # Healthy: nothing either, whatever the peers' "no opinion".
        (facts(), (), ()),
        (facts(), (view("Tunnel1.0", Status.OK), view("Tunnel2.0", None)), ()),
        (facts(saved=None), (), ()),  # not known whether saved: no finding
        # Locked: the error as said, or a default; it outranks everything else.
        (facts(reachable=False, locked=True, error=OCCUPIED), (), one(Status.LOCKED, OCCUPIED)),
        (facts(reachable=False, locked=True), (), one(Status.LOCKED, "config mode is occupied")),
        (
            facts(reachable=False, locked=True, unreadable=True, error="held"),
            (),
            one(Status.LOCKED, "held"),
        ),
        # Logged in but the output could not be read: an error, not "unreachable".
        (
            facts(reachable=False, unreadable=True, error=NO_SA_HEADER),
            (),
            one(Status.ERROR, NO_SA_HEADER),
        ),
        (
            facts(reachable=False, unreadable=True),
            (),
            one(Status.ERROR, "the router's output could not be read"),
        ),
        # Unreachable: the error as said, or a default; nothing else can be known.
        (facts(reachable=False, error=REFUSED), (), one(Status.UNREACHABLE, REFUSED)),
        (DOWN, (), one(Status.UNREACHABLE, "no management path answered")),
        (
            facts(reachable=False, saved=False),
            (STALE_1,),
            one(Status.UNREACHABLE, "no management path answered"),
        ),
        # Reachable: one peer-stale per stale tunnel, in order, then unsaved.
        (
            facts(),
            (STALE_1,),
            one(Status.PEER_STALE, "Tunnel1.0 talks to an old address", "Tunnel1.0"),
        ),
        (
            facts(),
            (STALE_1, view("Tunnel3.0", Status.OK), STALE_2, view("Tunnel4.0", None)),
            (
                Finding(Status.PEER_STALE, "Tunnel1.0 talks to an old address", "Tunnel1.0"),
                Finding(Status.PEER_STALE, "Tunnel2.0 talks to an old address", "Tunnel2.0"),
            ),
        ),
        (facts(), (view("Tunnel9.0", Status.PEER_STALE),), one(Status.PEER_STALE, "", "Tunnel9.0")),
        (facts(saved=False), (), (UNSAVED,)),
        (
            facts(saved=False),
            (STALE_2,),
            (Finding(Status.PEER_STALE, "Tunnel2.0 talks to an old address", "Tunnel2.0"), UNSAVED),
        ),
    ],
)
def test_router_findings(
    observed: RouterFacts | None, peers: tuple[PeerView, ...], expected: tuple[Finding, ...]
) -> None:
    assert router_findings(router(), observed, peers) == expected


# --- ddns-config: the router's own `nm` lines ------------------------------------------------

NM_OK = """\
nm ip enable
nm account fetburner password plain x
nm ddns notify interface GigaEthernet0.1 protocol ip
nm ddns notify interface GigaEthernet2.0 protocol ipv6
interface GigaEthernet0.0
  ipv6 enable
  ipv6 nd proxy GigaEthernet2.0
interface GigaEthernet2.0
  ipv6 enable
  ipv6 nd ra enable
"""
# DHCPv6-PD / autoconfig: the WAN carries the global address and is what must be notified.
WAN_SIDE = """\
nm ip enable
nm account fetburner password plain x
nm ddns notify interface GigaEthernet0.1 protocol ip
nm ddns notify interface GigaEthernet0.0 protocol ipv6
interface GigaEthernet0.0
  ipv6 enable
  ipv6 address autoconfig receive-default
interface GigaEthernet2.0
  ipv6 enable
  ipv6 nd ra enable
"""


def ddns_router(ipv6: str = V6_IF) -> Router:
    return Router.model_validate({"name": "ix2215-tokyo", "ddns": {"ipv4": V4_IF, "ipv6": ipv6}})


@pytest.mark.parametrize(
    ("inventory_v6", "running", "details"),
    [
        (V6_IF, NM_OK, []),
        ("GigaEthernet0.0", WAN_SIDE, []),
        (
            V6_IF,
            NM_OK.replace("nm ip enable\n", ""),
            ["`nm ip enable` is missing: NetMeister is off"],
        ),
        (
            V6_IF,
            NM_OK.replace("nm ddns notify interface GigaEthernet2.0 protocol ipv6\n", ""),
            [
                "no `nm ddns notify interface GigaEthernet2.0 protocol ipv6` line: the ipv6 "
                "name is not updated"
            ],
        ),
        (
            V6_IF,
            NM_OK.replace("GigaEthernet2.0 protocol ipv6", "GigaEthernet0.0 protocol ipv6"),
            [
                "`nm ddns notify` for ipv6 names GigaEthernet0.0, the inventory says "
                "GigaEthernet2.0",
                "IPv6 is notified on GigaEthernet0.0, but the config puts the global IPv6 "
                "address on GigaEthernet2.0",
            ],
        ),
        # The inventory follows the config, but the config notifies the wrong side.
        (
            "GigaEthernet0.0",
            NM_OK.replace("GigaEthernet2.0 protocol ipv6", "GigaEthernet0.0 protocol ipv6"),
            [
                "IPv6 is notified on GigaEthernet0.0, but the config puts the global IPv6 "
                "address on GigaEthernet2.0"
            ],
        ),
        # WAN-side IPv6 notified on the LAN: wrong, whatever the inventory says.
        (
            V6_IF,
            WAN_SIDE.replace("GigaEthernet0.0 protocol ipv6", "GigaEthernet2.0 protocol ipv6"),
            [
                "IPv6 is notified on GigaEthernet2.0, but the config puts the global IPv6 "
                "address on GigaEthernet0.0"
            ],
        ),
    ],
)
def test_ddns_config_findings(inventory_v6: str, running: str, details: list[str]) -> None:
    got = router_findings(ddns_router(inventory_v6), facts(running=running), ())
    assert [f.detail for f in got] == details
    assert all(f.status is Status.DDNS_CONFIG for f in got)


def test_router_without_ddns_has_no_ddns_findings() -> None:
    hub = Router.model_validate({"name": "hub"})
    assert hub.families() == []
    assert router_findings(hub, facts(running="hostname hub\n"), ()) == ()
    assert router_findings(hub, facts(running="hostname hub\n", saved=False), ()) == (UNSAVED,)
