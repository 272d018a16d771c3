"""`nmops peers`: render the routers' configs from the inventory, and lint them.

Secrets are never printed. `render` to stdout writes every secret as the placeholder
(`****`): a terminal's scrollback, a CI log or a pipe into mail keeps whatever passes through
it, so there is no switch that prints them. The real values go only into the files
`render --out DIR` writes, each created mode 0600 (the directory 0700 when nmops creates it).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from nmops import aio
from nmops.cli.app import CONFIG_OPTION, _console, _fail, main
from nmops.config.load import Config, config_path, load_config
from nmops.config.secrets import SecretRef
from nmops.errors import ConfigError, NmopsError
from nmops.peers.configs import Configs, linked, rendered, running, templates_dir
from nmops.peers.lint import Finding, exit_code, lint
from nmops.peers.render import render_text
from nmops.report.check_text import plain
from nmops.status import ExitCode, worst


@main.group()
def peers() -> None:
    """The peer config from the inventory: render, lint, diff, sync."""


def _selected(config: Config, router: str | None) -> list[str]:
    return [r.name for r in config.routers([router] if router else None)]


@peers.command()
@CONFIG_OPTION
@click.argument("router", required=False)
@click.option(
    "--out",
    "out_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/ROUTER.conf with the real secrets (mode 0600) instead of printing.",
)
def render(config_opt: str | None, router: str | None, out_dir: Path | None) -> None:
    """Each router's full config, rendered from the inventory (secrets masked on stdout)."""
    try:
        config = load_config(config_path(config_opt))
        names = _selected(config, router)
        reader = SecretRef.reveal if out_dir is not None else None
        texts: dict[str, str] = {}
        problems: list[str] = []
        for name in names:
            try:
                texts[name] = render_text(
                    config.inventory, name, secret=reader, templates=templates_dir(config)
                )
            except ConfigError as exc:
                problems += exc.problems  # every router's missing secrets at once
        if problems:
            raise ConfigError(list(dict.fromkeys(problems)))
        if out_dir is not None:
            written = [_write_private(out_dir, f"{n}.conf", text) for n, text in texts.items()]
    except NmopsError as exc:
        _fail(exc)
        return
    if out_dir is None:
        for name, text in texts.items():
            if len(texts) > 1:
                click.echo(f"! nmops peers render: {name}")  # a comment line to the IX
            click.echo(text, nl=False)
        return
    out = _console()
    for path in written:
        out.print(plain(f"wrote {path} (mode 0600: it holds secrets)"))


def _write_private(directory: Path, name: str, text: str) -> Path:
    """``directory/name`` holding ``text``, readable by its owner only from the first byte,
    replaced whole (a reader never sees half a file)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = directory / name
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    except OSError as exc:
        raise NmopsError(f"cannot write in {directory}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise NmopsError(f"cannot write {directory / name}: {exc.strerror or exc}") from None
    return target


@peers.command("lint")
@CONFIG_OPTION
@click.argument("router", required=False)
@click.option("--running", "use_running", is_flag=True, help="Lint the routers' running configs.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (nmops.lint/1).")
def lint_command(
    config_opt: str | None, router: str | None, use_running: bool, as_json: bool
) -> None:
    """Check the rendered configs (or, with --running, the routers' own) for what breaks
    these VPNs. Exit 2 on errors, 1 on warnings only, 0 when clean."""
    try:
        config = load_config(config_path(config_opt))
        names = _selected(config, router)
        if use_running:
            selected = config.routers(names)
            source = aio.run(running(config, linked(config, selected)))
        else:
            source = rendered(config)
    except NmopsError as exc:
        _fail(exc)
        return
    findings = lint(
        source.trees,
        zone=config.inventory.netmeister.zone,
        only=names,
        complete=source.complete(config),
        addresses=source.addresses,
    )
    unread = {n: why for n, why in source.failed.items() if n in names}
    code = worst([exit_code(findings), ExitCode.UNKNOWN if unread else ExitCode.OK])
    if as_json:
        document = _document(names, findings, unread, source, use_running, code)
        click.echo(json.dumps(document, indent=2 if sys.stdout.isatty() else None))
    else:
        _print_findings(findings, unread, source, code)
    sys.exit(code)


def _document(
    names: list[str],
    findings: list[Finding],
    unread: dict[str, str],
    source: Configs,
    use_running: bool,
    code: ExitCode,
) -> dict[str, Any]:
    return {
        "schema": "nmops.lint/1",
        "source": "running" if use_running else "rendered",
        "routers": names,
        "exit_code": int(code),
        "status": code.label,
        "findings": [f.document() for f in findings],
        "unread": unread,  # selected routers whose config could not be had, and why
        "skipped": {n: why for n, why in source.failed.items() if n not in names},
    }


def _print_findings(
    findings: list[Finding], unread: dict[str, str], source: Configs, code: ExitCode
) -> None:
    out = _console()
    err = _console(stderr=True)
    for name, why in source.failed.items():
        what = "cannot lint" if name in unread else "not used as a peer"
        err.print(Text.assemble(("warning:", "yellow"), " ", plain(f"{name}: {what}: {why}")))
    if findings:
        table = Table(show_edge=False, header_style="bold")
        for column in ("severity", "code", "router", "line", "problem", "fix"):
            table.add_column(column, overflow="fold")
        for f in findings:
            style = "red" if f.severity == "error" else "yellow"
            table.add_row(
                Text(f.severity, style=style),
                plain(f.code),
                plain(f.router),
                plain(f.line),
                plain(f.message),
                plain(f.hint),
            )
        out.print(table)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    out.print(plain(f"{code.label.upper()}: {errors} error(s), {warnings} warning(s)"))
