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


def _management_addresses(router: Router) -> list[IPAddress]:
    out: list[IPAddress] = []
    for path in router.management:
        try:
            out.append(ipaddress.ip_address(path.host))
        except ValueError:
            continue  # a DNS name: no interface of the router's own can be told from it
    return out


def lockout_reasons(
    router: Router,
    running: Config,
    edits: Sequence[Edit],
    *,
    nmops_addresses: Sequence[IPAddress] = (),
) -> list[str]:
    """Why ``edits`` could cut nmops off ``router`` (empty: they do not touch its path).
    ``nmops_addresses``: where nmops's sessions come from, as the router sees them."""
    carrying = {f"interface {t}" for t in router.management_tunnels}
    for address in _management_addresses(router):
        header = _interface_of(running, address)
        if header is not None:
            carrying.add(header)
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
            why = f"{where.split()[1]} carries nmops's management session"
        elif body.split()[0] in ("ssh-server", "svintr-config"):
            why = "the SSH server nmops logs in through"
        elif login is not None and (body + " ").startswith(f"username {login} "):
            why = f"the login user {login}"
        elif (m := _ROUTE_RE.match(body)) and _covers(m["prefix"], nmops_addresses):
            why = "the route back to nmops"
        elif (words := body.split())[1:2] == ["access-list"] and words[2:3] and words[2] in filters:
            why = f"access list {words[2]} filters the management interface"
        if why is not None:
            reasons.append(f"{edit}: {why}")
    return reasons
