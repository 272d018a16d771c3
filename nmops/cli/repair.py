"""`nmops fix` and `nmops history`."""

from __future__ import annotations

import json
import re
import sys
from datetime import timedelta
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from nmops import aio
from nmops.cli.app import CONFIG_OPTION, _console, _fail, main, open_store
from nmops.config.load import config_path, load_config
from nmops.errors import NmopsError
from nmops.report.check_text import plain, summary_line
from nmops.report.plan_text import (
    applied_rows,
    applied_table,
    history_table,
    plan_document,
    plan_summary,
    plan_table,
)
from nmops.state import Holder
from nmops.status import ExitCode

_SINCE_RE = re.compile(r"^(\d+)\s*([smhdw])$")


class _Progress:
    """What `fix --apply` is doing: a live status line with the time left on a terminal,
    plain lines on stderr in a pipe (cron, a log)."""

    def __init__(self) -> None:
        self.err = _console(stderr=True)
        self.live = sys.stderr.isatty()
        self.status = self.err.status("") if self.live else None
        if self.status is not None:
            self.status.start()

    def __call__(self, text: str, left: float | None) -> None:
        if left is not None and self.status is not None:
            self.status.update(plain(f"{text} ({left:.0f} s left)"))
            return
        if left is not None:
            return  # a pipe gets the outcome, not every tick of the wait
        self.err.print(plain(text), soft_wrap=True)

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()


class _Waiting:
    """Says once who holds the lease (and again only if someone else takes it)."""

    def __init__(self, err: Console) -> None:
        self.err = err
        self.told: str | None = None

    def __call__(self, holder: Holder) -> None:
        if holder.holder != self.told:
            self.told = holder.holder
            self.err.print(
                plain(f"waiting: the lease is held by {holder.describe()}"), soft_wrap=True
            )


@main.command()
@CONFIG_OPTION
@click.option("--router", "routers", multiple=True, metavar="NAME", help="Only these routers.")
@click.option("--apply", "do_apply", is_flag=True, help="Carry the plan out (default: show it).")
@click.option("--plan", "plan_id", metavar="ID", help="Apply only if the plan is still this one.")
@click.option(
    "--allow-unsaved",
    is_flag=True,
    help="Config steps may touch an unsaved config (never reboots).",
)
@click.option(
    "--wait",
    type=click.FloatRange(0, 3600),
    default=600.0,
    show_default=True,
    metavar="SECONDS",
    help="How long --apply waits for another nmops that is acting.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document (nmops.plan/1).")
def fix(
    config_opt: str | None,
    routers: tuple[str, ...],
    do_apply: bool,
    plan_id: str | None,
    allow_unsaved: bool,
    wait: float,
    as_json: bool,
) -> None:
    """Plan the repair of what `nmops check` finds (a dry run); with --apply, carry it out:
    the gentlest step first, verify, escalate only when it did not help."""
    from nmops.fix import run_fix

    if plan_id is not None and not do_apply:
        do_apply = True  # --plan names the reviewed plan to apply
    err = _console(stderr=True)
    progress = _Progress() if do_apply else None
    try:
        config = load_config(config_path(config_opt))
        selected = config.routers(list(routers))
        with open_store(config) as store:
            result = aio.run(
                run_fix(
                    config,
                    store,
                    selected,
                    apply=do_apply,
                    plan_id=plan_id,
                    allow_unsaved=allow_unsaved,
                    wait=wait,
                    progress=progress,
                    on_wait=_Waiting(err),
                )
            )
    except NmopsError as exc:
        if progress is not None:
            progress.stop()
        _fail(exc)
        return
    if progress is not None:
        progress.stop()
    out = _console()
    applied = applied_rows(result.results)
    if as_json:
        doc = plan_document(result.plan, applied=applied if do_apply else None)
        doc["recovered"] = result.recovered
        doc["exit_code"] = int(result.exit_code)
        click.echo(json.dumps(doc, indent=2 if sys.stdout.isatty() else None))
        sys.exit(result.exit_code)
    for line in result.recovered:
        out.print(plain(line), soft_wrap=True)
    if result.plan.steps:
        out.print(plan_table(result.plan))
    out.print(plan_summary(result.plan))
    if do_apply:
        if result.results:
            out.print(applied_table(result.results))
        if result.final is not None:
            out.print(summary_line(result.final))
    elif result.plan.acts:
        out.print(
            Text(f"dry run: nothing was changed; `nmops fix --apply --plan {result.plan.id}` "
                 "carries out exactly this plan")
        )  # fmt: skip
    sys.exit(result.exit_code)


def parse_since(text: str) -> timedelta:
    """A period on the command line (`7d`, `12h`): the configuration's duration syntax."""
    from nmops.config.incidents import parse_duration

    if _SINCE_RE.match(text.strip()) is None:  # no bare seconds or ISO forms here
        raise click.BadParameter(f"{text!r}: give a number and s, m, h, d or w (e.g. 7d, 12h)")
    return parse_duration(text)


@main.command()
@CONFIG_OPTION
@click.argument("router", required=False)
@click.option("--since", default="7d", show_default=True, help="How far back (30m, 12h, 7d, 2w).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (nmops.history/1).")
@click.option(
    "--all", "everything", is_flag=True, help="Also dry-run plans and first sightings of `ok`."
)
def history(
    config_opt: str | None, router: str | None, since: str, as_json: bool, everything: bool
) -> None:
    """What happened: findings as they came and went, steps taken and their outcomes."""
    from nmops.state import timeline

    span = parse_since(since)
    try:
        config = load_config(config_path(config_opt))
        if router is not None:
            config.routers([router])  # an unknown name is an error, not an empty timeline
        with open_store(config) as store:
            events = timeline(store, router, store.now() - span)
    except NmopsError as exc:
        _fail(exc)
        return
    if not everything:
        # What changed and what was done: not what a dry run would have done, nor the first
        # sighting of something that was fine.
        events = [
            e
            for e in events
            if e.outcome != "planned" and not (e.kind == "transition" and e.what == "ok")
        ]
    zone = config.settings.policy.zone
    if as_json:
        doc: dict[str, Any] = {
            "schema": "nmops.history/1",
            "events": [
                {
                    "at": e.at.isoformat(),
                    "router": e.router,
                    "kind": e.kind,
                    "subject": e.subject,
                    "what": e.what,
                    "outcome": e.outcome,
                    "detail": e.detail,
                }
                for e in events
            ],
        }
        click.echo(json.dumps(doc, indent=2 if sys.stdout.isatty() else None))
        sys.exit(ExitCode.OK)
    out = _console()
    if not events:
        out.print(plain(f"nothing recorded in the last {since}"))
        sys.exit(ExitCode.OK)
    table = history_table(events, zone)
    out.print(table)
    sys.exit(ExitCode.OK)
