"""Writing the ``nmops.yaml`` + ``inventory.yaml`` pair that points nmops at a lab."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class LabRouter:
    name: str
    site: str | None = None
    # None: no DDNS names (a router with a fixed address, or a twin in another group).
    ddns: dict[str, str] | None = field(
        default_factory=lambda: {"ipv4": "GigaEthernet0.1", "ipv6": "GigaEthernet2.0"}
    )
    ddns_hostname: str | None = None
    lan: dict[str, str] | None = None
    expect: dict[str, list[str]] | None = None
    management: list[dict[str, Any]] | None = None
    # What `nmops peers render` builds its config from (wan, psk, hgw, ...), when described.
    network: dict[str, Any] | None = None


def write_lab_config(
    directory: Path,
    *,
    dns_servers: list[str],
    routers: list[LabRouter],
    group: str = "fetburner",
    zone: str = "nmddns.jp",
    dns: dict[str, Any] | None = None,
    extra_settings: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    links: list[dict[str, Any]] | None = None,
    netmeister_password: dict[str, str] | None = None,
) -> Path:
    """Write both files into ``directory``; returns the path of ``nmops.yaml``."""
    directory.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        "inventory": "inventory.yaml",
        "dns": {
            "servers": dns_servers,
            "timeout": 1.0,
            "retries": 1,
            "allow_documentation": True,  # the lab hands out documentation-range addresses
            **(dns or {}),
        },
        "state": {"url": "sqlite:///state.db"},  # beside this file, not the user's own
        **(extra_settings or {}),
    }
    inventory: dict[str, Any] = {
        "netmeister": {
            "group": group,
            "zone": zone,
            **({"password": netmeister_password} if netmeister_password else {}),
        },
        "defaults": defaults or {},
        "routers": {},
        **({"links": links} if links else {}),
    }
    for r in routers:
        body: dict[str, Any] = {}
        for key in ("site", "ddns", "ddns_hostname", "lan", "expect", "management"):
            value = getattr(r, key)
            if value is not None:
                body[key] = value
        body.update(r.network or {})
        inventory["routers"][r.name] = body
    header = "# Written by nmops for a lab on 127.0.0.1; safe to delete.\n"
    path = directory / "nmops.yaml"
    path.write_text(header + _dump(settings), encoding="utf-8")
    (directory / "inventory.yaml").write_text(header + _dump(inventory), encoding="utf-8")
    return path


class _NoAliases(yaml.SafeDumper):
    """nmops refuses YAML aliases (they are how alias bombs work): never write one, even
    for a value shared by two routers."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_NoAliases, sort_keys=False)
