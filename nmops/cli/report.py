"""`nmops report` (the digest: text, HTML, or mailed) and `nmops silence`."""

from __future__ import annotations

import getpass
import json
import socket
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from nmops.cli.app import CONFIG_OPTION, _console, _fail, main, open_store
from nmops.cli.repair import parse_since
from nmops.config.load import config_path, load_config
from nmops.config.notify import Language
from nmops.errors import NmopsError
from nmops.report.check_text import plain
from nmops.status import ExitCode

MAX_SILENCE = timedelta(days=30)  # a forgotten silence must end by itself


@main.command()
@CONFIG_OPTION
@click.option("--since", default="24h", show_default=True, help="The period (12h, 24h, 7d).")
@click.option("--html", "html_file", metavar="FILE", help="Also write the HTML digest to FILE.")
@click.option("--send", is_flag=True, help="Mail it to the recipients of `report` (outbox).")
@click.option(
    "--language", type=click.Choice(["ja", "en"]), help="Default: report.language in nmops.yaml."
)
def report(
    config_opt: str | None, since: str, html_file: str | None, send: bool, language: str | None
) -> None:
    """The digest: each router's names now and over 24 h and 7 days, incidents, actions,
    VPN link paths, pins and missed job runs. Text on stdout; --html FILE; --send mails it."""
    from nmops.report.digest import build_digest

    span = parse_since(since)
    out = _console()
    err = _console(stderr=True)
    try:
        config = load_config(config_path(config_opt))
        settings = config.settings
        lang: Language = "en" if (language or settings.report.language) == "en" else "ja"
        if send and settings.mail is None:
            raise click.UsageError("--send needs `mail:` in nmops.yaml")
        with open_store(config) as store:
            now = store.now()
            message = build_digest(store, config, since=now - span, now=now, language=lang)
            if html_file is not None:
                _write(Path(html_file), message.html or "")
            if send:
                from nmops.notify.deliver import deliver_pending
                from nmops.notify.outbox import by_keys
                from nmops.notify.queue import queue_message

                key = f"report:{now:%Y%m%dT%H%M%S}:{lang}:{since}"
                queued = queue_message(store, settings, message, key=key)
                deliver_pending(store, settings, sender_id="nmops report --send")
                assert settings.mail is not None
                mine = by_keys(store, [f"{key}:mail:{r.address}" for r in settings.mail.to])
    except NmopsError as exc:
        _fail(exc)
        return
    if not send:
        click.echo(message.text, nl=False)
        sys.exit(ExitCode.OK)
    if queued == 0:
        err.print(plain("no recipient takes `report` (mail.to[].events): nothing was sent"))
        sys.exit(ExitCode.WARNING)
    unsent = [row for row in mine if row.state != "sent"]
    if unsent:
        err.print(
            plain(
                f"the digest is queued but {len(unsent)} of {len(mine)} mails could not be sent "
                "now; they wait in the outbox and go out with the next delivery "
                "(`nmops outbox --flush` sends them now)"
            ),
            soft_wrap=True,
        )
        for row in unsent:
            err.print(plain(f"  {row.target}: {row.last_error or row.state}"), soft_wrap=True)
        sys.exit(ExitCode.WARNING)
    out.print(plain(f"sent: {message.subject} (to {len(mine)})"), soft_wrap=True)
    sys.exit(ExitCode.OK)


