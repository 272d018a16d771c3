"""The network part of the inventory: WANs, a hub's fixed address, the links between routers
and the tunnels they make, the `peers` settings. What `nmops peers` renders from.

Strict like the rest of the config, and every value here ends up in a router line, so each is
checked for the shape that line takes (no spaces, control characters or `?`: the IX CLI reads
`?` as a request for help, wherever it stands).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nmops.config.secrets import SecretRef
from nmops.names import check_interface, check_name

if TYPE_CHECKING:
    from nmops.config.model import Inventory, Router

Family = Literal["ipv4", "ipv6"]
FAMILIES: tuple[Family, ...] = ("ipv6", "ipv4")
Interface = Annotated[str, AfterValidator(check_interface)]
RouterName = Annotated[str, AfterValidator(check_name)]
MAP_E_TUNNEL = 0  # Tunnel0.0 carries MAP-E: never a VPN tunnel
MAX_TUNNEL = 9999  # the interface-name pattern's limit


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- values that go into router lines ---------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
# A router line's word: printable ASCII without spaces and without `?` (the CLI's help key).
_WORD = re.compile(r"[!-~]{1,128}", re.ASCII)


def check_token(value: str) -> str:
    """A name the config gives something (a PPP profile, a model): letters, digits, `.-_`."""
    if not _TOKEN.fullmatch(value):
        raise ValueError(f"{value!r} is not a name (letters, digits, '.', '-', '_'; 64 at most)")
    return value


def check_word(value: str, what: str = "value") -> str:
    """One word of a router line: printable ASCII, no spaces, no `?`. Secrets pass here too,
    so the message never quotes the value."""
    if not _WORD.fullmatch(value) or "?" in value:
        raise ValueError(
            f"{what} cannot go into a router line: one word of printable ASCII, "
            "no spaces and no '?' (1 to 128 characters)"
        )
    return value


Token = Annotated[str, AfterValidator(check_token)]


def _secret(value: Any, info: ValidationInfo) -> SecretRef:
    # The one rule for secret references is the config model's; imported here, when used,
    # because that module imports this one.
    from nmops.config.model import _secret as reference

    return reference(value, info)


Secret = Annotated[SecretRef, BeforeValidator(_secret)]


def _user(value: Any, info: ValidationInfo) -> SecretRef | str:
    """A PPPoE user name: written out (it is an account name), or a secret reference."""
    if isinstance(value, str):
        return check_word(value, "the user name")
    return _secret(value, info)


UserName = Annotated[SecretRef | str, PlainValidator(_user)]


# --- per router ------------------------------------------------------------------------------


class Ipoe(_Strict):
    """IPv6 IPoE on the WAN port, with MAP-E (IPv4 over it, on Tunnel0.0) or without."""

    interface: Interface
    mode: Literal["map-e-ocn", "none"] = "map-e-ocn"
    # Where the global IPv6 address comes from, and so where it sits [C]: RA from upstream
    # with ND proxy puts it on the LAN side; DHCPv6-PD or autoconfig on the WAN side.
    ipv6: Literal["nd-proxy", "dhcpv6-pd", "autoconfig"] = "nd-proxy"

    @property
    def map_e(self) -> bool:
        return self.mode == "map-e-ocn"


class Pppoe(_Strict):
    """IPv4 over PPPoE (the backup path when MAP-E is there)."""

    interface: Interface
    profile: Token = "flets-v4"
    username: UserName
    password: Secret


class Wan(_Strict):
    ipoe: Ipoe | None = None
    pppoe: Pppoe | None = None

    @model_validator(mode="after")
    def _sane(self) -> Wan:
        if self.ipoe is None and self.pppoe is None:
            raise ValueError("name at least one WAN: ipoe or pppoe")
        if (
            self.ipoe is not None
            and self.pppoe is not None
            and (self.ipoe.interface == self.pppoe.interface)
        ):
            raise ValueError("ipoe and pppoe need interfaces of their own")
        return self

    def interface(self, family: Family) -> str | None:
        """The WAN a tunnel of ``family`` goes out on."""
        if family == "ipv6":
            return self.ipoe.interface if self.ipoe is not None else None
        return self.pppoe.interface if self.pppoe is not None else None


class Monitor(_Strict):
    target: ipaddress.IPv4Address  # the watch-group's probe of the MAP-E path


class Hgw(_Strict):
    # The router's own address on the home gateway's segment (its web UI, through NAPT).
    address: ipaddress.IPv4Interface


class FixedAddress(_Strict):
    """A hub's fixed addresses: its peers dial these (`ikev2 peer ADDRESS`), not names."""

    ipv4: ipaddress.IPv4Address | None = None
    ipv6: ipaddress.IPv6Address | None = None

    @model_validator(mode="after")
    def _one(self) -> FixedAddress:
        if self.ipv4 is None and self.ipv6 is None:
            raise ValueError("name at least one address: ipv4 or ipv6")
        return self

    def of(self, family: Family) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        return self.ipv4 if family == "ipv4" else self.ipv6


