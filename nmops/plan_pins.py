"""Pins (pure): while a peer's DDNS name stays broken, point the tunnels that use it at the
peer's real address, known from the peer's own CLI; back to the name once DNS is right.

Only with ``policy.pin: on``. A pin is a running-config change that is never saved: a reboot
brings back the FQDN, which stays the config of record (and what `peers diff` renders). A
pin is not set on a tunnel that carries nmops's management session: re-pointing it resets its
SA. Pins already set are taken back when the name is right, whatever the policy says now.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from nmops.config.model import Family
from nmops.config.policy import Policy
from nmops.ix.lines import Edit
from nmops.ix.routerconfig import Tunnel
from nmops.peers.diff import pinned_line
from nmops.plan import NAME_PROBLEMS, OpenPin, PinSpec, Rung, Situation, Step
from nmops.status import Status

if TYPE_CHECKING:
    from nmops.check import RouterReport

_FQDN_KEYWORD: dict[Family, str] = {"ipv4": "peer-fqdn-ipv4", "ipv6": "peer-fqdn-ipv6"}


def _peer_line(situation: Situation, tunnel: str) -> str | None:
    facts = situation.report.facts
    if facts is None or facts.running is None:
        return None
    block = facts.running.block(f"interface {tunnel}") or ()
    return next((c.line for c in block if c.line.startswith("ikev2 peer")), None)


def _name_status(situation: Situation, family: Family) -> Status | None:
    return next((n.status for n in situation.report.names if n.family == family), None)


def _broken(situation: Situation, family: Family, policy: Policy) -> bool:
    status = _name_status(situation, family)
    seen = situation.counts.get(f"name:{family}", 0)
    return status in NAME_PROBLEMS and seen >= policy.confirm_after


def _pin(
    situation: Situation, tunnel: Tunnel, peer: Situation, family: Family, line: str
) -> Step | None:
    facts = peer.report.facts
    addresses = sorted(map(str, (facts.addresses.get(family, ()) if facts else ())))
    if not addresses or tunnel.peer_fqdn is None:
        return None  # the peer's real address is not known: nothing to pin to
    address = addresses[0]
    edit = Edit((f"interface {tunnel.interface}",), pinned_line(line, address))
    name = situation.router.name
    blocked: tuple[str, ...] = ()
    if tunnel.interface in situation.management_tunnels:
        blocked = (f"nmops reaches {name} through {tunnel.interface}: it does not re-point it",)
    return Step(
        name,
        Rung.PIN,
        (f"pin:{tunnel.interface}",),
        f"{peer.router.name}'s {family} name {tunnel.peer_fqdn} has been broken for "
        f"{peer.counts.get(f'name:{family}', 0)} checks; its CLI says its address is {address}",
        (edit,),
        blocked,
        tunnel.interface,
        PinSpec(peer.router.name, family, address, tunnel.peer_fqdn),
    )


def _unpin(situation: Situation, pin: OpenPin, line: str) -> Step:
    words = line.split()
    back = " ".join(["ikev2", _FQDN_KEYWORD[pin.family], pin.fqdn, *words[3:]])
    return Step(
        situation.router.name,
        Rung.UNPIN,
        (f"pin:{pin.tunnel}",),
        f"{pin.peer}'s {pin.family} name {pin.fqdn} is right again: back to the name",
        (Edit((f"interface {pin.tunnel}",), back),),
        (),
        pin.tunnel,
        PinSpec(pin.peer, pin.family, pin.address, pin.fqdn),
    )


def pin_steps(
    situations: Sequence[Situation],
    policy: Policy,
    pins: Sequence[OpenPin],
    owners: Mapping[str, tuple[str, Family]],
) -> list[Step]:
    """``owners``: each inventory DDNS name -> (its router, its family)."""
    by_router = {s.router.name: s for s in situations}
    open_pins = {(p.router, p.tunnel): p for p in pins}
    steps: list[Step] = []
    for situation in situations:
        facts = situation.report.facts
        if facts is None or not facts.reachable:
            continue
        for tunnel in facts.tunnels:
            pin = open_pins.get((situation.router.name, tunnel.interface))
            owner = owners.get(pin.fqdn if pin else (tunnel.peer_fqdn or ""))
            line = _peer_line(situation, tunnel.interface)
            if owner is None or line is None or owner[0] not in by_router:
                continue  # not an inventory peer, or not looked at in this run
            peer, family = by_router[owner[0]], owner[1]
            if pin is None:
                if policy.pin == "on" and _broken(peer, family, policy):
                    step = _pin(situation, tunnel, peer, family, line)
                    if step is not None:
                        steps.append(step)
            elif _name_status(peer, family) is Status.OK:
                steps.append(_unpin(situation, pin, line))
    return steps


class HeldPin(Protocol):
    @property
    def router(self) -> str: ...
    @property
    def tunnel(self) -> str: ...
    @property
    def address(self) -> str: ...


def _points_at(line: str, address: str) -> bool:
    words = line.split()
    if words[:2] != ["ikev2", "peer"] or len(words) < 3:
        return False
    try:  # the IX may show an address in another spelling than nmops typed it
        return ipaddress.ip_address(words[2]) == ipaddress.ip_address(address)
    except ValueError:
        return False


P = TypeVar("P", bound=HeldPin)


def pins_gone(pins: Sequence[P], reports: Sequence[RouterReport]) -> list[tuple[P, str]]:
    """The open pins a router's running config no longer holds, each with why. A pin is never
    saved, so a reboot (nmops's own last rung, or a power cut) takes it back to the name; a
    person may have changed the tunnel or removed it. Left open, such a pin would keep nmops
    from pinning again and `peers sync` waiting for ever. Only routers whose running config
    was read this time say anything."""
    running = {
        r.name: r.facts.running
        for r in reports
        if r.facts is not None and r.facts.reachable and r.facts.running is not None
    }
    out: list[tuple[P, str]] = []
    for pin in pins:
        config = running.get(pin.router)
        if config is None:
            continue
        block = config.block(f"interface {pin.tunnel}")
        if block is None:
            out.append((pin, f"{pin.tunnel} is no longer in the running config"))
            continue
        line = next((c.line for c in block if c.line.startswith("ikev2 peer")), None)
        if line is None or not _points_at(line, pin.address):
            out.append(
                (
                    pin,
                    f"the running config no longer points {pin.tunnel} at {pin.address} "
                    "(a reboot brings the name back; or someone changed it)",
                )
            )
    return out
