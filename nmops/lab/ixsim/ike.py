"""IKEv2 SAs of a simulated router (pure).

Each `interface TunnelX` with `ikev2 peer-fqdn-ipv4|ipv6 FQDN` gets an SA whose remote address
is what DDNS says for FQDN when the SA is (re)established, and only if a router really
answers there. A healthy router re-resolves when the SA's peer goes away (DPD); with the
`ike-peer-stale` fault it keeps the SA to the old address, as a stuck router does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from nmops.dns.addresses import IPAddress
from nmops.lab.ixsim.config import RunningConfig

IKE_PORT = 500
_PEER_RE = re.compile(r"^ikev2 peer-fqdn-ipv(?P<family>[46]) (?P<fqdn>\S+)")


@dataclass(frozen=True)
class TunnelPeer:
    tunnel: str
    family: int  # 4 or 6
    fqdn: str


@dataclass(frozen=True)
class IkeSa:
    tunnel: str
    local: IPAddress
    remote: IPAddress
    peer_fqdn: str


def tunnel_peers(config: RunningConfig) -> list[TunnelPeer]:
    peers: list[TunnelPeer] = []
    for header, children in config.blocks("interface Tunnel"):
        if "shutdown" in children:
            continue
        for child in children:
            match = _PEER_RE.match(child)
            if match is not None:
                tunnel = header.split()[1]
                peers.append(TunnelPeer(tunnel, int(match["family"]), match["fqdn"].lower()))
    return peers


def refresh_sas(
    current: Mapping[str, IkeSa],
    peers: Iterable[TunnelPeer],
    local: Mapping[int, IPAddress | None],
    resolve: Callable[[str, int], Iterable[IPAddress]],
    alive: Callable[[IPAddress], bool],
    *,
    stale: bool,
) -> dict[str, IkeSa]:
    """The SAs after one look at the world.

    ``local`` maps a family to this router's own address; ``resolve(fqdn, family)`` is the
    DDNS answer; ``alive(address)`` says whether a router answers IKE there; ``stale`` is the
    `ike-peer-stale` fault: existing SAs keep their remote address whatever happens.
    """
    result: dict[str, IkeSa] = {}
    for peer in peers:
        own = local.get(peer.family)
        if own is None:
            continue  # no address of that family: nothing to talk from
        sa = current.get(peer.tunnel)
        if sa is not None and sa.peer_fqdn != peer.fqdn:
            sa = None  # the tunnel now points elsewhere: renegotiate
        if sa is not None and stale:
            result[peer.tunnel] = IkeSa(peer.tunnel, own, sa.remote, peer.fqdn)
            continue
        candidates = sorted(
            (a for a in resolve(peer.fqdn, peer.family) if alive(a)), key=lambda a: int(a)
        )
        if sa is not None and sa.local == own and sa.remote in candidates:
            result[peer.tunnel] = sa
        elif candidates:
            result[peer.tunnel] = IkeSa(peer.tunnel, own, candidates[0], peer.fqdn)
    return result
