"""`nmops peers diff` and `nmops peers sync` (on the `peers` group of nmops.cli.peers)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click
from rich.text import Text

from nmops import aio
from nmops.cli.app import CONFIG_OPTION, _console, _fail, open_store
from nmops.cli.peers import peers
from nmops.cli.repair import _Progress, _Waiting
from nmops.config.load import config_path, load_config
from nmops.errors import NmopsError
from nmops.report.check_text import plain

if TYPE_CHECKING:
    from nmops.peers.sync import RouterSync, SyncResult

DIFF_SCHEMA = "nmops.peers-diff/1"


def _document(result: SyncResult) -> dict[str, Any]:
    from nmops.peers.diff import masked

    def one(item: RouterSync) -> dict[str, Any]:
        drift = item.drift
        return {
            "router": item.router,
            "skipped": item.skipped,
            "error": item.error,
            "clean": drift.clean if drift is not None else None,
            "edits": [
                {"context": list(e.context), "line": e.line}
                for e in (drift.shown() if drift else ())
            ],
            "removed": [list(p) for p in (drift.removed if drift else ())],
            "added": [list(p) for p in (drift.added if drift else ())],
            "pins": [
                {"tunnel": p.tunnel, "address": p.address} for p in (drift.pins if drift else ())
            ],
            "unsaved": item.unsaved,
            "lockout": list(item.lockout),
            "held_back": [str(masked(e)) for e in item.held_back],
            "rehearsal": None
            if item.rehearsal is None
            else {"ok": item.rehearsal.ok, "detail": item.rehearsal.detail},
            "outcome": item.outcome,
            "detail": item.detail or None,
        }

    return {
        "schema": DIFF_SCHEMA,
        "applied": result.applied,
        "status": result.exit_code.label,
        "routers": [one(r) for r in result.routers],
    }


def _print(result: SyncResult, *, as_json: bool) -> None:
    from nmops.peers.diff import unified

    if as_json:
        click.echo(json.dumps(_document(result), indent=2 if sys.stdout.isatty() else None))
        return
    out = _console()
    for item in result.routers:
        if item.skipped is not None:
            out.print(Text.assemble((item.router, "bold"), ": not managed: ", plain(item.skipped)))
            continue
        if item.error is not None:
            out.print(
                Text.assemble(
                    (item.router, "bold"), ": ", ("not read", "red"), ": ", plain(item.error)
                ),
                soft_wrap=True,
            )
            continue
        drift = item.drift
        assert drift is not None
        head = "in sync" if drift.clean else f"{len(drift.edits)} lines converge it"
        if drift.pins:
            head += "; pinned: " + ", ".join(f"{p.tunnel} -> {p.address}" for p in drift.pins)
        out.print(Text.assemble((item.router, "bold"), ": ", plain(head)), soft_wrap=True)
        if not drift.clean and not result.applied:
            for line in unified(drift):
                style = (
                    "red"
                    if line.lstrip().startswith("- ")
                    else "green"
                    if line.lstrip().startswith("+ ")
                    else ""
                )
                out.print(Text(f"  {line}", style=style), soft_wrap=True)
            out.print(Text("  plan:", style="bold"))
            for edit in drift.shown():
                out.print(plain(f"    {edit}"), soft_wrap=True)
        for reason in item.lockout:
            out.print(Text.assemble(("  lockout: ", "yellow"), plain(reason)), soft_wrap=True)
        if item.unsaved:
            out.print(Text("  the running config is not saved: sync refuses it", style="yellow"))
        if item.rehearsal is not None:
            out.print(Text.assemble("  rehearsal: ", plain(item.rehearsal.detail)), soft_wrap=True)
        if item.outcome is not None:
            out.print(
                Text.assemble("  ", (item.outcome, "bold"), ": ", plain(item.detail)),
                soft_wrap=True,
            )


@peers.command()
@CONFIG_OPTION
@click.argument("router", required=False)
@click.option("--json", "as_json", is_flag=True, help=f"One JSON document ({DIFF_SCHEMA}).")
def diff(config_opt: str | None, router: str | None, as_json: bool) -> None:
    """Compare each router's running config with the rendered one: the lines that would
    converge it (exit 1 when there are any). Secrets compared by presence, never shown."""
    from nmops.peers.sync import peers_diff

    try:
        config = load_config(config_path(config_opt))
        selected = config.routers([router] if router else None)
        with open_store(config) as store:
            result = aio.run(peers_diff(config, selected, store))
    except NmopsError as exc:
        _fail(exc)
        return
    _print(result, as_json=as_json)
    sys.exit(result.exit_code)


@peers.command()
@CONFIG_OPTION
@click.argument("router", required=False)
@click.option("--apply", "do_apply", is_flag=True, help="Push the difference (default: show it).")
@click.option("--force", is_flag=True, help="Even if it touches nmops's management path.")
@click.option(
    "--wait",
    type=click.FloatRange(0, 3600),
    default=600.0,
    show_default=True,
    metavar="SECONDS",
    help="How long --apply waits for another nmops that is acting.",
)
@click.option("--json", "as_json", is_flag=True, help=f"One JSON document ({DIFF_SCHEMA}).")
def sync(
    config_opt: str | None,
    router: str | None,
    do_apply: bool,
    force: bool,
    wait: float,
    as_json: bool,
) -> None:
    """Bring routers back to the rendered config: refused on unsaved configs and on plans that
    touch the management path (unless --force), rehearsed on a lab twin, then pushed line by
    line with undo, verified and saved. Without --apply, shows what it would do."""
    from nmops.peers.sync import peers_diff, peers_sync

    progress = _Progress() if do_apply and not as_json else None
    try:
        config = load_config(config_path(config_opt))
        selected = config.routers([router] if router else None)
        with open_store(config) as store:
            if do_apply:
                result = aio.run(
                    peers_sync(
                        config,
                        store,
                        selected,
                        force=force,
                        progress=progress,
                        wait=wait,
                        on_wait=_Waiting(_console(stderr=True)),
                    )
                )
            else:
                result = aio.run(peers_diff(config, selected, store))
    except NmopsError as exc:
        _fail(exc)
        return
    finally:
        if progress is not None:
            progress.stop()
    _print(result, as_json=as_json)
    sys.exit(result.exit_code)
