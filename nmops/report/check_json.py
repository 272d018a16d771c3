"""``nmops check --json``: one document, schema ``nmops.check/1`` (pure)."""

from __future__ import annotations

from typing import Any

from nmops.check import CheckReport
from nmops.dns.classify import NameResult
from nmops.status import severity

SCHEMA = "nmops.check/1"


def _name(n: NameResult) -> dict[str, Any]:
    return {
        "fqdn": n.fqdn,
        "family": n.family,
        "rdtype": n.rdtype,
        "status": n.status.value,
        "severity": severity(n.status, partial=n.partial).label,
        "partial": n.partial,
        "addresses": [str(a) for a in n.addresses],
        "ttl": n.ttl,
        "detail": n.detail,
        "servers": [
            {
                "server": s.server,
                "status": s.status.value,
                "addresses": [str(a) for a in s.addresses],
                "ttl": s.ttl,
                "detail": s.detail,
            }
            for s in n.servers
        ],
    }


def check_document(report: CheckReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "status": report.exit_code.label,
        "exit_code": int(report.exit_code),
        "routers": [
            {"name": r.name, "status": r.exit_code.label, "names": [_name(n) for n in r.names]}
            for r in report.routers
        ],
        "stats": {"queries": report.queries, "seconds": round(report.seconds, 3)},
    }
