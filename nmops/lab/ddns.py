"""A stand-in for NetMeister DDNS: an in-memory registry served by an authoritative DNS server.

NetMeister's cloud cannot run here, so the lab answers for the zone itself, the way an
authoritative server does: NOERROR with the records, NOERROR/NODATA or NXDOMAIN with the zone's
SOA in the authority section, REFUSED outside the zone, TCP for answers that do not fit in UDP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Iterable
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from nmops.dns.addresses import IPAddress

log = logging.getLogger(__name__)

_RDTYPES = {"A": dns.rdatatype.A, "AAAA": dns.rdatatype.AAAA}


def _key(fqdn: str) -> str:
    return fqdn.lower().rstrip(".")


class DdnsRegistry:
    """Names and addresses as NetMeister would hold them (asyncio-only, not thread-safe)."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, frozenset[IPAddress]]] = {}

    def set(self, fqdn: str, rdtype: str, addresses: Iterable[IPAddress]) -> None:
        """Register ``addresses`` for ``fqdn``/``rdtype``, replacing what was there."""
        if rdtype not in _RDTYPES:
            raise ValueError(f"rdtype must be A or AAAA, not {rdtype!r}")
        addrs = frozenset(addresses)
        want = 4 if rdtype == "A" else 6
        if any(a.version != want for a in addrs):
            raise ValueError(f"{rdtype} record for {fqdn} given an address of another family")
        self._records.setdefault(_key(fqdn), {})[rdtype] = addrs

    def remove(self, fqdn: str, rdtype: str) -> None:
        """Drop one record type; the name itself stays (so it answers NODATA, not NXDOMAIN)."""
        self._records.get(_key(fqdn), {}).pop(rdtype, None)

    def get(self, fqdn: str, rdtype: str) -> frozenset[IPAddress]:
        return self._records.get(_key(fqdn), {}).get(rdtype, frozenset())

    def exists(self, fqdn: str) -> bool:
        return _key(fqdn) in self._records

    def names(self) -> list[str]:
        return sorted(self._records)


def answer(
    registry: DdnsRegistry, zone: dns.name.Name, query: dns.message.Message, ttl: int = 60
) -> dns.message.Message:
    """Build the authoritative answer to ``query`` (pure apart from reading the registry)."""
    response = dns.message.make_response(query)
    response.flags &= ~dns.flags.RA
    if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
        response.set_rcode(dns.rcode.NOTIMP)
        return response
    question = query.question[0]
    qname, qtype = question.name, question.rdtype
    if question.rdclass != dns.rdataclass.IN or not qname.is_subdomain(zone):
        response.set_rcode(dns.rcode.REFUSED)
        return response
    response.flags |= dns.flags.AA
    soa = dns.rrset.from_text(
        zone, ttl, "IN", "SOA", f"ns1.{zone} hostmaster.{zone} 1 3600 600 86400 {ttl}"
    )
    if qname == zone:
        if qtype == dns.rdatatype.SOA:
            response.answer.append(soa)
        elif qtype == dns.rdatatype.NS:
            response.answer.append(dns.rrset.from_text(zone, ttl, "IN", "NS", f"ns1.{zone}"))
        else:
            response.authority.append(soa)
        return response
    key = _key(qname.to_text())
    if not registry.exists(key):
        response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(soa)
        return response
    rdtype_text = dns.rdatatype.to_text(qtype)
    addrs = registry.get(key, rdtype_text) if rdtype_text in _RDTYPES else frozenset()
    if addrs:
        rrset = dns.rrset.from_text_list(
            qname, ttl, "IN", rdtype_text, sorted(str(a) for a in addrs)
        )
        response.answer.append(rrset)
    else:
        response.authority.append(soa)
    return response


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DdnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        wire = self.server.handle(data, udp=True)
        if wire is not None and self.transport is not None:
            self.transport.sendto(wire, addr)


class DdnsServer:
    """Serves a :class:`DdnsRegistry` as the authoritative server of ``zone`` (UDP and TCP)."""

    def __init__(
        self,
        registry: DdnsRegistry,
        zone: str,
        host: str = "127.0.0.1",
        port: int = 0,
        ttl: int = 60,
    ) -> None:
        self.registry = registry
        self.zone = dns.name.from_text(zone)
        self.host = host
        self.port = port
        self.ttl = ttl
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def handle(self, wire: bytes, *, udp: bool) -> bytes | None:
        """Answer one query in wire form; ``None`` for garbage that deserves no answer."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = answer(self.registry, self.zone, query, self.ttl)
        limit = 65535
        if udp:
            limit = query.payload if query.edns >= 0 else 512
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            # Too large for UDP: the header alone, with TC set, sends the client to TCP.
            response.answer.clear()
            response.authority.clear()
            response.flags |= dns.flags.TC
            return response.to_wire()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # Bind TCP first so a port of 0 picks one that UDP then shares.
        self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port)
        self.port = self._tcp.sockets[0].getsockname()[1]
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(self.host, self.port)
        )
        self._udp = transport
        log.info("lab DDNS serving %s on %s", self.zone, self.address)

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(2)
                (length,) = struct.unpack("!H", header)
                wire = self.handle(await reader.readexactly(length), udp=False)
                if wire is None:
                    break
                writer.write(struct.pack("!H", len(wire)) + wire)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
