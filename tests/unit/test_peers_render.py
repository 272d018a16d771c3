"""`nmops peers render`: the seed inventory renders the seed's golden configs; other
networks (hub and spoke, full mesh, other IPv6 shapes) render consistently; secrets are
read only when asked and checked before they reach a router line; sites override templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from nmops.config.load import load_inventory
from nmops.config.model import Inventory
from nmops.config.secrets import SecretRef
from nmops.errors import ConfigError
from nmops.ix import lines, routerconfig
from nmops.peers.intent import intent
from nmops.peers.lint import lint
from nmops.peers.render import PLACEHOLDER, RenderError, render_config, render_text
from tests.unit.peerkit import (
    GOLDEN,
    SEED_INVENTORY,
    SEED_SECRETS,
    hub_and_spoke,
    load,
    mesh,
    reader,
    secrets_for,
    site,
)

SEED_ROUTERS = ("ix2215-tokyo", "ix2215-kagawa")


@pytest.fixture
def seed(monkeypatch: pytest.MonkeyPatch) -> Inventory:
    for name, value in SEED_SECRETS.items():
        monkeypatch.setenv(name, value)
    return load_inventory(SEED_INVENTORY)


@pytest.mark.parametrize("router", SEED_ROUTERS)
def test_seed_inventory_renders_the_golden_config(seed: Inventory, router: str) -> None:
    text = render_text(seed, router, secret=SecretRef.reveal)
    golden = lines.parse((GOLDEN / f"{router}.conf").read_text(encoding="utf-8"))
    rendered = lines.parse(text)
    # Block by block, whatever the order: the same lines in the same blocks.
    assert sorted(rendered.paths - golden.paths) == []
    assert sorted(golden.paths - rendered.paths) == []
    # And nothing to converge in either direction.
    assert lines.diff(golden, rendered) == [] and lines.diff(rendered, golden) == []


def test_rendered_text_is_what_the_line_model_prints(seed: Inventory) -> None:
    for router in SEED_ROUTERS:
        text = render_text(seed, router, secret=None)
        tree = lines.parse(text)
        assert lines.render(tree) == text
        assert render_config(seed, router, secret=None).same_as(tree)


def test_seed_numbering_and_intent(seed: Inventory) -> None:
    model = intent(seed, "ix2215-kagawa")
    assert [(t.interface, t.family, t.peer, t.cost) for t in model.tunnels] == [
        ("Tunnel1.0", "ipv6", "ix2215-tokyo", 1),
        ("Tunnel2.0", "ipv4", "ix2215-tokyo", 100),
    ]
    assert model.tunnels[0].peer_fqdn == "ix2215-tokyo.fetburner.v6.nmddns.jp"
    assert model.tunnels[1].outgoing == "GigaEthernet0.1"
    assert model.ospf is not None and model.ospf.networks == ("Tunnel1.0", "Tunnel2.0")
    assert model.failover and model.hgw is not None


def test_without_a_reader_nothing_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SEED_SECRETS:
        monkeypatch.delenv(name, raising=False)
    inventory = load_inventory(SEED_INVENTORY)
    text = render_text(inventory, "ix2215-tokyo", secret=None)
    for value in SEED_SECRETS.values():
        assert value not in text
    config = lines.parse(text)
    assert f"nm account fetburner password plain {PLACEHOLDER}" in config.top_lines()
    assert (
        f"ikev2 authentication psk id keyid ix2215-kagawa key char {PLACEHOLDER}"
        in config.top_lines()
    )
    with pytest.raises(ConfigError) as info:
        render_text(inventory, "ix2215-tokyo", secret=SecretRef.reveal)
    assert any("NMOPS_PSK_IX2215_TOKYO" in p for p in info.value.problems)


@pytest.mark.parametrize("bad", ["two words", "new\nline", "what?", "", "\x1b[31m", "é"])
def test_a_secret_that_cannot_be_a_router_word_is_refused_unshown(
    seed: Inventory, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("NMOPS_PSK_IX2215_KAGAWA", bad)
    with pytest.raises(ConfigError) as info:
        render_text(seed, "ix2215-tokyo", secret=SecretRef.reveal)
    (problem,) = info.value.problems
    assert problem.startswith("routers.ix2215-kagawa.psk: secret env:NMOPS_PSK_IX2215_KAGAWA")
    if bad:
        assert bad not in problem


def test_unknown_router_and_unrenderable_router(tmp_path: Path) -> None:
    inventory = load(
        tmp_path,
        {
            "netmeister": {"group": "acme"},
            "routers": {"ix-a": {"ddns": {"ipv4": "GigaEthernet0.1"}}},
        },
    )
    with pytest.raises(ConfigError, match="no router named 'ix-b'"):
        render_text(inventory, "ix-b", secret=None)
    with pytest.raises(ConfigError, match="needs wan and lan"):
        render_text(inventory, "ix-a", secret=None)


# --- other networks ---------------------------------------------------------------------------


def _registered(config: lines.Config, zone: str) -> dict[str, str]:
    """family -> the name this rendered config registers (read with the driver's parser)."""
    nm = routerconfig.netmeister(config)
    host = nm.hostname or (routerconfig.hostname(config) or "").lower()
    out = {}
    for family in nm.notify:
        middle = "v6." if family == "ipv6" else ""
        out[family] = f"{host}.{nm.group}.{middle}{zone}"
    return out


def _local_id(config: lines.Config) -> str:
    (block,) = config.blocks("ikev2-default-profile")
    (line,) = [c.line for c in block.children if c.line.startswith("local-authentication")]
    return line.split()[-1]


def _psks(config: lines.Config) -> dict[str, str]:
    out = {}
    for line in config.top_lines():
        if line.startswith("ikev2 authentication psk id keyid "):
            words = line.split()
            out[words[5]] = words[-1]
    return out


def _assert_consistent(inventory: Inventory) -> dict[str, lines.Config]:
    """Every peer FQDN is what its peer registers and every fixed peer address is the hub's,
    the PSK identity is the peer's own, tunnel numbers are unique, both ends hold the same
    pair of keys, and lint finds nothing."""
    values = secrets_for(inventory)
    zone = inventory.netmeister.zone
    configs = {
        name: lines.parse(render_text(inventory, name, secret=reader(values)))
        for name in inventory.routers
    }
    registered = {n: _registered(c, zone) for n, c in configs.items()}
    ids = {n: _local_id(c) for n, c in configs.items()}
    expected_tunnels = {n: 0 for n in inventory.routers}
    for link in inventory.links:
        for name in link.peers:
            expected_tunnels[name] += len(link.via)
    for name, config in configs.items():
        tunnels = routerconfig.tunnels(config)
        numbers = [t.interface for t in tunnels]
        assert len(numbers) == len(set(numbers)) == expected_tunnels[name]
        assert len(intent(inventory, name).tunnels) == expected_tunnels[name]
        assert "Tunnel0.0" not in numbers
        for tunnel in tunnels:
            children = routerconfig.interface_lines(config, tunnel.interface) or ()
            (peer_line,) = [c for c in children if c.startswith("ikev2 peer")]
            peer_id = peer_line.split()[-1]
            peer = next(n for n, i in ids.items() if i == peer_id and n != name)
            assert tunnel.family is not None
            if tunnel.peer_fqdn is not None:
                assert tunnel.peer_fqdn == registered[peer][tunnel.family]
            else:
                fixed = inventory.routers[peer].address
                assert fixed is not None and tunnel.peer_address == fixed.of(tunnel.family)
            mine, theirs = _psks(config), _psks(configs[peer])
            for identity in (ids[name], ids[peer]):
                assert mine[identity] == theirs[identity] != PLACEHOLDER
    assert lint(configs, zone=zone) == []
    return configs


def test_full_mesh_of_four_renders_consistently(tmp_path: Path) -> None:
    inventory = load(tmp_path, mesh(4))
    configs = _assert_consistent(inventory)
    for name, config in configs.items():
        # Three peers, two families: Tunnel1.0 .. Tunnel6.0, all in OSPF.
        names = [t.interface for t in routerconfig.tunnels(config)]
        assert sorted(names) == [f"Tunnel{i}.0" for i in range(1, 7)]
        ospf = config.block("ip router ospf 1")
        assert ospf is not None
        assert {c.line for c in ospf} >= {f"network {t} area 0" for t in names}
        assert name in routerconfig.hostname(config)  # type: ignore[operator]


@pytest.mark.parametrize("spokes", [3, 60])
def test_hub_and_spoke_renders_consistently(tmp_path: Path, spokes: int) -> None:
    inventory = load(tmp_path, hub_and_spoke(spokes))
    configs = _assert_consistent(inventory)
    spoke = routerconfig.tunnels(configs["ix-spoke2"])
    assert {(t.family, str(t.peer_address)) for t in spoke} == {
        ("ipv6", "2001:db8::1"),
        ("ipv4", "203.0.113.1"),
    }
    hub = routerconfig.netmeister(configs["ix-hub"])
    assert hub.notify == {}  # no names of its own
    assert len(routerconfig.tunnels(configs["ix-hub"])) == 2 * spokes


def test_pinned_tunnel_numbers_and_the_rest_around_them(tmp_path: Path) -> None:
    data = mesh(3)
    links = data["links"]
    assert isinstance(links, list)
    links[0] = {
        "peers": ["ix-r1", "ix-r2"],
        "via": [{"family": "ipv6", "tunnel": "Tunnel7.0"}, {"family": "ipv4", "cost": 100}],
    }
    inventory = load(tmp_path, data)
    numbers = {n: [t.number for t in intent(inventory, n).tunnels] for n in inventory.routers}
    assert numbers == {"ix-r1": [1, 2, 3, 7], "ix-r2": [1, 2, 3, 7], "ix-r3": [1, 2, 3, 4]}
    r1 = intent(inventory, "ix-r1")
    assert [(t.number, t.peer, t.family) for t in r1.tunnels] == [
        (1, "ix-r2", "ipv4"),
        (2, "ix-r3", "ipv6"),
        (3, "ix-r3", "ipv4"),
        (7, "ix-r2", "ipv6"),
    ]
    _assert_consistent(inventory)


@pytest.mark.parametrize("shape", ["dhcpv6-pd", "autoconfig"])
def test_wan_side_ipv6_renders_the_global_address_on_the_wan(tmp_path: Path, shape: str) -> None:
    data = mesh(2)
    data["defaults"] = {
        **data["defaults"],  # type: ignore[dict-item]
        "wan": {"ipoe": {"interface": "GigaEthernet0.0", "mode": "none", "ipv6": shape}},
        "ddns": {"ipv6": "GigaEthernet0.0"},
    }
    data["links"] = [{"peers": ["ix-r1", "ix-r2"], "via": [{"family": "ipv6"}]}]
    inventory = load(tmp_path, data)
    configs = _assert_consistent(inventory)
    config = configs["ix-r1"]
    wan = routerconfig.interface_lines(config, "GigaEthernet0.0") or ()
    assert "ipv6 address autoconfig receive-default" in wan
    assert not any(line.startswith("ipv6 nd proxy") for line in wan)
    assert routerconfig.v6_global_interface(config) == "GigaEthernet0.0"
    # No MAP-E, no PPPoE: no Tunnel0.0, no watch-group, no ipip filter.
    assert config.block("interface Tunnel0.0") is None
    assert not list(config.blocks("watch-group"))
    assert "ipv6 filter ipip 3 in" not in wan


def test_ddns_hostname_is_rendered_and_dialled(tmp_path: Path) -> None:
    data = mesh(2)
    routers = data["routers"]
    assert isinstance(routers, dict)
    routers["ix-r2"]["ddns_hostname"] = "branch2"
    inventory = load(tmp_path, data)
    configs = _assert_consistent(inventory)
    assert "nm ddns hostname branch2" in configs["ix-r2"].top_lines()
    fqdns = {t.peer_fqdn for t in routerconfig.tunnels(configs["ix-r1"])}
    assert fqdns == {"branch2.acme.v6.nmddns.jp", "branch2.acme.nmddns.jp"}


# --- templates ---------------------------------------------------------------------------------


def test_a_site_template_replaces_the_shipped_one(seed: Inventory, tmp_path: Path) -> None:
    (tmp_path / "dns.j2").write_text("proxy-dns ip enable\nntp server 192.0.2.123\n")
    config = lines.parse(render_text(seed, "ix2215-tokyo", secret=None, templates=tmp_path))
    assert "ntp server 192.0.2.123" in config.top_lines()
    assert "proxy-dns ip request both" not in config.top_lines()
    assert config.block("interface Tunnel1.0") is not None  # the rest is the shipped render


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ r.no_such_thing }}\n", "no_such_thing"),
        ("{% if %}\n", "dns.j2:1"),
        ("{% include 'missing.j2' %}\n", "missing.j2 not found"),
        ("ntp server {{ '?' }}\n", "control character or '?'"),
        ("description {{ 'a\x07b' }}\n", "control character or '?'"),
        ("{{ r.__class__.__mro__ }}\n", "template"),
    ],
)
def test_a_broken_site_template_is_a_render_error(
    seed: Inventory, tmp_path: Path, template: str, message: str
) -> None:
    (tmp_path / "dns.j2").write_text(template)
    with pytest.raises(RenderError, match=message.replace("?", r"\?")):
        render_text(seed, "ix2215-tokyo", secret=None, templates=tmp_path)


