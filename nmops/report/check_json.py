"""``nmops check --json``: one document, schema ``nmops.check/1`` (pure)."""

from __future__ import annotations

from typing import Any

from nmops.check import CheckReport, RouterReport
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


def _router(r: RouterReport) -> dict[str, Any] | None:
    """What the router said about itself; ``None`` when it was not asked (``--no-router``,
    or no management path in the inventory)."""
    f = r.facts
    if f is None:
        return None
    nm = f.nm
    return {
        "reachable": f.reachable,
        "locked": f.locked,
        "error": f.error,
        "path": f.path,
        "model": f.version.model if f.version else None,
        "firmware": f.version.firmware if f.version else None,
        "uptime": f.version.uptime if f.version else None,
        "reload_cause": f.version.reload_cause if f.version else None,
        "addresses": {family: [str(a) for a in addrs] for family, addrs in f.addresses.items()},
        "interfaces": dict(f.interfaces),
        "nm": None
        if nm is None
        else {
            "ok": nm.ok,
            "result": nm.result,
            "code": nm.code,
            "last_request": nm.last_request.isoformat() if nm.last_request else None,
            "next_request": nm.next_request.isoformat() if nm.next_request else None,
        },
        "peers": [
            {
                "tunnel": p.tunnel,
                "peer_fqdn": p.peer_fqdn,
                "remote": str(p.remote),
                "local": str(p.local),
                "state": p.state,
                "status": p.status.value if p.status else None,
                "detail": p.detail,
            }
            for p in r.peers
        ],
        "saved": f.saved,
        "seconds": round(f.seconds, 3),
    }


def check_document(report: CheckReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "status": report.exit_code.label,
        "exit_code": int(report.exit_code),
        "routers": [
            {
                "name": r.name,
                "status": r.exit_code.label,
                "names": [_name(n) for n in r.names],
                "router": _router(r),
                "findings": [
                    {"status": f.status.value, "detail": f.detail, "tunnel": f.tunnel}
                    for f in r.findings
                ],
            }
            for r in report.routers
        ],
        "stats": {"queries": report.queries, "seconds": round(report.seconds, 3)},
    }
