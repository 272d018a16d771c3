"""IKEv2 SAs of a simulated router (pure).

Each IKEv2 tunnel interface that is up gets an SA whose remote address is what DDNS says for
its `ikev2 peer-fqdn-ipv4|ipv6 FQDN` (or its literal `ikev2 peer ADDRESS`) when the SA is
(re)established, and only if a router really answers there. A healthy router re-resolves
when the SA's peer goes away (DPD); with the `ike-peer-stale` fault the pinned tunnels keep
the SA to the old address, as a stuck router does, until the tunnel is bounced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from nmops.dns.addresses import IPAddress
from nmops.ix import lines, routerconfig

IKE_PORT = 500


@dataclass(frozen=True)
class TunnelPeer:
    tunnel: str
    family: int  # 4 or 6
    fqdn: str | None
    address: IPAddress | None  # a literal peer address


@dataclass(frozen=True)
class IkeSa:
    tunnel: str
    local: IPAddress
    remote: IPAddress
    peer: str  # what the tunnel was configured to reach when the SA came up


def tunnel_peers(config: lines.Config) -> list[TunnelPeer]:
    peers: list[TunnelPeer] = []
    for tunnel in routerconfig.tunnels(config):
        if not tunnel.up or tunnel.family is None:
            continue
        family = 6 if tunnel.family == "ipv6" else 4
        peers.append(TunnelPeer(tunnel.interface, family, tunnel.peer_fqdn, tunnel.peer_address))
    return peers


def refresh_sas(
    current: Mapping[str, IkeSa],
    peers: Iterable[TunnelPeer],
    local: Mapping[int, IPAddress | None],
    resolve: Callable[[str, int], Iterable[IPAddress]],
    alive: Callable[[IPAddress], bool],
    *,
    pinned: set[str],
) -> dict[str, IkeSa]:
    """The SAs after one look at the world.

    ``local`` maps a family to this router's own address; ``resolve(fqdn, family)`` is the
    DDNS answer; ``alive(address)`` says whether a router answers IKE there; ``pinned`` are
    the tunnels of the `ike-peer-stale` fault, whose SAs keep their remote address.
    """
    result: dict[str, IkeSa] = {}
    for peer in peers:
        own = local.get(peer.family)
        if own is None:
            continue  # no address of that family: nothing to talk from
        wanted = peer.fqdn or str(peer.address)
        sa = current.get(peer.tunnel)
        if sa is not None and sa.peer != wanted:
            sa = None  # the tunnel now points elsewhere: renegotiate
        if sa is not None and peer.tunnel in pinned:
            result[peer.tunnel] = IkeSa(peer.tunnel, own, sa.remote, wanted)
            continue
        found = resolve(peer.fqdn, peer.family) if peer.fqdn else [peer.address]
        candidates = sorted((a for a in found if a is not None and alive(a)), key=int)
        if sa is not None and sa.local == own and sa.remote in candidates:
            result[peer.tunnel] = sa
        elif candidates:
            result[peer.tunnel] = IkeSa(peer.tunnel, own, candidates[0], wanted)
    return result