# --- links -----------------------------------------------------------------------------------


def _tunnel_number(value: Any) -> int:
    """``3`` or ``Tunnel3.0``: the tunnel's number."""
    if isinstance(value, str):
        match = re.fullmatch(r"Tunnel(\d{1,4})\.0", value, re.ASCII)
        if match is None:
            raise ValueError("a tunnel is a number or TunnelN.0")
        value = int(match[1])
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("a tunnel is a number or TunnelN.0")
    if value == MAP_E_TUNNEL:
        raise ValueError("Tunnel0.0 is reserved for MAP-E: pin Tunnel1.0 or above")
    if not 1 <= value <= MAX_TUNNEL:
        raise ValueError(f"a tunnel number is 1 to {MAX_TUNNEL}")
    return value


TunnelNumber = Annotated[int, PlainValidator(_tunnel_number)]


class Via(_Strict):
    """One tunnel of a link on each end: its family, OSPF cost, and optionally its number."""

    family: Family
    cost: int = Field(1, ge=1, le=65535)
    tunnel: TunnelNumber | None = None


class Link(_Strict):
    peers: tuple[RouterName, RouterName]
    via: list[Via] = Field(min_length=1)

    @field_validator("peers")
    @classmethod
    def _two(cls, value: tuple[str, str]) -> tuple[str, str]:
        if value[0] == value[1]:
            raise ValueError(f"a link joins two routers, not {value[0]} with itself")
        return value

    @field_validator("via")
    @classmethod
    def _families_once(cls, value: list[Via]) -> list[Via]:
        families = [v.family for v in value]
        for family in set(families):
            if families.count(family) > 1:
                raise ValueError(f"one tunnel per family: {family} is listed twice")
        return value


class PeersSettings(_Strict):
    """`peers:` in nmops.yaml."""

    # A directory whose templates replace the shipped ones of the same name (relative to
    # nmops.yaml): how a site adapts the render to other models and shapes.
    templates: str | None = None


# --- tunnels, numbered -----------------------------------------------------------------------


@dataclass(frozen=True)
class TunnelSlot:
    """One tunnel on one router: which link and ``via`` entry it is, and its number."""

    link: int
    via: int
    router: str
    peer: str
    family: Family
    cost: int
    number: int

    @property
    def interface(self) -> str:
        return f"Tunnel{self.number}.0"


def _ends(inventory: Inventory) -> Iterator[tuple[int, Link]]:
    """The links whose both ends are in the inventory (the others are config errors)."""
    for index, link in enumerate(inventory.links):
        if all(p in inventory.routers for p in link.peers):
            yield index, link


def tunnel_slots(inventory: Inventory) -> dict[str, tuple[TunnelSlot, ...]]:
    """Every router's tunnels (see :func:`router_slots`)."""
    return {name: router_slots(inventory, name) for name in inventory.routers}


def router_slots(inventory: Inventory, name: str) -> tuple[TunnelSlot, ...]:
    """``name``'s tunnels, numbered deterministically: pinned numbers first, then, in the
    order of ``links`` and of each link's ``via``, the lowest free number from 1. The same
    inventory always yields the same numbers; a link added at the end renumbers nothing."""
    mine = [(i, link) for i, link in _ends(inventory) if name in link.peers]
    pinned = {v.tunnel for _, link in mine for v in link.via if v.tunnel is not None}
    used: set[int] = set()
    slots = []
    free = 1
    for index, link in mine:
        peer = link.peers[1] if link.peers[0] == name else link.peers[0]
        for k, via in enumerate(link.via):
            number = via.tunnel
            if number is None or number in used:
                while free in pinned or free in used:
                    free += 1
                number = free
            used.add(number)
            slots.append(TunnelSlot(index, k, name, peer, via.family, via.cost, number))
    return tuple(slots)


