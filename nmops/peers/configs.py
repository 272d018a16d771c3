"""The configs `peers lint` judges: rendered from the inventory, or read from the routers
(the read-only session of `nmops check`). One router that cannot be rendered or read never
stops the others: it is listed with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nmops.config.load import Config
from nmops.config.model import Router
from nmops.dns.addresses import IPAddress
from nmops.errors import NmopsError
from nmops.ix.lines import Config as Tree
from nmops.peers.render import render_config


@dataclass
class Configs:
    trees: dict[str, Tree] = field(default_factory=dict)
    # router -> interface -> global IPv6 addresses it really has (read from the router)
    addresses: dict[str, dict[str, tuple[IPAddress, ...]]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # router -> why it is not here

    def complete(self, config: Config) -> bool:
        """Every router of the inventory is here."""
        return set(self.trees) >= set(config.inventory.routers)


def templates_dir(config: Config) -> Path | None:
    templates = config.settings.peers.templates
    return config.resolve_path(templates) if templates else None


def rendered(config: Config) -> Configs:
    """Every router's rendered config, secrets as placeholders (lint reads none)."""
    out = Configs()
    for router in config.routers():
        try:
            out.trees[router.name] = render_config(
                config.inventory, router.name, secret=None, templates=templates_dir(config)
            )
        except NmopsError as exc:
            out.failed[router.name] = str(exc)
    return out


def linked(config: Config, selected: list[Router]) -> list[Router]:
    """The selected routers and the peers their links join them to, in inventory order;
    all routers when the links name none of them (the peers are unknown)."""
    names = {r.name for r in selected}
    wanted = set(names)
    for link in config.inventory.links:
        if names & set(link.peers):
            wanted |= set(link.peers)
    if wanted == names and len(selected) < len(config.inventory.routers):
        return config.routers()
    return [r for r in config.routers() if r.name in wanted]


async def running(config: Config, routers: list[Router]) -> Configs:
    """The running configs of ``routers``, and the global IPv6 addresses each really has on
    its IPv6 notify interface (the driver's facts)."""
    from nmops.ix.facts import collect_all

    out = Configs()
    facts = await collect_all(config, routers)
    for name, f in facts.items():
        if f.running is None:
            out.failed[name] = f.error or "the running config was not read"
            continue
        out.trees[name] = f.running
        if "ipv6" in f.interfaces:
            out.addresses[name] = {f.interfaces["ipv6"]: f.addresses.get("ipv6", ())}
    return out
