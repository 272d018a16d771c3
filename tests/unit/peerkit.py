"""Inventories for the peer-config tests, written as YAML and loaded the way nmops loads
them (so every validation runs), and the secrets they name."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml

from nmops.config.load import load_inventory
from nmops.config.model import Inventory
from nmops.config.secrets import SecretRef

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(__file__).resolve().parents[3] / "shared"
GOLDEN = SHARED / "seed" / "golden"
SEED_INVENTORY = ROOT / "config" / "inventory.yaml"
# The seed article's example values (see the golden configs), by the variables the seed
# inventory names.
SEED_SECRETS = {
    "NMOPS_NETMEISTER_PASSWORD": "password-fetburner",
    "NMOPS_PSK_IX2215_TOKYO": "ix2215-tokyo-psk",
    "NMOPS_PSK_IX2215_KAGAWA": "ix2215-kagawa-psk",
    "NMOPS_PPPOE_USER": "user-A@example.com",
    "NMOPS_PPPOE_PASSWORD": "password-1",
}

WAN = {
    "ipoe": {"interface": "GigaEthernet0.0", "mode": "map-e-ocn"},
    "pppoe": {
        "interface": "GigaEthernet0.1",
        "profile": "flets-v4",
        "username": "user-A@example.com",
        "password": {"env": "T_PPPOE"},
    },
}
DEFAULTS = {
    "wan": WAN,
    "ddns": {"ipv4": "GigaEthernet0.1", "ipv6": "GigaEthernet2.0"},
    "monitor": {"target": "8.8.8.8"},
}


def secrets_for(inventory: Inventory) -> dict[str, str]:
    """A distinct made-up value for every environment secret the inventory names."""
    refs: list[SecretRef | None] = [inventory.netmeister.password]
    for router in inventory.routers.values():
        refs.append(router.psk)
        if router.wan is not None and router.wan.pppoe is not None:
            refs.append(router.wan.pppoe.password)
    return {r.env: f"s3cret-{r.env.lower()}" for r in refs if r is not None and r.env}


def reader(values: dict[str, str]) -> Callable[[SecretRef], str]:
    def read(ref: SecretRef) -> str:
        assert ref.env is not None
        return values[ref.env]

    return read


def load(tmp_path: Path, data: dict[str, object], name: str = "inventory.yaml") -> Inventory:
    path = tmp_path / name
    plain = json.loads(json.dumps(data))  # no shared objects: YAML anchors are refused
    path.write_text(yaml.safe_dump(plain, sort_keys=False), encoding="utf-8")
    return load_inventory(path)


def site(i: int, **extra: object) -> dict[str, object]:
    return {
        "site": f"site{i}",
        "lan": {"interface": "GigaEthernet2.0", "address": f"10.{i}.0.1/24"},
        "psk": {"env": f"T_PSK_{i}"},
        **extra,
    }


VIA = [{"family": "ipv6", "cost": 1}, {"family": "ipv4", "cost": 100}]


def mesh(n: int) -> dict[str, object]:
    names = [f"ix-r{i}" for i in range(1, n + 1)]
    return {
        "netmeister": {"group": "acme", "password": {"env": "T_NM"}},
        "defaults": DEFAULTS,
        "routers": {name: site(i) for i, name in enumerate(names, 1)},
        "links": [
            {"peers": [a, b], "via": VIA} for i, a in enumerate(names) for b in names[i + 1 :]
        ],
    }


def hub_and_spoke(spokes: int) -> dict[str, object]:
    hub = site(0, address={"ipv4": "203.0.113.1", "ipv6": "2001:db8::1"})
    hub["ddns"] = None  # a hub has no DDNS names: its spokes dial its addresses
    names = [f"ix-spoke{i}" for i in range(1, spokes + 1)]
    routers: dict[str, object] = {"ix-hub": hub}
    routers.update({name: site(i) for i, name in enumerate(names, 1)})
    return {
        "netmeister": {"group": "acme", "password": {"env": "T_NM"}},
        "defaults": DEFAULTS,
        "routers": routers,
        "links": [{"peers": ["ix-hub", name], "via": VIA} for name in names],
    }
