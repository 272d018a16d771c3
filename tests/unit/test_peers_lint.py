"""`nmops peers lint`: one broken config per rule (the seed's golden configs with one edit),
the IPv6 notify rule decided from the config and from the router's real addresses, exit
codes, and configs no rule foresaw (garbage, odd real-world shapes) read without a crash."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Mapping

import pytest

from nmops.ix import lines
from nmops.ix.lines import Config, Edit
from nmops.peers.filters import ESP, IKE, NAT_T, verdict
from nmops.peers.lint import RULES, Finding, exit_code, lint
from nmops.status import ExitCode
from tests.unit.peerkit import GOLDEN

TOKYO, KAGAWA = "ix2215-tokyo", "ix2215-kagawa"
ZONE = "nmddns.jp"


def golden() -> dict[str, Config]:
    return {
        name: lines.parse((GOLDEN / f"{name}.conf").read_text(encoding="utf-8"))
        for name in (TOKYO, KAGAWA)
    }


def edited(edits: Mapping[str, list[Edit]]) -> dict[str, Config]:
    configs = golden()
    for name, changes in edits.items():
        configs[name] = lines.apply_all(configs[name], changes)[0]
    return configs


def codes(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.code, f.router) for f in findings}


T1, T2 = ("interface Tunnel1.0",), ("interface Tunnel2.0",)
WAN6, WAN4, LAN = (
    ("interface GigaEthernet0.0",),
    ("interface GigaEthernet0.1",),
    ("interface GigaEthernet2.0",),
)
PEER6 = "ikev2 peer-fqdn-ipv6 {} authentication psk id keyid {}"

# (rule, edits, the findings expected: exactly these)
BROKEN: list[tuple[str, dict[str, list[Edit]], set[tuple[str, str]]]] = [
    (
        "peer-fqdn",  # the v4 name on the v6 tunnel
        {TOKYO: [Edit(T1, PEER6.format("ix2215-kagawa.fetburner.nmddns.jp", KAGAWA))]},
        {("peer-fqdn", TOKYO)},
    ),
    (
        "peer-fqdn",  # another group
        {
            KAGAWA: [
                Edit(
                    T2,
                    f"ikev2 peer-fqdn-ipv4 {TOKYO}.other.nmddns.jp "
                    f"authentication psk id keyid {TOKYO}",
                )
            ]
        },
        {("peer-fqdn", KAGAWA)},
    ),
    (
        "peer-notify",
        {KAGAWA: [Edit((), "no nm ddns notify interface GigaEthernet2.0 protocol ipv6")]},
        {("peer-notify", TOKYO)},
    ),
    (
        "peer-notify",  # the client off: nothing is registered
        {TOKYO: [Edit((), "no nm ip enable")]},
        {("peer-notify", KAGAWA)},
    ),
    (
        "psk-id",  # the tunnel expects another identity than the peer's
        {TOKYO: [Edit(T1, PEER6.format(f"{KAGAWA}.fetburner.v6.nmddns.jp", "kagawa"))]},
        {("psk-id", TOKYO)},
    ),
    (
        "psk-id",  # no key for the peer's identity
        {TOKYO: [Edit((), f"no ikev2 authentication psk id keyid {KAGAWA} key char {KAGAWA}-psk")]},
        {("psk-id", TOKYO), ("psk-id", KAGAWA)},
    ),
    (
        "psk-key",
        {KAGAWA: [Edit((), f"ikev2 authentication psk id keyid {TOKYO} key char other-psk")]},
        {("psk-key", TOKYO), ("psk-key", KAGAWA)},
    ),
    (
        "lan-overlap",
        {KAGAWA: [Edit(LAN, "ip address 192.168.100.129/25")]},
        {("lan-overlap", TOKYO), ("lan-overlap", KAGAWA)},
    ),
    ("mtu-ignore", {TOKYO: [Edit(T2, "no ip ospf mtu-ignore")]}, {("mtu-ignore", TOKYO)}),
    ("backup-cost", {KAGAWA: [Edit(T2, "no ip ospf cost 100")]}, {("backup-cost", KAGAWA)}),
    (
        "backup-cost",  # cheaper, not only equal
        {TOKYO: [Edit(T1, "ip ospf cost 50"), Edit(T2, "ip ospf cost 20")]},
        {("backup-cost", TOKYO)},
    ),
    ("filter-ike", {TOKYO: [Edit(WAN4, "no ip filter ikev2 1 in")]}, {("filter-ike", TOKYO)}),
    ("filter-esp", {KAGAWA: [Edit(WAN6, "no ipv6 filter ipsec 5 in")]}, {("filter-esp", KAGAWA)}),
    (
        "filter-ike",  # a deny before the permits: neither IKE nor ESP gets in
        {TOKYO: [Edit(WAN6, "ipv6 filter deny 3 in")]},
        {("filter-ike", TOKYO), ("filter-esp", TOKYO)},
    ),
    (
        "filter-nat-t",  # kagawa's PPPoE WAN behind a NAT: both ends need udp/4500
        {KAGAWA: [Edit(WAN4, "no ppp binding flets-v4"), Edit(WAN4, "ip address 192.168.2.2/24")]},
        {("filter-nat-t", TOKYO), ("filter-nat-t", KAGAWA)},
    ),
    (
        "v6-notify",  # RA + ND proxy: the global address is on the LAN, not the WAN
        {KAGAWA: [Edit((), "nm ddns notify interface GigaEthernet0.0 protocol ipv6")]},
        {("v6-notify", KAGAWA)},
    ),
]


def test_the_golden_configs_are_clean() -> None:
    assert lint(golden(), zone=ZONE) == []
    assert exit_code([]) is ExitCode.OK


@pytest.mark.parametrize(
    ("rule", "edits", "expected"), BROKEN, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(BROKEN)]
)
def test_one_broken_config_per_rule(
    rule: str, edits: dict[str, list[Edit]], expected: set[tuple[str, str]]
) -> None:
    findings = lint(edited(edits), zone=ZONE)
    assert codes(findings) == expected
    for f in findings:
        assert f.code in {code for code, _ in expected} and f.severity == RULES[f.code][0]
        assert f.message and f.hint and f.router in (TOKYO, KAGAWA)
        assert "psk" not in f.line or "-psk" not in f.line  # keys never shown
    severity = RULES[rule][0]
    assert exit_code(findings) is (ExitCode.CRITICAL if severity == "error" else ExitCode.WARNING)


def test_every_rule_has_a_broken_config() -> None:
    tested = {rule for rule, _, _ in BROKEN} | {"v6-no-address", "unreadable"}
    assert tested == set(RULES)


def test_findings_are_only_for_the_routers_asked() -> None:
    configs = edited(
        {KAGAWA: [Edit((), "no nm ddns notify interface GigaEthernet2.0 protocol ipv6")]}
    )
    assert lint(configs, zone=ZONE, only=[KAGAWA]) == []
    assert codes(lint(configs, zone=ZONE, only=[TOKYO])) == {("peer-notify", TOKYO)}


def test_a_peer_nobody_registers_counts_only_when_every_router_is_there() -> None:
    configs = edited(
        {TOKYO: [Edit(T1, PEER6.format("ix2215-osaka.fetburner.v6.nmddns.jp", "osaka"))]}
    )
    assert codes(lint(configs, zone=ZONE)) == {("peer-fqdn", TOKYO)}
    assert lint(configs, zone=ZONE, complete=False) == []
    assert lint({TOKYO: golden()[TOKYO]}, zone=ZONE, complete=False) == []


def test_masked_keys_are_compared_by_presence() -> None:
    configs = edited(
        {KAGAWA: [Edit((), f"ikev2 authentication psk id keyid {TOKYO} key char ****")]}
    )
    assert lint(configs, zone=ZONE) == []


# --- where the global IPv6 address sits ----------------------------------------------------

# The WAN-side shape: DHCPv6 / autoconfig on GigaEthernet0.0, no ND proxy.
WAN_SIDE = [
    Edit(WAN6, "no ipv6 nd proxy GigaEthernet2.0"),
    Edit(WAN6, "ipv6 address autoconfig receive-default"),
]


def test_wan_side_ipv6_notified_on_the_wan_passes() -> None:
    edits = [*WAN_SIDE, Edit((), "nm ddns notify interface GigaEthernet0.0 protocol ipv6")]
    assert lint(edited({KAGAWA: edits}), zone=ZONE) == []


def test_wan_side_ipv6_notified_on_the_lan_fails() -> None:
    findings = lint(edited({KAGAWA: WAN_SIDE}), zone=ZONE)
    assert codes(findings) == {("v6-notify", KAGAWA)}
    (finding,) = findings
    assert "GigaEthernet0.0" in finding.message and "autoconfig" in finding.message
    assert finding.hint == "nm ddns notify interface GigaEthernet0.0 protocol ipv6"


def test_dhcpv6_client_without_nd_proxy_and_no_address_line_says_nothing() -> None:
    # Nothing in the config says where the address sits: the rule does not guess.
    configs = edited({KAGAWA: [Edit(WAN6, "no ipv6 nd proxy GigaEthernet2.0")]})
    assert lint(configs, zone=ZONE) == []


GLOBAL = (ipaddress.ip_address("2001:db8:10::1"),)


def test_running_the_real_address_decides() -> None:
    configs = golden()
    seen = {KAGAWA: {"GigaEthernet2.0": GLOBAL}}
    assert lint(configs, zone=ZONE, addresses=seen) == []
    # ND proxy, but this router really has no global address on the LAN: upstream.
    none = {KAGAWA: {"GigaEthernet2.0": ()}}
    assert codes(lint(configs, zone=ZONE, addresses=none)) == {("v6-no-address", KAGAWA)}
    assert exit_code(lint(configs, zone=ZONE, addresses=none)) is ExitCode.WARNING


def test_running_an_address_on_the_notify_interface_outweighs_the_config() -> None:
    # Some ND-proxy setups do give the WAN an address: the router's own facts win.
    configs = edited({KAGAWA: [Edit((), "nm ddns notify interface GigaEthernet0.0 protocol ipv6")]})
    assert codes(lint(configs, zone=ZONE)) == {("v6-notify", KAGAWA)}
    seen = {KAGAWA: {"GigaEthernet0.0": GLOBAL}}
    assert lint(configs, zone=ZONE, addresses=seen) == []
    empty = {KAGAWA: {"GigaEthernet0.0": ()}}
    findings = lint(configs, zone=ZONE, addresses=empty)
    assert codes(findings) == {("v6-notify", KAGAWA)}
    assert "no global IPv6 address on the router" in findings[0].message


# --- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "filters", "packet", "expected"),
    [
        ([], [], IKE, "allowed"),  # no filter at all
        (["ikev2 permit udp src any sport any dest any dport eq 500"], ["ikev2 1"], IKE, "allowed"),
        (
            ["ikev2 permit udp src any sport any dest any dport eq 500"],
            ["ikev2 1"],
            NAT_T,
            "denied",
        ),
        (
            ["r permit udp src any sport any dest any dport range 500 4500"],
            ["r 1"],
            NAT_T,
            "allowed",
        ),
        (["r permit udp src any dest any dport gt 1000"], ["r 1"], IKE, "denied"),
        (["r permit ip src any dest any"], ["r 1"], ESP, "allowed"),
        (["r permit esp src any dest any"], ["r 1"], ESP, "allowed"),
        (["r permit tcp src any dest any dport eq 500"], ["r 1"], IKE, "denied"),
        (["r permit udp src 198.51.100.0/24 dest any dport eq 500"], ["r 1"], IKE, "unknown"),
        (["r permit udp src any sport eq 500 dest any dport eq 500"], ["r 1"], IKE, "unknown"),
        (["r frobnicate udp"], ["r 1"], IKE, "unknown"),
        (["r permit gre src any dest any"], ["r 1"], ESP, "unknown"),
        (["r dynamic access permit"], ["r 1"], IKE, "denied"),
        (
            ["d deny ip src any dest any", "p permit ip src any dest any"],
            ["p 2", "d 1"],
            IKE,
            "denied",
        ),
        (
            ["d deny ip src any dest any", "p permit ip src any dest any"],
            ["p 1", "d 2"],
            ESP,
            "allowed",
        ),
        (["r permit udp src any dest any dport eq x"], ["r 1"], IKE, "unknown"),
        (["r permit udp any any"], ["r 1"], IKE, "unknown"),
    ],
)
def test_filter_verdicts(
    entries: list[str], filters: list[str], packet: object, expected: str
) -> None:
    text = "".join(f"ip access-list {e}\n" for e in entries)
    text += "interface GigaEthernet0.1\n" + "".join(f"  ip filter {f} in\n" for f in filters)
    text += "  ipv6 filter never 1 in\n"  # the other family's filters do not count
    assert verdict(lines.parse(text), "GigaEthernet0.1", "ipv4", packet) == expected  # type: ignore[arg-type]


# --- any config, never a crash ---------------------------------------------------------------

ODD = """\
Using 1234 out of 524288 bytes
! Last updated by admin
hostname branch
nm ip enable
nm account
nm account x
nm ddns notify interface
nm ddns notify interface GigaEthernet0.0 protocol ipv9
nm ddns notify interface Tunnel9.0 protocol ipv6
ikev2 authentication psk id keyid
ikev2 authentication psk id fqdn a.example key hex 0a0b
ip access-list x permit
ip access-list y
ip route default
ip route default Tunnel1.0 distance x
ip route default Tunnel1.0 distance 99999999999999999999
router bgp 65000
    address-family ipv4 unicast
      network 10.0.0.0/8
