"""`nmops state compact`: apply `state.retention` now (`nmops serve` does it daily)."""

from __future__ import annotations

import sys

import click

from nmops.cli.app import CONFIG_OPTION, _console, _fail, main, open_store
from nmops.cli.repair import parse_since
from nmops.config.load import config_path, load_config
from nmops.errors import NmopsError
from nmops.report.check_text import plain
from nmops.status import ExitCode


@main.group(name="state")
def state_group() -> None:
    """The state database."""


@state_group.command()
@CONFIG_OPTION
@click.option(
    "--keep", metavar="AGE", help="Keep this much history (default: state.retention, e.g. 90d)."
)
def compact(config_opt: str | None, keep: str | None) -> None:
    """Delete history older than the retention (what is current or still open stays)."""
    from nmops.state.retention import compact as run_compact

    try:
        config = load_config(config_path(config_opt))
        retention = parse_since(keep) if keep else config.settings.state.retention
        if retention is None:
            _console().print(plain("state.retention is null: everything is kept"))
            sys.exit(ExitCode.OK)
        if retention.days < 7:
            raise click.BadParameter("keep at least 7d (the repair ladder reads a week)")
        with open_store(config) as store:
            result = run_compact(store, retention)
    except NmopsError as exc:
        _fail(exc)
        return
    _console().print(plain(f"compacted {result.summary()}"), soft_wrap=True)
    sys.exit(ExitCode.OK)
