"""The lockout guard: which edits touch what carries nmops's own management session (pure).

A sync that rewrites the interface nmops logs in through, its filters, the route back to
nmops, the SSH server, the login user or the tunnel a management path runs through could cut
the only way to a router nobody can reach physically. Such a plan is refused unless forced,
and even forced it is never combined with a reboot.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

from nmops.config.model import Router
from nmops.dns.addresses import IPAddress
from nmops.ix.lines import Config, Edit, negated

_ADDRESS_RE = re.compile(r"^(?:ip|ipv6) address (?P<address>[0-9A-Fa-f:.]+)/\d+")
_FILTER_RE = re.compile(r"^(?:ip|ipv6) filter (?P<name>\S+) \d+ (?:in|out)\b")
_ROUTE_RE = re.compile(r"^(?:ip|ipv6) route (?P<prefix>\S+)")


def _interface_of(config: Config, address: IPAddress) -> str | None:
    """The interface block that holds ``address`` (the one nmops connects to)."""
    for block in config.blocks("interface"):
        for child in block.children:
            match = _ADDRESS_RE.match(child.line)
            if match is None:
                continue
            try:
                if ipaddress.ip_address(match["address"]) == address:
                    return block.line
            except ValueError:
                continue
    return None


def _filters_on(config: Config, header: str) -> set[str]:
    block = config.block(header) or ()
    return {m["name"] for c in block if (m := _FILTER_RE.match(c.line))}


def _covers(prefix: str, addresses: Iterable[IPAddress]) -> bool:
    if prefix == "default":
        return True
    try:
        network = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False
    return any(a.version == network.version and a in network for a in addresses)


def _management_addresses(router: Router, answered: Sequence[str]) -> tuple[list[IPAddress], bool]:
    """The router's addresses nmops logs in to, and whether some path could not be told
    (a DNS name, an address no interface holds as a static one)."""
    out: list[IPAddress] = []
    unknown = False
    for host in [p.host for p in router.management] + list(answered):
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            unknown = True  # a DNS name: which interface it lands on is not known here
            continue
        if not address.is_loopback:  # the lab's routers listen on 127.0.0.1
            out.append(address)
    return out, unknown


_DYNAMIC_RE = re.compile(
    r"^(?:ip address (?:ipcp|dhcp)\b|ipv6 address (?:autoconfig|dhcp)\b|ppp binding )"
)
_OUTGOING_RE = re.compile(r"^ikev2 outgoing-interface (\S+)")
_BINDING_RE = re.compile(r"^ppp binding (\S+)")
_GUARDED_WORDS = ("ssh-server", "svintr-config", "pki")


def _carrying(router: Router, running: Config, answered: Sequence[str]) -> set[str]:
    """The blocks the management session depends on: its interfaces (tunnels named in `via`,
    the interface holding the address nmops reaches), the WANs those tunnels run over, and
    their PPP profiles. When a path cannot be told, every interface that gets its address
    dynamically counts (fail closed)."""
    carrying = {f"interface {t}" for t in router.management_tunnels}
    addresses, unknown = _management_addresses(router, answered)
    for address in addresses:
        header = _interface_of(running, address)
        if header is not None:
            carrying.add(header)
        else:
            unknown = True  # not a static address: PPPoE, DHCP, autoconfig
    if unknown:
        for block in running.blocks("interface"):
            if any(_DYNAMIC_RE.match(c.line) for c in block.children):
                carrying.add(block.line)
    for header in list(carrying):
        for child in running.block(header) or ():
            if match := _OUTGOING_RE.match(child.line):
                carrying.add(f"interface {match[1]}")
    for header in list(carrying):
        for child in running.block(header) or ():
            if match := _BINDING_RE.match(child.line):
                carrying.add(f"ppp profile {match[1]}")
    return carrying


def lockout_reasons(
    router: Router,
    running: Config,
    edits: Sequence[Edit],
    *,
    nmops_addresses: Sequence[IPAddress] = (),
    answered: Sequence[str] = (),
) -> list[str]:
    """Why ``edits`` could cut nmops off ``router`` (empty: they do not touch its path).
    ``nmops_addresses``: where nmops's sessions come from, as the router sees them;
    ``answered``: the hosts nmops reached the router at in this run."""
    carrying = _carrying(router, running, answered)
    filters: set[str] = set()
    for header in carrying:
        filters |= _filters_on(running, header)
    login = router.login.username if router.login is not None else None
    reasons: list[str] = []
    for edit in edits:
        body = negated(edit.line) or edit.line
        where = edit.context[0] if edit.context else body
        why = None
        if where in carrying:
            why = f"{where.split()[-1]} carries nmops's management session"
        elif body.split()[0] in _GUARDED_WORDS:
            why = "the SSH server nmops logs in through (its service, its host key)"
        elif login is not None and (body + " ").startswith(f"username {login} "):
            why = f"the login user {login}"
        elif (m := _ROUTE_RE.match(body)) and _covers(m["prefix"], nmops_addresses):
            why = "the route back to nmops"
        elif (words := body.split())[1:2] == ["access-list"] and words[2:3] and words[2] in filters:
            why = f"access list {words[2]} filters the management interface"
        if why is not None:
            reasons.append(f"{edit}: {why}")
    return reasons
