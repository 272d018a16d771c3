"""`nmops notify --test` and `nmops outbox`."""

from __future__ import annotations

import json
import socket
import sys
import uuid
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from nmops.cli.app import CONFIG_OPTION, _console, _fail, main, open_store
from nmops.config.load import config_path, load_config
from nmops.errors import NmopsError
from nmops.report.check_text import plain
from nmops.status import ExitCode

DEAD_SHOWN_DAYS = 7  # `nmops outbox` shows rows given up in this many days


@main.command()
@CONFIG_OPTION
@click.option("--test", "test", is_flag=True, help="Send a test alert through every channel.")
def notify(config_opt: str | None, test: bool) -> None:
    """Send a test alert through every configured channel (mail recipients, webhooks) now,
    through the outbox, and say which worked."""
    from nmops.notify import outbox
    from nmops.notify.deliver import deliver_pending
    from nmops.notify.events import Event
    from nmops.notify.queue import alert_rows

    if not test:
        raise click.UsageError("say what to send: --test")
    out = _console()
    try:
        config = load_config(config_path(config_opt))
        settings = config.settings
        with open_store(config) as store:
            now = store.now()
            event = Event(
                kind="test",
                router=socket.gethostname(),
                subject="test",
                status="test",
                detail="a test alert from nmops notify --test: this channel works",
                at=now,
            )
            rows = alert_rows(settings, [event], run_key=f"test:{uuid.uuid4().hex}", now=now)
            if not rows:
                out.print(plain("no channel is configured: add `mail:` or `notify.webhooks:`"))
                sys.exit(ExitCode.UNKNOWN)
            outbox.add(store, rows)
            deliver_pending(store, settings, sender_id="nmops notify --test")
            results = outbox.by_keys(store, [r.key for r in rows])
    except NmopsError as exc:
        _fail(exc)
        return
    failed = False
    for row in results:
        worked = row.state == "sent"
        failed |= not worked
        mark = ("ok", "green") if worked else ("failed", "bold red")
        line = Text.assemble(mark, " ", plain(f"{row.channel} {row.target}"))
        if not worked:
            line.append_text(plain(f": {row.last_error or row.state}"))
        out.print(line, soft_wrap=True)
    sys.exit(ExitCode.WARNING if failed else ExitCode.OK)


def _rows_document(rows: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "channel": r.channel,
            "target": r.target,
            "subject": r.subject,
            "state": r.state,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "created_at": r.created_at.isoformat(),
            "next_try_at": r.next_try_at.isoformat(),
        }
        for r in rows
    ]


@main.command(name="outbox")
@CONFIG_OPTION
@click.option("--flush", is_flag=True, help="Send everything waiting now, retries included.")
@click.option(
    "--retry",
    is_flag=True,
    help=f"Give the rows given up in the last {DEAD_SHOWN_DAYS} days another go, now.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document (nmops.outbox/1).")
def outbox_command(config_opt: str | None, flush: bool, retry: bool, as_json: bool) -> None:
    """What waits in the outbox (mail and webhooks not sent yet, and why the last try failed);
    with --flush, send it now; with --retry, the ones given up too (once what killed them is
    fixed: their tries and age start again)."""
    from datetime import timedelta

    from nmops.notify import outbox
    from nmops.notify.deliver import Delivery, deliver_pending

    delivery: Delivery | None = None
    requeued: int | None = None
    try:
        config = load_config(config_path(config_opt))
        with open_store(config) as store:
            since = store.now() - timedelta(days=DEAD_SHOWN_DAYS)
            if retry:
                requeued = outbox.requeue_dead(store, since=since)
            if flush or retry:
                delivery = deliver_pending(store, config.settings, flush=True)
            rows = outbox.waiting(store, dead_since=since)
    except NmopsError as exc:
        _fail(exc)
        return
    code = ExitCode.WARNING if delivery is not None and not delivery.ok else ExitCode.OK
    if as_json:
        doc: dict[str, Any] = {"schema": "nmops.outbox/1", "rows": _rows_document(rows)}
        if requeued is not None:
            doc["requeued"] = requeued
        if delivery is not None:
            doc["flush"] = {
                "sent": delivery.sent,
                "failed": delivery.failed,
                "dead": delivery.dead,
                "waiting": delivery.waiting,
                "errors": list(delivery.errors),
            }
        click.echo(json.dumps(doc, indent=2 if sys.stdout.isatty() else None))
        sys.exit(code)
    out = _console()
    if requeued is not None:
        out.print(plain(f"given another go: {requeued}"))
    if delivery is not None:
        out.print(
            plain(
                f"sent {delivery.sent}, failed {delivery.failed} "
                f"({delivery.dead} given up), {delivery.waiting} waiting"
            )
        )
    if not rows:
        out.print(plain("the outbox is empty: nothing waits"))
        sys.exit(code)
    zone = config.settings.policy.zone
    table = Table(show_edge=False, header_style="bold")
    for column in ("id", "channel", "target", "subject", "state", "tries", "next", "last error"):
        table.add_column(column)
    for r in rows:
        next_try = (
            "" if r.state == "dead" else r.next_try_at.astimezone(zone).strftime("%m-%d %H:%M")
        )
        table.add_row(
            plain(r.id),
            plain(r.channel),
            plain(r.target),
            plain(r.subject),
            Text(r.state, style="bold red" if r.state == "dead" else ""),
            plain(r.attempts),
            plain(next_try),
            plain(r.last_error or ""),
        )
    out.print(table)
    sys.exit(code)