def test_every_value_in_a_line_is_checked_before_render(tmp_path: Path) -> None:
    # Values the schema would let through unchecked would reach router lines: none may.
    bad_values = {
        ("wan", "pppoe", "username"): "a?b",
        ("wan", "pppoe", "profile"): "x\ny",
        ("wan", "ipoe", "interface"): "GigaEthernet0.0 ?",
        ("lan", "interface"): "GigaEthernet2.0\n",
        ("model",): "IX 2215",
    }
    for path, value in bad_values.items():
        data = mesh(2)
        routers = data["routers"]
        assert isinstance(routers, dict)
        target = routers["ix-r1"]
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
        if path[0] == "wan":
            routers["ix-r1"]["wan"] = {
                **data["defaults"]["wan"],  # type: ignore[index]
                path[1]: {**data["defaults"]["wan"][path[1]], path[2]: value},  # type: ignore[index]
            }
        with pytest.raises(ConfigError) as info:
            load(tmp_path, data)
        assert any(".".join(path) in p for p in info.value.problems), info.value.problems


def test_tunnel_numbers_are_stable_when_a_link_is_added_at_the_end(tmp_path: Path) -> None:
    data = mesh(3)
    before = load(tmp_path, data, "a.yaml")
    routers, links = data["routers"], data["links"]
    assert isinstance(routers, dict) and isinstance(links, list)
    routers["ix-r4"] = site(4)
    links.append({"peers": ["ix-r4", "ix-r1"], "via": [{"family": "ipv6"}]})
    after = load(tmp_path, data, "b.yaml")
    for name in before.routers:
        old = {(t.peer, t.family): t.number for t in intent(before, name).tunnels}
        new = {(t.peer, t.family): t.number for t in intent(after, name).tunnels}
        assert {k: new[k] for k in old} == old
    assert [t.number for t in intent(after, "ix-r1").tunnels] == [1, 2, 3, 4, 5]
    assert [t.number for t in intent(after, "ix-r4").tunnels] == [1]
    _assert_consistent(after)


def test_a_written_out_pppoe_user_is_rendered_without_a_reader(tmp_path: Path) -> None:
    # A user name is an account name: written in the inventory it needs no secret, so a
    # render without secrets (what a diff compares) carries it as the router does.
    inventory = load(tmp_path, mesh(2))
    config = render_config(inventory, "ix-r1", secret=None)
    profile = {c.line for c in config.block("ppp profile flets-v4") or ()}
    assert profile == {
        "authentication myname user-A@example.com",
        f"authentication password user-A@example.com {PLACEHOLDER}",
    }
