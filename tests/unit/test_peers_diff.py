"""Drift (pure): block-aware, order-free, secrets by presence only, pins known; and the
lockout guard's view of what carries the management session."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from nmops.config.model import Router
from nmops.ix import lines
from nmops.ix.lines import Edit
from nmops.peers.diff import PinnedPeer, drift, pinned_line, unified
from nmops.peers.guard import lockout_reasons

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "golden"
TOKYO = (SEED / "ix2215-tokyo.conf").read_text()
BGP = "router bgp 65000\n  address-family ipv4 unicast\n{v4}  address-family ipv6 unicast\n{v6}"


def shown(text: str, want: str = TOKYO, **kw: object) -> list[str]:
    return [str(e) for e in drift("t", text, want, **kw).shown()]  # type: ignore[arg-type]


def test_the_same_config_in_another_order_is_no_drift() -> None:
    parsed = lines.parse(TOKYO)
    shuffled = lines.Config(tuple(reversed(parsed.nodes)))
    assert drift("t", shuffled, TOKYO).clean
    assert drift("t", "! Current configuration : 1234 bytes\n" + TOKYO, TOKYO).clean


def test_a_removed_filter_line_and_a_wrong_cost_are_found() -> None:
    running = TOKYO.replace("  ip filter ikev2 1 in\n", "", 1).replace(
        "ip ospf cost 100", "ip ospf cost 10"
    )
    assert shown(running) == [
        "interface GigaEthernet0.1 > ip filter ikev2 1 in",
        "interface Tunnel2.0 > ip ospf cost 100",
    ]


def test_a_line_only_the_router_has_is_removed_inside_its_block() -> None:
    running = TOKYO.replace("  ip ospf mtu-ignore\n", "  ip ospf mtu-ignore\n  ip ospf cost 7\n", 1)
    edits = drift("t", running, TOKYO).edits
    assert [str(e) for e in edits] == ["interface Tunnel1.0 > no ip ospf cost 7"]


def test_a_line_moved_between_nested_blocks_is_drift() -> None:
    bgp = BGP.format(v4="    network 10.0.0.0/8\n", v6="")
    moved = BGP.format(v4="", v6="    network 10.0.0.0/8\n")
    edits = [str(e) for e in drift("t", TOKYO + moved, TOKYO + bgp).edits]
    assert sorted(edits) == [
        "router bgp 65000 > address-family ipv4 unicast > network 10.0.0.0/8",
        "router bgp 65000 > address-family ipv6 unicast > no network 10.0.0.0/8",
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("key char ix2215-kagawa-psk", "key char another-psk"),
        ("password plain password-fetburner", "password plain changed"),
        ("user-A@example.com password-1", "user-A@example.com other-password"),
    ],
)
def test_secrets_are_compared_by_presence_only(old: str, new: str) -> None:
    assert old in TOKYO
    assert drift("t", TOKYO.replace(old, new), TOKYO).clean
    # The placeholder a render without secrets writes is as good as the value.
    assert drift("t", TOKYO, TOKYO.replace(old, old.rsplit(" ", 1)[0] + " ****")).clean


def test_a_missing_secret_line_is_drift_and_never_shown() -> None:
    line = "ikev2 authentication psk id keyid ix2215-kagawa key char ix2215-kagawa-psk\n"
    found = drift("t", TOKYO.replace(line, ""), TOKYO)
    assert [str(e) for e in found.shown()] == [
        "ikev2 authentication psk id keyid ix2215-kagawa key char ****"
    ]
    assert "ix2215-kagawa-psk" not in "\n".join(unified(found))
    assert "ix2215-kagawa-psk" in found.edits[0].line  # the real line, for the push only


def test_a_pin_is_not_drift_and_a_stray_pin_is() -> None:
    peer = (
        "ikev2 peer-fqdn-ipv6 ix2215-kagawa.fetburner.v6.nmddns.jp "
        "authentication psk id keyid ix2215-kagawa"
    )
    pinned = pinned_line(peer, "2001:db8::5")
    assert pinned == "ikev2 peer 2001:db8::5 authentication psk id keyid ix2215-kagawa"
    running = TOKYO.replace(peer, pinned)
    pin = PinnedPeer("Tunnel1.0", "2001:db8::5")
    assert drift("t", running, TOKYO, pins=[pin]).clean
    # Without the pin recorded, the literal address is drift: back to the FQDN, by key.
    assert shown(running) == [f"interface Tunnel1.0 > {peer}"]
    # A recorded pin the router lacks: the diff sets it.
    assert shown(TOKYO, pins=[pin]) == [f"interface Tunnel1.0 > {pinned}"]


def test_unified_view_groups_by_block() -> None:
    running = TOKYO.replace("ip ospf cost 100", "ip ospf cost 10")
    assert unified(drift("t", running, TOKYO)) == [
        "interface Tunnel2.0",
        "  - ip ospf cost 10",
        "  + ip ospf cost 100",
    ]


def _router(**extra: object) -> Router:
    return Router.model_validate(
        {
            "name": "ix2215-tokyo",
            "login": {"username": "nmops", "password": {"env": "X"}},
            **extra,
        }
    )


def test_lockout_guard_names_what_carries_the_session() -> None:
    router = _router(
        management=[{"host": "192.168.100.1", "via": ["Tunnel1.0"]}],
    )
    running = lines.parse(TOKYO)
    edits = [
        Edit(("interface Tunnel1.0",), "ip ospf cost 5"),  # the management tunnel
        Edit(("interface GigaEthernet2.0",), "no ipv6 filter dynamic 10 out"),  # holds .1
        Edit((), "no ssh-server ip enable"),
        Edit((), "username nmops password plain x administrator"),
        Edit((), "ip route default Tunnel0.0"),
        Edit(("interface Tunnel2.0",), "ip ospf cost 5"),  # not on the path
        Edit((), "username someone-else password plain x operator"),
    ]
    reasons = lockout_reasons(
        router, running, edits, nmops_addresses=[ipaddress.ip_address("192.168.100.20")]
    )
    assert len(reasons) == 5
    assert not any("Tunnel2.0" in r or "someone-else" in r for r in reasons)


def test_a_route_elsewhere_does_not_count() -> None:
    router = _router(management=[{"host": "127.0.0.1"}])
    edits = [Edit((), "ip route 10.9.0.0/16 Tunnel1.0")]
    near = [ipaddress.ip_address("127.0.0.1")]
    assert lockout_reasons(router, lines.parse(TOKYO), edits, nmops_addresses=near) == []
    edits = [Edit((), "no ip route 127.0.0.0/8 Null0.0")]
    assert lockout_reasons(router, lines.parse(TOKYO), edits, nmops_addresses=near)


def test_a_masked_user_name_is_any_user_name() -> None:
    # The render without secrets masks a PPPoE user given as a secret reference as well.
    want = TOKYO.replace("authentication myname user-A@example.com", "authentication myname ****")
    want = want.replace("password user-A@example.com password-1", "password **** ****")
    assert want != TOKYO
    assert drift("t", TOKYO, want).clean
    # ... but a line with another shape is still drift.
    assert not drift("t", TOKYO.replace("authentication myname user-A@example.com", ""), want).clean


def test_a_password_the_router_shows_hashed_is_still_present() -> None:
    want = TOKYO.replace("password plain password-fetburner", "password plain ****")
    running = TOKYO.replace("password plain password-fetburner", "password hash 0A1B2C3D")
    assert drift("t", running, want).clean
    # A key where the render wants a password is not the same line.
    assert not drift("t", running.replace("password hash", "community"), want).clean


def test_a_management_path_by_name_fails_closed_onto_the_dynamic_wans() -> None:
    # Reached by a DNS name (its own DDNS name, say): which interface is not known, so every
    # interface with a dynamic address (PPPoE here) counts, with its PPP profile; the tunnel
    # that runs over it as well when the path goes through one.
    router = _router(management=[{"host": "ix2215-tokyo.fetburner.nmddns.jp"}])
    running = lines.parse(TOKYO)
    pppoe = next(b.line for b in running.blocks("interface") if any(
        c.line.startswith("ppp binding") for c in b.children))  # fmt: skip
    edits = [
        Edit((pppoe,), "shutdown"),
        Edit(("ppp profile flets-v4",), "authentication myname someone-else"),
        Edit((), "pki private-key generate rsa"),
        Edit(("interface Tunnel2.0",), "ip ospf cost 5"),  # not on the path
    ]
    reasons = lockout_reasons(router, running, edits)
    assert len(reasons) == 3, reasons
    assert not any("Tunnel2.0" in r for r in reasons)


def test_a_management_tunnel_protects_the_wan_it_runs_over() -> None:
    router = _router(management=[{"host": "127.0.0.1", "via": ["Tunnel2.0"]}])
    running = lines.parse(TOKYO)
    outgoing = "interface GigaEthernet0.1"  # Tunnel2.0's `ikev2 outgoing-interface`
    reasons = lockout_reasons(router, running, [Edit((outgoing,), "no ip filter ikev2 1 in")])
    assert reasons and "GigaEthernet0.1 carries" in reasons[0]
