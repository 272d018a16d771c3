"""DNS wire format for the one query shape nmops sends (pure).

Building a query with dnspython and parsing every reply with ``dns.message.from_wire`` costs
about 170 µs a query here, more than the round trip to a local server. nmops asks only one kind
of question (A or AAAA, recursion off, EDNS), so it builds the wire once per name and reads the
common replies (address records for the name, or an empty answer with the zone's SOA) directly.
Anything else (a CNAME, an owner that is not the question, a malformed packet) goes through
dnspython in full, and the tests check both readers agree.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from nmops.dns.addresses import IPAddress

A = 1
AAAA = 28
_CNAME = 5
_SOA = 6
_OPT = 41
_IN = 1
_FLAG_QR = 0x8000
_FLAG_AA = 0x0400
_FLAG_TC = 0x0200
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")


@dataclass(frozen=True, slots=True)
class Reply:
    """What one server said about one (name, type)."""

    rcode: int
    authoritative: bool
    truncated: bool
    addresses: tuple[IPAddress, ...]
    ttl: int | None  # the answer's TTL, or the negative-caching TTL of an empty answer


class WireError(ValueError):
    """The packet is not a readable reply to our question."""


def question_wire(fqdn: str, rdtype: int, payload: int = 1232) -> bytes:
    """Everything after the ID: flags (RD off), counts, question, and an EDNS OPT record."""
    name = name_wire(fqdn)
    opt = b"\x00" + struct.pack("!HHIH", _OPT, payload, 0, 0)
    return _HEADER.pack(0, 0, 1, 0, 0, 1)[2:] + name + struct.pack("!HH", rdtype, _IN) + opt


def name_wire(fqdn: str) -> bytes:
    """Uncompressed wire form of a host name (LDH labels, as the config validator admits)."""
    out = bytearray()
    for label in fqdn.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"{fqdn!r}: a label must have 1-63 characters")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > 255:
        raise ValueError(f"{fqdn!r} is longer than 255 octets")
    return bytes(out)


def query_wire(qid: int, question: bytes) -> bytes:
    return struct.pack("!H", qid) + question


def reply_id(wire: bytes) -> int:
    if len(wire) < 12:
        raise WireError("shorter than a DNS header")
    return int.from_bytes(wire[:2], "big")


def parse_reply(wire: bytes, question: bytes, rdtype: int) -> Reply:
    """Read ``wire`` as the reply to ``question`` (as built by :func:`question_wire`)."""
    try:
        fast = _parse_fast(wire, question, rdtype)
    except (IndexError, struct.error, ValueError):
        fast = None
    return fast if fast is not None else parse_reply_full(wire, question, rdtype)


def _skip_name(wire: bytes, pos: int) -> int:
    while True:
        length = wire[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        if length & 0xC0:
            raise ValueError("bad label type")
        pos += length + 1


def _parse_fast(wire: bytes, question: bytes, rdtype: int) -> Reply | None:
    """The common shapes only; ``None`` sends the packet to the full parser."""
    _, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire)
    if not flags & _FLAG_QR or qdcount != 1:
        return None
    qlen = len(question) - 10 - 11  # question bytes: counts (10) ... OPT (11)
    if wire[12 : 12 + qlen].lower() != question[10 : 10 + qlen].lower():
        return None
    pos = 12 + qlen
    rcode = flags & 0x000F
    addrs: list[IPAddress] = []
    ttl: int | None = None
    for _ in range(ancount):
        owner = pos
        pos = _skip_name(wire, pos)
        rtype, rclass, rttl, rdlen = _RR.unpack_from(wire, pos)
        pos += 10
        # Only address records owned by the question name (a pointer to offset 12) are simple.
        if rtype != rdtype or rclass != _IN or wire[owner : owner + 2] != b"\xc0\x0c":
            return None
        rdata = wire[pos : pos + rdlen]
        if len(rdata) != (4 if rdtype == A else 16):
            return None
        addrs.append(ipaddress.IPv4Address(rdata) if rdtype == A else ipaddress.IPv6Address(rdata))
        ttl = rttl if ttl is None else min(ttl, rttl)
        pos += rdlen
    negative_ttl: int | None = None
    for _ in range(nscount):
        pos = _skip_name(wire, pos)
        rtype, _, rttl, rdlen = _RR.unpack_from(wire, pos)
        pos += 10
        if rtype == _SOA and rdlen >= 20 and negative_ttl is None:
            (minimum,) = struct.unpack_from("!I", wire, pos + rdlen - 4)
            negative_ttl = min(rttl, minimum)
        pos += rdlen
    for _ in range(arcount):
        pos = _skip_name(wire, pos)
        rtype, _, rttl, rdlen = _RR.unpack_from(wire, pos)
        pos += 10
        if rtype == _OPT:
            rcode |= (rttl >> 24) << 4  # the extended RCODE's upper bits (e.g. BADVERS)
        pos += rdlen
    if pos != len(wire):
        return None  # overrun or trailing bytes: let dnspython judge the packet
    if not addrs:
        ttl = negative_ttl
    return Reply(rcode, bool(flags & _FLAG_AA), bool(flags & _FLAG_TC), tuple(addrs), ttl)


def parse_reply_full(wire: bytes, question: bytes, rdtype: int) -> Reply:
    """Read any reply with dnspython, following a CNAME chain inside the answer."""
    try:
        msg = dns.message.from_wire(wire, ignore_trailing=True)
    except dns.message.Truncated:
        # A truncated reply may not parse past the header; the TC bit is what matters.
        header = _HEADER.unpack_from(wire)
        return Reply(header[1] & 0x000F, bool(header[1] & _FLAG_AA), True, (), None)
    except dns.exception.DNSException as exc:
        raise WireError(f"unreadable reply: {exc}") from exc
    return reply_from_message(msg, question, rdtype)


def reply_from_message(msg: dns.message.Message, question: bytes, rdtype: int) -> Reply:
    """The :class:`Reply` in a parsed message (used for TCP and for unusual UDP replies)."""
    qname, _ = dns.name.from_wire(question, 10)
    if (
        not msg.flags & dns.flags.QR
        or len(msg.question) != 1
        or msg.question[0].name != qname
        or msg.question[0].rdtype != rdtype
        or msg.question[0].rdclass != dns.rdataclass.IN
    ):
        raise WireError("the reply does not answer our question")
    name = qname
    addrs: list[IPAddress] = []
    ttl: int | None = None
    for _ in range(8):  # CNAME chains longer than this are a misconfiguration
        rrset = msg.get_rrset(msg.answer, name, dns.rdataclass.IN, dns.rdatatype.RdataType(rdtype))
        if rrset is not None:
            addrs = [ipaddress.ip_address(rd.address) for rd in rrset]
            ttl = rrset.ttl
            break
        cname = msg.get_rrset(msg.answer, name, dns.rdataclass.IN, dns.rdatatype.CNAME)
        if cname is None:
            break
        name = cname[0].target
    if not addrs:
        for rrset in msg.authority:
            if rrset.rdtype == dns.rdatatype.SOA:
                ttl = min(rrset.ttl, rrset[0].minimum)
                break
    return Reply(
        msg.rcode(),
        bool(msg.flags & dns.flags.AA),
        bool(msg.flags & dns.flags.TC),
        tuple(addrs),
        ttl,
    )
