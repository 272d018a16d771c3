"""Which path carried each VPN link, from the IKE SAs a check saw on each router.

A router's tunnels to one peer (the IPv6 tunnel and the IPv4 backup of the seed) carry the
link over IPv6 while an IPv6 SA is established, else over IPv4 while an IPv4 SA is, else the
link is ``down``. Only a change is written (``link_paths``), so the table grows with changes,
not with runs; the digest turns the rows back into time on each path.

The peer is named by its DDNS name without the ``v6`` label (``HOST.GROUP.ZONE``): both of a
peer's names, one per family, then name the same peer; the digest maps that to the router.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from nmops.check import CheckReport, RouterReport
from nmops.state.schema import LINK_PATHS, check_value, link_paths
from nmops.state.store import Store

IPV6, IPV4, DOWN = LINK_PATHS


@dataclass(frozen=True)
class PathSample:
    router: str
    peer: str  # HOST.GROUP.ZONE of the peer, or its literal address
    path: str  # ipv6 | ipv4 | down
    detail: str


@dataclass(frozen=True)
class PathChange:
    router: str
    peer: str
    path: str
    at: datetime
    detail: str | None


def peer_key(fqdn: str) -> str:
    """``kagawa.fetburner.v6.nmddns.jp`` -> ``kagawa.fetburner.nmddns.jp``."""
    labels = fqdn.lower().rstrip(".").split(".")
    if len(labels) > 3 and labels[2] == "v6":
        del labels[2]
    return ".".join(labels)


def router_samples(report: RouterReport) -> list[PathSample]:
    """One sample per peer of a router whose IKE SAs were read (pure)."""
    facts = report.facts
    if facts is None or not facts.reachable or facts.locked or facts.unreadable:
        return []
    established = {sa.tunnel: sa for sa in facts.ike if sa.established}
    by_peer: dict[str, dict[str, str]] = defaultdict(dict)  # peer -> family -> detail
    for tunnel in facts.tunnels:
        if tunnel.family is None:
            continue
        if tunnel.peer_fqdn:
            peer = peer_key(tunnel.peer_fqdn)
        elif tunnel.peer_address is not None:
            peer = str(tunnel.peer_address)
        else:
            continue
        seen = by_peer[peer]
        ike = established.get(tunnel.interface)
        if ike is not None:
            seen[tunnel.family] = f"{tunnel.interface} to {ike.remote}"
        else:
            seen.setdefault("", "")
    out = []
    for peer, families in sorted(by_peer.items()):
        path = next((f for f in (IPV6, IPV4) if f in families), DOWN)
        detail = families.get(path, "no established IKE SA")
        out.append(PathSample(report.name, peer, path, detail))
    return out


def samples(report: CheckReport) -> list[PathSample]:
    return [s for r in report.routers for s in router_samples(r)]


def record_paths(store: Store, run_id: int, found: Iterable[PathSample]) -> int:
    """Write the samples that differ from each link's last recorded path; how many."""
    found = list(found)
    if not found:
        return 0
    now = store.now()
    routers = sorted({s.router for s in found})
    latest = (
        sa.select(link_paths.c.router, link_paths.c.peer, sa.func.max(link_paths.c.id).label("id"))
        .where(link_paths.c.router.in_(routers))
        .group_by(link_paths.c.router, link_paths.c.peer)
        .subquery()
    )
    with store.begin() as conn:
        rows = conn.execute(
            sa.select(link_paths.c.router, link_paths.c.peer, link_paths.c.path).join(
                latest, link_paths.c.id == latest.c.id
            )
        ).all()
        current = {(r.router, r.peer): r.path for r in rows}
        new = [
            {
                "router": s.router,
                "peer": s.peer,
                "path": check_value("link path", s.path, LINK_PATHS),
                "at": now,
                "run_id": run_id,
                "detail": s.detail,
            }
            for s in found
            if current.get((s.router, s.peer)) != s.path
        ]
        if new:
            conn.execute(sa.insert(link_paths), new)
    return len(new)


def path_changes(store: Store, since: datetime) -> list[PathChange]:
    """Each link's changes since ``since``, with the change in force at ``since`` first."""
    before = (
        sa.select(sa.func.max(link_paths.c.id))
        .where(link_paths.c.at < since)
        .group_by(link_paths.c.router, link_paths.c.peer)
    )
    query = (
        sa.select(link_paths)
        .where(sa.or_(link_paths.c.at >= since, link_paths.c.id.in_(before)))
        .order_by(link_paths.c.id)
    )
    with store.read() as conn:
        return [PathChange(r.router, r.peer, r.path, r.at, r.detail) for r in conn.execute(query)]
