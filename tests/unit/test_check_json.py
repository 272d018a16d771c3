"""``nmops check --json``: the ``nmops.check/1`` document, built from a report value."""

from __future__ import annotations

import ipaddress
import json

from nmops.check import CheckReport, RouterReport
from nmops.dns.classify import NameResult, ServerResult
from nmops.report.check_json import SCHEMA, check_document
from nmops.status import Status

S1, S2 = "192.0.2.53:53", "[2001:db8::53]:53"


def _ok_name() -> NameResult:
    addr = (ipaddress.ip_address("203.0.113.10"),)
    return NameResult(
        "ix2215-tokyo.fetburner.nmddns.jp",
        "ipv4",
        "A",
        Status.OK,
        False,
        addr,
        60,
        (ServerResult(S1, Status.OK, addr, 60), ServerResult(S2, Status.OK, addr, 120)),
    )


def _partial_name() -> NameResult:
    addr = (ipaddress.ip_address("2001:db8:100::1"), ipaddress.ip_address("2001:db8:100::2"))
    return NameResult(
        "ix2215-tokyo.fetburner.v6.nmddns.jp",
        "ipv6",
        "AAAA",
        Status.OK,
        True,
        addr,
        30,
        (
            ServerResult(S1, Status.OK, addr, 30),
            ServerResult(S2, Status.TIMEOUT, detail="timeout"),
        ),
    )


def _missing_name() -> NameResult:
    return NameResult(
        "ix2215-kagawa.fetburner.v6.nmddns.jp",
        "ipv6",
        "AAAA",
        Status.MISSING,
        False,
        (),
        60,
        (ServerResult(S1, Status.MISSING, (), 60), ServerResult(S2, Status.MISSING, (), 60)),
    )


def _report() -> CheckReport:
    return CheckReport(
        (
            RouterReport("ix2215-tokyo", (_ok_name(), _partial_name())),
            RouterReport("ix2215-kagawa", (_missing_name(),)),
        ),
        queries=6,
        seconds=0.01234,
    )


def test_document_shape_and_values() -> None:
    doc = check_document(_report())
    assert doc["schema"] == SCHEMA == "nmops.check/1"
    assert (doc["status"], doc["exit_code"]) == ("critical", 2)
    assert doc["stats"] == {"queries": 6, "seconds": 0.012}
    tokyo, kagawa = doc["routers"]
    assert (tokyo["name"], tokyo["status"]) == ("ix2215-tokyo", "warning")
    assert (kagawa["name"], kagawa["status"]) == ("ix2215-kagawa", "critical")
    ok, partial = tokyo["names"]
    assert ok == {
        "fqdn": "ix2215-tokyo.fetburner.nmddns.jp",
        "family": "ipv4",
        "rdtype": "A",
        "status": "ok",
        "severity": "ok",
        "partial": False,
        "addresses": ["203.0.113.10"],
        "ttl": 60,
        "detail": None,
        "servers": [
            {
                "server": S1,
                "status": "ok",
                "addresses": ["203.0.113.10"],
                "ttl": 60,
                "detail": None,
            },
            {
                "server": S2,
                "status": "ok",
                "addresses": ["203.0.113.10"],
                "ttl": 120,
                "detail": None,
            },
        ],
    }
    assert (partial["status"], partial["severity"], partial["partial"]) == ("ok", "warning", True)
    assert partial["addresses"] == ["2001:db8:100::1", "2001:db8:100::2"]
    assert [s["status"] for s in partial["servers"]] == ["ok", "timeout"]
    assert partial["servers"][1] == {
        "server": S2,
        "status": "timeout",
        "addresses": [],
        "ttl": None,
        "detail": "timeout",
    }
    (missing,) = kagawa["names"]
    assert (missing["status"], missing["severity"], missing["addresses"]) == (
        "missing",
        "critical",
        [],
    )


def test_document_is_plain_json() -> None:
    doc = check_document(_report())
    assert json.loads(json.dumps(doc)) == doc


def test_empty_report_is_ok() -> None:
    doc = check_document(CheckReport(()))
    assert (doc["status"], doc["exit_code"], doc["routers"]) == ("ok", 0, [])


def test_unknown_outranked_by_critical() -> None:
    failed = NameResult(
        "x.fetburner.nmddns.jp",
        "ipv4",
        "A",
        Status.TIMEOUT,
        False,
        (),
        None,
        (ServerResult(S1, Status.TIMEOUT, detail="timeout"),),
        "no server answered",
    )
    only_unknown = check_document(CheckReport((RouterReport("x", (failed,)),)))
    assert (only_unknown["status"], only_unknown["exit_code"]) == ("unknown", 3)
    assert only_unknown["routers"][0]["names"][0]["severity"] == "unknown"
    both = check_document(
        CheckReport((RouterReport("x", (failed,)), RouterReport("y", (_missing_name(),))))
    )
    assert (both["status"], both["exit_code"]) == ("critical", 2)
