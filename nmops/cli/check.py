"""`nmops check`, `nmops trust` and `nmops demo`."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click
from rich.text import Text

from nmops import aio
from nmops.check import CheckReport, run_check
from nmops.cli.app import CONFIG_OPTION, _console, _fail, main, open_store
from nmops.config.load import Config, config_path, load_config
from nmops.errors import NmopsError
from nmops.report.check_json import check_document
from nmops.report.check_text import check_table, plain, router_table, summary_line
from nmops.status import ExitCode

if TYPE_CHECKING:
    from nmops.state import Store
    from nmops.state.pins import Pin


def _record(config: Config, report: CheckReport) -> tuple[CheckReport, list[Pin]]:
    """Keep what the check saw (the history `fix` and the reports read), and say which
    routers a reboot lost; the pins in force. A state database that cannot be written costs
    the record, not the check: a warning on stderr."""
    from nmops.record import record_check
    from nmops.state import StateError
    from nmops.state.pins import open_pins

    names = {r.name for r in report.routers}
    pins: list[Pin] = []
    try:
        with open_store(config) as store:
            report, run_id = record_check(store, report)
            pins = [p for p in open_pins(store) if p.router in names]
            _alert(store, config, run_id)
    except StateError as exc:
        _console(stderr=True).print(
            Text.assemble(("warning:", "yellow"), " check not recorded: ", plain(exc)),
            soft_wrap=True,
        )
    return report, pins


def _alert(store: Store, config: Config, run_id: int) -> None:
    """Incidents and alerts after the run; a mail server that is down costs a warning."""
    from nmops.alerting import after_check

    try:
        delivery = after_check(store, config, run_id).delivery
    except NmopsError as exc:
        _console(stderr=True).print(
            Text.assemble(("warning:", "yellow"), " incidents not updated: ", plain(exc)),
            soft_wrap=True,
        )
        return
    if delivery is not None and not delivery.ok:
        _console(stderr=True).print(
            Text.assemble(
                ("warning:", "yellow"),
                f" {delivery.failed} alert(s) not sent yet ({delivery.waiting} waiting in the "
                "outbox): ",
                plain("; ".join(delivery.errors[:3])),
            ),
            soft_wrap=True,
        )


def _pin_line(pin: Pin) -> str:
    return (
        f"pinned: {pin.router} {pin.tunnel} -> {pin.address} while {pin.peer}'s "
        f"{pin.fqdn} is broken (since {pin.pinned_at:%Y-%m-%d %H:%M} UTC)"
    )


def _print_report(
    report: CheckReport, *, as_json: bool, quiet: bool, pins: Sequence[Pin] = ()
) -> None:
    out = _console()
    if as_json:
        # Indented for a person at a terminal; compact (and several times faster to write, the
        # C encoder) for a pipe.
        indent = 2 if sys.stdout.isatty() else None
        document = check_document(report)
        document["pins"] = [
            {"router": p.router, "tunnel": p.tunnel, "peer": p.peer, "family": p.family,
             "address": p.address, "fqdn": p.fqdn, "since": p.pinned_at.isoformat()}
            for p in pins
        ]  # fmt: skip
        click.echo(json.dumps(document, indent=indent))
        return
    if quiet and report.exit_code is ExitCode.OK:
        return
    names = check_table(report, only_problems=quiet)
    if names.row_count:
        out.print(names)
    routers = router_table(report, only_problems=quiet)
    if routers is not None and routers.row_count:
        out.print(routers)
    for pin in pins:
        out.print(plain(_pin_line(pin)), soft_wrap=True)
    out.print(summary_line(report))


@main.command()
@CONFIG_OPTION
@click.option("--router", "routers", multiple=True, metavar="NAME", help="Only these routers.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (nmops.check/1).")
@click.option("--quiet", is_flag=True, help="Only problems; nothing when all is well.")
@click.option("--no-router", is_flag=True, help="Skip the router side (DNS only).")
def check(
    config_opt: str | None, routers: tuple[str, ...], as_json: bool, quiet: bool, no_router: bool
) -> None:
    """Resolve every router's DDNS names at the zone's authoritative servers and compare them
    with what each router says (its addresses, its IKE peers, its saved config)."""
    try:
        config = load_config(config_path(config_opt))
        selected = config.routers(list(routers))
        report = aio.run(run_check(config, selected, ask_routers=not no_router))
    except NmopsError as exc:
        _fail(exc)
        return
    report, pins = _record(config, report)
    _print_report(report, as_json=as_json, quiet=quiet, pins=pins)
    sys.exit(report.exit_code)


@main.command()
def demo() -> None:
    """Run nmops on the built-in lab (no routers needed) and explain what it shows."""
    from nmops.lab.demo import run_demo

    out = _console()
    result = aio.run(run_demo())
    from zoneinfo import ZoneInfo

    from nmops.report.plan_text import applied_table, history_table, plan_summary, plan_table

    for step in result.steps:
        out.rule(plain(step.title))
        if step.report is not None:
            out.print(check_table(step.report))
            routers = router_table(step.report)
            if routers is not None:
                out.print(routers)
            out.print(summary_line(step.report))
        if step.fix is not None:
            if step.fix.results:
                out.print(applied_table(step.fix.results))
            else:
                out.print(plan_table(step.fix.plan))
                out.print(plan_summary(step.fix.plan))
        if step.history:
            out.print(history_table(step.history, ZoneInfo("Asia/Tokyo")))
        out.print(step.explanation, markup=False)
        out.print()
    if result.ok:
        out.print("[green]The demo ran as intended.[/]")
        sys.exit(0)
    for problem in result.problems:
        out.print(Text.assemble(("demo problem:", "red"), " ", plain(problem)))
    sys.exit(1)


@main.command()
@click.argument("router")
@click.option("--config", "config_opt", metavar="PATH", help="nmops.yaml.")
@click.option("--replace", is_flag=True, help="Replace a pinned key that has changed.")
def trust(router: str, config_opt: str | None, replace: bool) -> None:
    """Show ROUTER's SSH host key fingerprint and pin it in nmops's known_hosts."""
    from nmops.ix.trust import trust_router

    out = _console()
    try:
        config = load_config(config_path(config_opt))
        (selected,) = config.routers([router])
        results = aio.run(trust_router(config, selected, replace=replace))
    except NmopsError as exc:
        _fail(exc)
        return
    failed = False
    for r in results:
        out.print(plain(f"{router} {r.path} {r.fingerprint or '-'}: {r.outcome}"))
        failed |= r.outcome not in ("pinned", "already pinned", "replaced")
    sys.exit(ExitCode.WARNING if failed else ExitCode.OK)
