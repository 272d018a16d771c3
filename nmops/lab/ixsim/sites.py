"""Configs for lab routers: the seed network's golden configs and generated extra sites.

The golden configs ship as package data (``nmops/lab/data``) because /work/shared is not on
users' machines. Extra sites are the tokyo config with names, LAN and secrets substituted,
so they have exactly the seed's shape; they come in pairs joined by IKEv2 over IPv6 and IPv4.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

GOLDEN_ROUTERS = ("ix2215-tokyo", "ix2215-kagawa")
SEED_GROUP = "fetburner"
_TEMPLATE = "ix2215-tokyo"
_TEMPLATE_PEER = "ix2215-kagawa"
_TEMPLATE_LAN = "192.168.100."


@cache
def golden_config(name: str) -> str:
    if name not in GOLDEN_ROUTERS:
        raise ValueError(f"no golden config {name!r}; known: {', '.join(GOLDEN_ROUTERS)}")
    return resources.files("nmops.lab").joinpath("data", f"{name}.conf").read_text("utf-8")


def golden_configs() -> list[tuple[str, str]]:
    """``[(name, config text)]`` of the seed network's two routers."""
    return [(name, golden_config(name)) for name in GOLDEN_ROUTERS]


def site_name(number: int) -> str:
    return f"ix-site-{number:04d}"


def site_lan(number: int) -> str:
    """The /24 of site ``number``: 10.x.y.0/24, distinct for numbers 1..65535."""
    if not 1 <= number <= 0xFFFF:
        raise ValueError(f"site number {number} outside 1..65535")
    return f"10.{number >> 8}.{number & 0xFF}.0/24"


def site_config(number: int, peer: int, *, group: str = SEED_GROUP) -> str:
    """The config of site ``number`` whose tunnels go to site ``peer``."""
    name, peer_name = site_name(number), site_name(peer)
    lan_prefix = site_lan(number).rsplit(".", 1)[0] + "."
    text = golden_config(_TEMPLATE)
    # Order matters: the peer's name first, so the site's own name is not rewritten twice.
    text = text.replace(_TEMPLATE_PEER, "\0peer\0").replace(_TEMPLATE, name)
    text = text.replace("\0peer\0", peer_name)
    text = text.replace(_TEMPLATE_LAN, lan_prefix)
    text = text.replace(f".{SEED_GROUP}.", f".{group}.")
    text = text.replace(
        f"nm account {SEED_GROUP} password plain password-{SEED_GROUP}",
        f"nm account {group} password plain password-{group}",
    )
    return text.replace("user-A@example.com", f"user-{number}@example.com")


def generate_site_configs(
    count: int, *, start: int = 1, group: str = SEED_GROUP
) -> list[tuple[str, str]]:
    """``count`` extra sites numbered from ``start``, paired (1-2, 3-4 ...); with an odd
    count the last site points its tunnels at the first, which has none back."""
    if count < 0:
        raise ValueError("count must not be negative")
    numbers = list(range(start, start + count))
    configs: list[tuple[str, str]] = []
    for index, number in enumerate(numbers):
        if index % 2 == 0:
            peer = numbers[index + 1] if index + 1 < len(numbers) else numbers[0]
        else:
            peer = numbers[index - 1]
        configs.append((site_name(number), site_config(number, peer, group=group)))
    return configs
