"""The hand-written wire reader: the fast path must say what dnspython says, on every reply.

Each case is a reply built with dnspython (or byte by byte where dnspython cannot produce the
shape: uncompressed owners, duplicate records, per-record TTLs, malformed packets). For each,
``parse_reply`` (fast path, falling back to dnspython) and ``parse_reply_full`` (dnspython
only) must agree: the same Reply, or both a WireError. A few cases also pin the value.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from nmops.dns.wire import (
    AAAA,
    A,
    Reply,
    WireError,
    parse_reply,
    parse_reply_full,
    query_wire,
    question_wire,
    reply_id,
)
from nmops.dns.wire import _parse_fast as _parse_fast  # the fast path alone

FQDN = "ix2215-tokyo.fetburner.nmddns.jp"
FQDN6 = "ix2215-tokyo.fetburner.v6.nmddns.jp"
ZONE = "nmddns.jp."
SOA = "ns1.nmddns.jp. hostmaster.nmddns.jp. 1 3600 600 86400 {minimum}"
QID = 0x1234


def question_for(rdtype: int, fqdn: str | None = None, payload: int = 1232) -> bytes:
    return question_wire(fqdn or (FQDN if rdtype == A else FQDN6), rdtype, payload)


def query(rdtype: int, fqdn: str | None = None) -> dns.message.Message:
    return dns.message.from_wire(query_wire(QID, question_for(rdtype, fqdn)))


def response(rdtype: int, *, aa: bool = True, fqdn: str | None = None) -> dns.message.Message:
    r = dns.message.make_response(query(rdtype, fqdn))
    if aa:
        r.flags |= dns.flags.AA
    return r


def add(section: list[dns.rrset.RRset], name: str, ttl: int, rdtype: str, *values: str) -> None:
    section.append(dns.rrset.from_text(name + ".", ttl, "IN", rdtype, *values))


def soa(r: dns.message.Message, ttl: int = 3600, minimum: int = 60) -> None:
    add(r.authority, ZONE.rstrip("."), ttl, "SOA", SOA.format(minimum=minimum))


# --- byte-level building, for shapes dnspython will not write -------------------------------


def name_wire(text: str) -> bytes:
    wire = dns.name.from_text(text).to_wire()
    assert wire is not None
    return wire


def rr(owner: bytes, rtype: int, ttl: int, rdata: bytes, rclass: int = 1) -> bytes:
    return owner + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def raw(
    question: bytes,
    *,
    flags: int = 0x8400,  # QR + AA, NOERROR
    an: tuple[bytes, ...] = (),
    ns: tuple[bytes, ...] = (),
    ar: tuple[bytes, ...] = (),
    qdcount: int = 1,
    tail: bytes = b"",
) -> bytes:
    qsection = question[10:-11] * qdcount
    header = struct.pack("!HHHHHH", QID, flags, qdcount, len(an), len(ns), len(ar))
    return header + qsection + b"".join(an) + b"".join(ns) + b"".join(ar) + tail


PTR = b"\xc0\x0c"  # a compression pointer to the question name
OPT = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)


def v4(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def v6(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


def soa_rdata(minimum: int) -> bytes:
    return (
        name_wire("ns1.nmddns.jp")
        + name_wire("hostmaster.nmddns.jp")
        + struct.pack("!IIIII", 1, 3600, 600, 86400, minimum)
    )


# --- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    rdtype: int
    wire: bytes
    expected: tuple[int, bool, bool, frozenset[str], int | None] | None = None  # None: error
    question: bytes | None = None  # default: question_for(rdtype)


def _wire(build: Callable[[], dns.message.Message]) -> bytes:
    return build().to_wire()


def _a_one() -> dns.message.Message:
    r = response(A)
    add(r.answer, FQDN, 60, "A", "203.0.113.10")
    return r


def _a_many() -> dns.message.Message:
    r = response(A)
    add(r.answer, FQDN, 300, "A", "203.0.113.10", "198.51.100.20", "192.0.2.1")
    return r


def _aaaa_many() -> dns.message.Message:
    r = response(AAAA)
    add(r.answer, FQDN6, 120, "AAAA", *(f"2001:db8:100::{i:x}" for i in range(1, 9)))
    return r


def _aaaa_with_authority_and_glue() -> dns.message.Message:
    r = response(AAAA)
    add(r.answer, FQDN6, 60, "AAAA", "2001:db8:100::1")
    add(r.authority, ZONE.rstrip("."), 3600, "NS", "ns1.nmddns.jp.")
    add(r.additional, "ns1.nmddns.jp", 3600, "A", "192.0.2.53")
    return r


def _nodata(ttl: int, minimum: int) -> Callable[[], dns.message.Message]:
    def build() -> dns.message.Message:
        r = response(AAAA)
        soa(r, ttl, minimum)
        return r

    return build


def _nodata_ns_before_soa() -> dns.message.Message:
    r = response(A)
    add(r.authority, ZONE.rstrip("."), 3600, "NS", "ns1.nmddns.jp.", "ns2.nmddns.jp.")
    soa(r, 900, 45)
    return r


def _nxdomain() -> dns.message.Message:
    r = response(A)
    r.set_rcode(dns.rcode.NXDOMAIN)
    soa(r, 3600, 30)
    return r


def _nxdomain_no_soa() -> dns.message.Message:
    r = response(A)
    r.set_rcode(dns.rcode.NXDOMAIN)
    return r


def _rcode(rcode: dns.rcode.Rcode, aa: bool = False) -> Callable[[], dns.message.Message]:
    def build() -> dns.message.Message:
        r = response(A, aa=aa)
        r.set_rcode(rcode)
        return r

    return build


def _not_authoritative() -> dns.message.Message:
    r = response(A, aa=False)
    add(r.answer, FQDN, 60, "A", "203.0.113.10")
    return r


def _cname_chain(hops: int, final: bool = True) -> Callable[[], dns.message.Message]:
    def build() -> dns.message.Message:
        r = response(A)
        owner = FQDN
        for i in range(hops):
            target = f"hop{i}.example.jp"
            add(r.answer, owner, 300, "CNAME", target + ".")
            owner = target
        if final:
            add(r.answer, owner, 30, "A", "203.0.113.77", "203.0.113.78")
        else:
            soa(r, 3600, 20)
        return r

    return build


def _nxdomain_after_cname() -> dns.message.Message:
    r = response(A)
    r.set_rcode(dns.rcode.NXDOMAIN)
    add(r.answer, FQDN, 300, "CNAME", "gone.nmddns.jp.")
    soa(r, 3600, 10)
    return r


def _a_plus_txt() -> dns.message.Message:
    r = response(A)
    add(r.answer, FQDN, 60, "A", "203.0.113.10")
    add(r.answer, FQDN, 60, "TXT", '"hello"')
    return r


def _other_name_in_answer() -> dns.message.Message:
    r = response(A)
    add(r.answer, "ix2215-kagawa.fetburner.nmddns.jp", 60, "A", "198.51.100.20")
    soa(r, 3600, 60)
    return r


def _upper_case_echo() -> dns.message.Message:
    # A server doing 0x20 echoes the name in the case it was asked in; the reader must not care.
    q = dns.message.make_query(FQDN.upper(), "A", use_edns=0, payload=1232)
    q.flags = 0
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    add(r.answer, FQDN.upper(), 60, "A", "203.0.113.10")
    return r


def _truncated_empty() -> dns.message.Message:
    r = response(AAAA)
    r.flags |= dns.flags.TC
    return r


def _truncated_partial() -> dns.message.Message:
    r = response(AAAA)
    r.flags |= dns.flags.TC
    add(r.answer, FQDN6, 60, "AAAA", "2001:db8::1", "2001:db8::2")
    return r


def _no_edns() -> dns.message.Message:
    r = response(A)
    r.use_edns(False)
    add(r.answer, FQDN, 60, "A", "203.0.113.10")
    return r


def _badvers() -> dns.message.Message:
    # Extended RCODE 16 lives in the OPT record's TTL: the header's 4 bits say NOERROR.
    r = response(A)
    r.set_rcode(dns.rcode.BADVERS)
    return r


def _other_name_question() -> dns.message.Message:
    r = response(A, fqdn="ix2215-kagawa.fetburner.nmddns.jp")
    add(r.answer, "ix2215-kagawa.fetburner.nmddns.jp", 60, "A", "198.51.100.20")
    return r


def _a_reply_to_aaaa_question() -> dns.message.Message:
    # An A question answered; read as the reply to the AAAA question for the same name.
    r = response(A, fqdn=FQDN6)
    add(r.answer, FQDN6, 60, "A", "203.0.113.10")
    return r


def _a_question_empty_reply_for_aaaa() -> dns.message.Message:
    r = response(A, fqdn=FQDN6)
    soa(r, 3600, 60)
    return r


def _query_not_reply() -> dns.message.Message:
    return query(A)


QA = question_for(A)
Q6 = question_for(AAAA)
OK_A = frozenset({"203.0.113.10"})

CASES = [
    # The common shapes: the fast path's own ground.
    Case("a-one", A, _wire(_a_one), (0, True, False, OK_A, 60)),
    Case(
        "a-many",
        A,
        _wire(_a_many),
        (0, True, False, frozenset({"203.0.113.10", "198.51.100.20", "192.0.2.1"}), 300),
    ),
    Case(
        "aaaa-many",
        AAAA,
        _wire(_aaaa_many),
        (0, True, False, frozenset(f"2001:db8:100::{i:x}" for i in range(1, 9)), 120),
    ),
    Case(
        "aaaa-authority-glue",
        AAAA,
        _wire(_aaaa_with_authority_and_glue),
        (0, True, False, frozenset({"2001:db8:100::1"}), 60),
    ),
    Case("nodata-soa-min", AAAA, _wire(_nodata(3600, 60)), (0, True, False, frozenset(), 60)),
    Case("nodata-soa-ttl", AAAA, _wire(_nodata(30, 300)), (0, True, False, frozenset(), 30)),
    Case("nodata-ns-then-soa", A, _wire(_nodata_ns_before_soa), (0, True, False, frozenset(), 45)),
    Case("nxdomain", A, _wire(_nxdomain), (3, True, False, frozenset(), 30)),
    Case("nxdomain-no-soa", A, _wire(_nxdomain_no_soa), (3, True, False, frozenset(), None)),
    Case("servfail", A, _wire(_rcode(dns.rcode.SERVFAIL)), (2, False, False, frozenset(), None)),
    Case("refused", A, _wire(_rcode(dns.rcode.REFUSED)), (5, False, False, frozenset(), None)),
    Case(
        "formerr-aa", A, _wire(_rcode(dns.rcode.FORMERR, True)), (1, True, False, frozenset(), None)
    ),
    Case("not-authoritative", A, _wire(_not_authoritative), (0, False, False, OK_A, 60)),
    Case("no-edns", A, _wire(_no_edns), (0, True, False, OK_A, 60)),
    Case("upper-case-echo", A, _wire(_upper_case_echo), (0, True, False, OK_A, 60)),
    # Shapes only dnspython reads: the fast path must hand them over, not misread them.
    Case(
        "cname-1",
        A,
        _wire(_cname_chain(1)),
        (0, True, False, frozenset({"203.0.113.77", "203.0.113.78"}), 30),
    ),
    Case(
        "cname-3",
        A,
        _wire(_cname_chain(3)),
        (0, True, False, frozenset({"203.0.113.77", "203.0.113.78"}), 30),
    ),
    Case(
        "cname-dangling", A, _wire(_cname_chain(1, final=False)), (0, True, False, frozenset(), 20)
    ),
    # Longer than the reader follows: no addresses, not a crash.
    Case("cname-10", A, _wire(_cname_chain(10)), (0, True, False, frozenset(), None)),
    Case("cname-nxdomain", A, _wire(_nxdomain_after_cname), (3, True, False, frozenset(), 10)),
    Case("a-plus-txt", A, _wire(_a_plus_txt), (0, True, False, OK_A, 60)),
    Case(
        "other-name-in-answer", A, _wire(_other_name_in_answer), (0, True, False, frozenset(), 60)
    ),
    Case("tc-empty", AAAA, _wire(_truncated_empty), (0, True, True, frozenset(), None)),
    Case(
        "tc-partial",
        AAAA,
        _wire(_truncated_partial),
        (0, True, True, frozenset({"2001:db8::1", "2001:db8::2"}), 60),
    ),
    Case("badvers", A, _wire(_badvers), (16, True, False, frozenset(), None)),
    # Byte by byte.
    Case(
        "uncompressed-owner",
        A,
        raw(QA, an=(rr(name_wire(FQDN), A, 60, v4("203.0.113.10")),), ar=(OPT,)),
        (0, True, False, OK_A, 60),
    ),
    Case(
        "uncompressed-owner-upper",
        AAAA,
        raw(Q6, an=(rr(name_wire(FQDN6.upper()), AAAA, 90, v6("2001:db8::5")),)),
        (0, True, False, frozenset({"2001:db8::5"}), 90),
    ),
    Case(
        "mixed-compression",
        A,
        raw(
            QA,
            an=(
                rr(PTR, A, 60, v4("203.0.113.10")),
                rr(name_wire(FQDN), A, 60, v4("203.0.113.11")),
            ),
        ),
        (0, True, False, frozenset({"203.0.113.10", "203.0.113.11"}), 60),
    ),
    Case(
        "per-record-ttl",
        A,
        raw(QA, an=(rr(PTR, A, 300, v4("203.0.113.10")), rr(PTR, A, 40, v4("203.0.113.11")))),
        (0, True, False, frozenset({"203.0.113.10", "203.0.113.11"}), 40),
    ),
    Case(
        "duplicate-records",
        A,
        raw(QA, an=(rr(PTR, A, 60, v4("203.0.113.10")), rr(PTR, A, 60, v4("203.0.113.10")))),
        (0, True, False, OK_A, 60),
    ),
    Case(
        "soa-uncompressed",
        A,
        raw(QA, ns=(rr(name_wire("nmddns.jp"), 6, 3600, soa_rdata(25)),), ar=(OPT,)),
        (0, True, False, frozenset(), 25),
    ),
    Case(
        "trailing-bytes",
        A,
        raw(QA, an=(rr(PTR, A, 60, v4("203.0.113.10")),), tail=b"\x00\x01garbage"),
        (0, True, False, OK_A, 60),
    ),
    # dnspython cannot read class-CH A rdata of four bytes; the fast path must not read it either.
    Case("chaos-class", A, raw(QA, an=(rr(PTR, A, 60, v4("203.0.113.10"), rclass=3),))),
    # Not readable, or not the reply to our question: WireError from both readers.
    Case("empty", A, b""),
    Case("short-header", A, b"\x12\x34\x84\x00\x00\x01"),
    Case("header-only", A, raw(QA, qdcount=0)),
    Case("garbage", A, bytes(range(256)) * 2),
    Case("ff-garbage", A, b"\xff" * 64),
    Case("cut-in-answer", A, _wire(_a_many)[: 12 + len(QA) - 21 + 16 + 6]),
    Case(
        "bad-rdlength",
        A,
        raw(QA, an=(rr(PTR, A, 60, v4("203.0.113.10") + b"\x00"),)),
    ),
    Case("bad-label-type", A, raw(QA, an=(b"\x80\x00" + struct.pack("!HHIH", 1, 1, 60, 0),))),
    Case("pointer-loop", A, raw(QA, an=(b"\xc0\x1a" * 2 + struct.pack("!HHIH", 1, 1, 60, 0),))),
    Case("not-a-reply", A, _wire(_query_not_reply)),
    Case("two-questions", A, raw(QA, qdcount=2, an=(rr(PTR, A, 60, v4("203.0.113.10")),))),
    Case("other-name", A, _wire(_other_name_question)),
    Case(
        "refused-no-question",
        A,
        raw(QA, flags=0x8005, qdcount=0),
    ),
    # A good answer, then an additional section dnspython cannot read (a cut OPT record): the
    # fast path stops reading after the answer and must not accept what dnspython rejects.
    Case(
        "answer-then-broken-additional",
        A,
        raw(QA, an=(rr(PTR, A, 60, v4("203.0.113.10")),), ar=(b"\x00\x00\x29",)),
    ),
    Case("cut-in-opt", A, _wire(_a_many)[:-7]),
]


def outcome(read: Callable[[], Reply]) -> Reply | str:
    try:
        reply = read()
    except WireError:
        return "WireError"
    assert isinstance(reply, Reply), reply
    return reply


def as_tuple(reply: Reply) -> tuple[int, bool, bool, frozenset[str], int | None]:
    return (
        int(reply.rcode),
        reply.authoritative,
        reply.truncated,
        frozenset(str(a) for a in reply.addresses),
        reply.ttl,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fast_path_agrees_with_dnspython(case: Case) -> None:
    question = case.question or question_for(case.rdtype)
    fast = outcome(lambda: parse_reply(case.wire, question, case.rdtype))
    full = outcome(lambda: parse_reply_full(case.wire, question, case.rdtype))
    if isinstance(fast, Reply) and isinstance(full, Reply):
        assert as_tuple(fast) == as_tuple(full)
    else:
        assert fast == full
    if case.expected is None:
        assert fast == "WireError"
    else:
        assert isinstance(fast, Reply)
        assert as_tuple(fast) == case.expected


# The shapes the fast path exists for: if it gave them all to dnspython, the agreement above
# would prove nothing.
FAST_SHAPES = {
    "a-one",
    "a-many",
    "aaaa-many",
    "aaaa-authority-glue",
    "nodata-soa-min",
    "nodata-soa-ttl",
    "nodata-ns-then-soa",
    "nxdomain",
    "servfail",
    "refused",
    "no-edns",
    "upper-case-echo",
    "tc-empty",
}


@pytest.mark.parametrize("case", [c for c in CASES if c.id in FAST_SHAPES], ids=lambda c: str(c.id))
def test_common_shapes_take_the_fast_path(case: Case) -> None:
    fast = _parse_fast(case.wire, question_for(case.rdtype), case.rdtype)
    assert fast is not None
    assert fast == parse_reply_full(case.wire, question_for(case.rdtype), case.rdtype)


def test_fast_shapes_are_all_cases() -> None:
    assert {c.id for c in CASES} >= FAST_SHAPES


def test_every_address_type_is_a_real_address() -> None:
    reply = parse_reply(_wire(_aaaa_many), Q6, AAAA)
    assert all(isinstance(a, ipaddress.IPv6Address) for a in reply.addresses)
    reply = parse_reply(_wire(_a_many), QA, A)
    assert all(isinstance(a, ipaddress.IPv4Address) for a in reply.addresses)


@pytest.mark.parametrize(
    ("wire", "rdtype"),
    [
        (_wire(_other_name_question), A),
        (_wire(_a_reply_to_aaaa_question), AAAA),
        (_wire(_a_question_empty_reply_for_aaaa), AAAA),
        (_wire(_query_not_reply), A),
    ],
    ids=["other-name", "other-type-with-answer", "other-type-empty", "query-echo"],
)
def test_reply_to_another_question_raises(wire: bytes, rdtype: int) -> None:
    question = question_for(rdtype)
    with pytest.raises(WireError):
        parse_reply(wire, question, rdtype)
    with pytest.raises(WireError):
        parse_reply_full(wire, question, rdtype)


@pytest.mark.parametrize(("rdtype", "fqdn"), [(A, FQDN), (AAAA, FQDN6)])
@pytest.mark.parametrize("payload", [512, 1232, 4096])
def test_question_wire(rdtype: int, fqdn: str, payload: int) -> None:
    question = question_wire(fqdn, rdtype, payload)
    msg = dns.message.from_wire(query_wire(0xBEEF, question))
    assert msg.id == 0xBEEF
    assert msg.flags == 0  # a plain query, recursion not desired
    assert msg.opcode() == 0
    assert len(msg.question) == 1
    q = msg.question[0]
    assert (q.name, q.rdtype, q.rdclass) == (dns.name.from_text(fqdn), rdtype, 1)
    assert (msg.edns, msg.payload) == (0, payload)
    assert not msg.answer and not msg.authority
    assert question_wire(fqdn + ".", rdtype, payload) == question


def test_reply_id() -> None:
    assert reply_id(b"\xbe\xef" + b"\x00" * 10) == 0xBEEF
    with pytest.raises(WireError):
        reply_id(b"\xbe\xef\x00")