ikev2 default-profile
  local-authentication
  local-authentication psk id
interface Tunnel1.0
  tunnel mode ipsec-ikev2
  ikev2 peer any authentication psk id keyid x
  ip ospf cost notanumber
  ikev2 outgoing-interface
interface Tunnel2.0
  tunnel mode ipsec-ikev2
  ikev2 peer-fqdn-ipv6
  ikev2 peer 2001:db8::zz
  ikev2 peer-fqdn-ipv4 peer.example.
interface Tunnel3.0
  tunnel mode ipsec
  ikev2 peer 192.0.2.1 authentication psk id keyid
  ikev2 outgoing-interface GigaEthernet9.0 auto
interface GigaEthernet9.0
  ip filter 1 in
  ip filter x y in
  ip filter ok 99999999999 in
  ip address 10.0.0.1/99
  ip address 300.1.1.1/24
  ipv6 nd proxy
  ipv6 address autoconfig
policy-map p
  class c
    police 1000
interface
\tinterface GigaEthernet8.0
\t\tip address 10.1.1.1/24
"""


def _garbage(seed: int) -> str:
    """A config made of the golden lines shuffled, cut, nested and mangled."""
    rng = random.Random(seed)
    source = [
        line
        for path in (GOLDEN / f"{TOKYO}.conf", GOLDEN / f"{KAGAWA}.conf")
        for line in path.read_text().splitlines()
    ] + ODD.splitlines()
    out = []
    for _ in range(rng.randint(0, 300)):
        line = rng.choice(source)
        words = line.split()
        if words and rng.random() < 0.3:
            rng.shuffle(words)
            cut = rng.randint(0, len(words))
            line = " ".join(words[:cut])
        if rng.random() < 0.1:
            line = "".join(rng.choice("ab ?!\t/:.-0123456789") for _ in range(rng.randint(0, 20)))
        out.append(" " * rng.choice((0, 0, 2, 4, 7)) + line)
    return "\n".join(out)


@pytest.mark.parametrize("seed", range(60))
def test_garbage_configs_never_crash(seed: int) -> None:
    configs = {TOKYO: lines.parse(_garbage(seed)), KAGAWA: lines.parse(_garbage(seed + 1000))}
    findings = lint(configs, zone=ZONE, addresses={TOKYO: {"GigaEthernet2.0": ()}})
    assert not [f for f in findings if f.code == "unreadable"], findings
    exit_code(findings)


def test_odd_real_world_shapes_never_crash() -> None:
    configs = {"branch": lines.parse(ODD), **golden()}
    findings = lint(configs, zone=ZONE, complete=False)
    assert not [f for f in findings if f.code == "unreadable"]
    assert lint({"empty": lines.parse("")}, zone=ZONE) == []


def test_a_rule_that_breaks_is_a_finding_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    from nmops.peers import lint as module

    def broken(*_: object) -> list[Finding]:
        raise IndexError("surprise")

    monkeypatch.setattr(module, "_RULES", (("broken", broken),))
    findings = lint(golden(), zone=ZONE, only=[TOKYO])
    assert [(f.code, f.router, f.severity) for f in findings] == [("unreadable", TOKYO, "warning")]
    assert "surprise" not in findings[0].message
