"""``nmops check`` on a terminal: a table, one row per router and family, and a summary (pure:
returns renderables, the CLI prints them).

Every cell that holds text from a router, a DNS server or the config is a ``Text``, never a
markup string: a router that prints ``[/]`` must not break the table (rich raises
MarkupError) and one that prints ``[bold]`` or an escape sequence must not restyle it."""

from __future__ import annotations

from collections import Counter

from rich.table import Table
from rich.text import Text

from nmops.check import CheckReport
from nmops.dns.classify import NameResult
from nmops.status import ExitCode, Status, severity

_STYLE = {
    ExitCode.OK: "green",
    ExitCode.WARNING: "yellow",
    ExitCode.CRITICAL: "bold red",
    ExitCode.UNKNOWN: "magenta",
}


def plain(value: object) -> Text:
    """``value`` shown as it is: no markup, no emoji codes, and control characters other
    than line breaks escaped (``\\x1b``), so none reaches the terminal."""
    text = str(value)
    if not all(c == "\n" or c.isprintable() for c in text):
        text = "".join(c if c == "\n" or c.isprintable() else repr(c)[1:-1] for c in text)
    return Text(text)


def _servers_column(n: NameResult) -> str:
    """Who said what, only when the servers did not all say the same."""
    if len({(s.status, s.addresses) for s in n.servers}) <= 1:
        return ""
    parts = []
    for s in n.servers:
        said = ", ".join(map(str, s.addresses)) or s.status.value
        parts.append(f"{s.server}: {said}" if s.addresses else f"{s.server}: {s.status.value}")
    return "\n".join(parts)


def _status_text(n: NameResult) -> Text:
    code = severity(n.status, partial=n.partial)
    label = n.status.value + (" (partial)" if n.partial else "")
    return Text(label, style=_STYLE[code])


def check_table(report: CheckReport, *, only_problems: bool = False) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("router", "family", "name", "status", "addresses", "ttl", "detail"):
        table.add_column(column, overflow="fold")
    for router in report.routers:
        for n in router.names:
            if only_problems and n.status is Status.OK and not n.partial:
                continue
            detail = "\n".join(x for x in (n.detail, _servers_column(n)) if x)
            table.add_row(
                plain(router.name),
                plain(n.family),
                plain(n.fqdn),
                _status_text(n),
                plain("\n".join(map(str, n.addresses)) or "-"),
                plain("-" if n.ttl is None else n.ttl),
                plain(detail),
            )
    return table


def router_table(report: CheckReport, *, only_problems: bool = False) -> Table | None:
    """Router-side rows: reachability, the addresses it has, IKE peers, saved or not; ``None``
    when no router was asked."""
    asked = [r for r in report.routers if r.facts is not None]
    if not asked:
        return None
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("router", "finding", "detail"):
        table.add_column(column, overflow="fold")
    for r in asked:
        facts = r.facts
        assert facts is not None
        for f in r.findings:
            status = Text(f.status.value, style=_STYLE[severity(f.status)])
            table.add_row(plain(r.name), status, plain(f.detail))
        if only_problems or not facts.reachable:
            continue
        addrs = "; ".join(
            f"{family} {', '.join(map(str, a)) or 'none'}" for family, a in facts.addresses.items()
        )
        nm = f"NetMeister {facts.nm.result}" if facts.nm else "NetMeister ?"
        peers = "; ".join(
            f"{p.tunnel} -> {p.remote} ({p.status.value if p.status else 'unchecked'})"
            for p in r.peers
        )
        saved = "saved" if facts.saved else "UNSAVED"
        details = [f"via {facts.path}", addrs, nm, peers or "no IKE SA", saved]
        table.add_row(plain(r.name), Text("facts", style="dim"), plain(" | ".join(details)))
    return table


def summary_line(report: CheckReport) -> Text:
    names = [n for r in report.routers for n in r.names]
    counts = Counter(n.status.value + (" (partial)" if n.partial else "") for n in names)
    counts.update(f.status.value for r in report.routers for f in r.findings)
    parts = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    code = report.exit_code
    text = Text(f"{code.name}: ", style=_STYLE[code])
    text.append(
        f"{len(report.routers)} routers, {len(names)} names: {parts or 'none'} "
        f"({report.queries} queries in {report.seconds:.2f} s)"
    )
    return text