def _write(path: Path, html: str) -> None:
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise NmopsError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@main.command()
@CONFIG_OPTION
@click.argument("router", required=False)
@click.option(
    "--for", "length", default="2h", show_default=True, help="How long (30m, 2h, 1d; at most 30d)."
)
@click.option("--reason", metavar="TEXT", help="Why (shown with the silence and in reports).")
@click.option("--list", "listing", is_flag=True, help="The silences and maintenance windows.")
@click.option("--clear", "clear_id", type=int, metavar="ID", help="End silence ID now.")
@click.option("--json", "as_json", is_flag=True, help="With --list: one JSON document.")
def silence(
    config_opt: str | None,
    router: str | None,
    length: str,
    reason: str | None,
    listing: bool,
    clear_id: int | None,
    as_json: bool,
) -> None:
    """Record ROUTER's incidents without mailing them for a while ('*' for every router):
    for planned work. --list shows silences and the maintenance windows of nmops.yaml."""
    from nmops.incidents.silences import (
        EVERY_ROUTER,
        add_silence,
        clear_silence,
        list_silences,
    )
    from nmops.report.digest import duration

    chosen = sum([router is not None, listing, clear_id is not None])
    if chosen != 1:
        raise click.UsageError("give ROUTER, --list or --clear ID (one of them)")
    span = parse_since(length)
    if router is not None and not timedelta(0) < span <= MAX_SILENCE:
        raise click.BadParameter("a silence lasts more than 0 and at most 30d", param_hint="--for")
    if reason is not None and any(not c.isprintable() for c in reason):
        raise click.BadParameter("no control characters", param_hint="--reason")
    out = _console()
    try:
        config = load_config(config_path(config_opt))
        if router is not None and router != EVERY_ROUTER:
            config.routers([router])  # an unknown name is an error
        zone = config.settings.policy.zone
        with open_store(config) as store:
            if router is not None:
                made = add_silence(store, router, span, reason=reason, created_by=_who())
                until = made.ends_at.astimezone(zone)
                out.print(
                    plain(
                        f"silenced {router} until {until:%Y-%m-%d %H:%M} {zone.key} "
                        f"(id {made.id}): incidents are recorded, not mailed"
                    ),
                    soft_wrap=True,
                )
                sys.exit(ExitCode.OK)
            if clear_id is not None:
                cleared = clear_silence(store, clear_id)
                if cleared is None:
                    out.print(plain(f"no silence {clear_id} in force"))
                    sys.exit(ExitCode.WARNING)
                out.print(plain(f"cleared silence {clear_id} ({cleared.router})"))
                sys.exit(ExitCode.OK)
            now = store.now()
            found = list_silences(store)
    except NmopsError as exc:
        _fail(exc)
        return
    windows = config.settings.incidents.maintenance
    if as_json:
        doc: dict[str, Any] = {
            "schema": "nmops.silences/1",
            "silences": [
                {
                    "id": s.id,
                    "router": s.router,
                    "starts_at": s.starts_at.isoformat(),
                    "ends_at": s.ends_at.isoformat(),
                    "reason": s.reason,
                    "created_by": s.created_by,
                    "active": s.starts_at <= now,
                }
                for s in found
            ],
            "maintenance": [
                {
                    "routers": w.routers if w.routers == "*" else list(w.routers),
                    "every": w.every,
                    "start": w.start,
                    "duration": w.duration.total_seconds(),
                    "reason": w.reason,
                    "active": w.active(now, zone),
                }
                for w in windows
            ],
        }
        click.echo(json.dumps(doc, indent=2 if sys.stdout.isatty() else None))
        sys.exit(ExitCode.OK)
    if not found and not windows:
        out.print(plain("no silences and no maintenance windows"))
        sys.exit(ExitCode.OK)
    if found:
        table = Table(show_edge=False, header_style="bold")
        for column in ("id", "router", "from", "until", "by", "reason"):
            table.add_column(column)
        for s in found:
            table.add_row(
                plain(s.id),
                plain(s.router),
                plain(f"{s.starts_at.astimezone(zone):%m-%d %H:%M}"),
                plain(f"{s.ends_at.astimezone(zone):%m-%d %H:%M}"),
                plain(s.created_by),
                plain(s.reason or ""),
            )
        out.print(table)
    for w in windows:
        routers = "*" if w.routers == "*" else ", ".join(w.routers)
        when = w.every if w.is_cron else f"{w.every} {w.start}"
        line = Text.assemble(
            ("maintenance", "bold"),
            " ",
            plain(f"{routers}: {when} for {duration(w.duration, 'en')}"),
        )
        if w.reason:
            line.append_text(plain(f" ({w.reason})"))
        if w.active(now, zone):
            line.append(" active now", style="yellow")
        out.print(line, soft_wrap=True)
    sys.exit(ExitCode.OK)