# --- what the links need of the routers ------------------------------------------------------

Problem = tuple[tuple[str | int, ...], str]  # (where in the inventory, what is wrong)


def reachable(router: Router, family: Family) -> bool:
    """Can a peer find ``router`` over ``family``: a DDNS name, or a fixed address?"""
    fixed = router.address.of(family) if router.address is not None else None
    return router.notify_interface(family) is not None or fixed is not None


def link_problems(inventory: Inventory) -> list[Problem]:
    """What the links ask that the routers cannot give, each located at the link."""
    problems: list[Problem] = []
    seen: dict[frozenset[str], int] = {}
    pins: dict[tuple[str, int], tuple[int, int]] = {}
    for i, link in enumerate(inventory.links):
        unknown = [j for j, p in enumerate(link.peers) if p not in inventory.routers]
        for j in unknown:
            problems.append(
                (("links", i, "peers", j), f"no router named {link.peers[j]!r} in the inventory")
            )
        if unknown:
            continue
        pair = frozenset(link.peers)
        if pair in seen:
            problems.append(
                (
                    ("links", i, "peers"),
                    f"{link.peers[0]} and {link.peers[1]} are joined by links.{seen[pair]} "
                    "already: list every family in that link's via",
                )
            )
        seen.setdefault(pair, i)
        routers = [inventory.routers[p] for p in link.peers]
        for j, router in enumerate(routers):
            if router.psk is None:
                problems.append(
                    (("links", i, "peers", j), f"{router.name} has no `psk`: a link needs both")
                )
            if router.lan is None:
                problems.append(
                    (
                        ("links", i, "peers", j),
                        f"{router.name} has no `lan`: its tunnels borrow the LAN's address",
                    )
                )
        for k, via in enumerate(link.via):
            where = ("links", i, "via", k)
            for router in routers:
                if not reachable(router, via.family):
                    problems.append(
                        (
                            (*where, "family"),
                            f"{router.name} cannot do {via.family}: it has no DDNS name "
                            f"(ddns.{via.family}) and no fixed address (address.{via.family})",
                        )
                    )
                if router.wan is None or router.wan.interface(via.family) is None:
                    wan = "wan.ipoe" if via.family == "ipv6" else "wan.pppoe"
                    problems.append(
                        (
                            (*where, "family"),
                            f"{router.name} has no WAN for {via.family} ({wan})",
                        )
                    )
                if via.tunnel is not None:
                    first = pins.setdefault((router.name, via.tunnel), (i, k))
                    if first != (i, k):
                        problems.append(
                            (
                                (*where, "tunnel"),
                                f"Tunnel{via.tunnel}.0 on {router.name} is pinned by "
                                f"links.{first[0]}.via.{first[1]} already",
                            )
                        )
    return problems


def router_problems(router: Router) -> list[Problem]:
    """What one router's own keys say against each other (needed only to render it)."""
    problems: list[Problem] = []
    base: tuple[str | int, ...] = ("routers", router.name)
    wan = router.wan
    if wan is None:
        return problems
    if wan.ipoe is not None and wan.ipoe.map_e and wan.pppoe is not None and router.monitor is None:
        problems.append(
            (
                (*base, "monitor"),
                "MAP-E with a PPPoE backup needs monitor.target (the watch-group's probe)",
            )
        )
    if router.lan is not None:
        for kind, ifname in (("ipoe", wan.interface("ipv6")), ("pppoe", wan.interface("ipv4"))):
            if ifname is not None and ifname == router.lan.interface:
                problems.append(
                    ((*base, "wan", kind, "interface"), "the LAN and a WAN need their own ports")
                )
    if router.hgw is not None and wan.ipoe is None:
        problems.append(((*base, "hgw"), "hgw sits on the IPoE WAN port: wan.ipoe is missing"))
    return problems
