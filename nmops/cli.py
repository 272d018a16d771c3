"""The command line: parse arguments, call, map to an exit code. The only module that prints."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from nmops import __version__, aio
from nmops.check import CheckReport, run_check
from nmops.config.load import config_path, load_config
from nmops.errors import ConfigError, NmopsError
from nmops.report.check_json import check_document
from nmops.report.check_text import check_table, plain, router_table, summary_line
from nmops.status import ExitCode


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Piped output (cron, mail, logs) gets room for whole names instead of 80 columns.
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def _fail(exc: NmopsError) -> None:
    err = _console(stderr=True)
    # The messages carry router, DNS and config text: Text, never markup. One problem, one
    # line (soft_wrap: the terminal may wrap it, rich does not split it).
    if isinstance(exc, ConfigError):
        err.print(Text("configuration error", style="bold red"))
        for problem in exc.problems:
            err.print(plain(f"  {problem}"), soft_wrap=True)
    else:
        err.print(Text.assemble(("error:", "bold red"), " ", plain(exc)), soft_wrap=True)
    sys.exit(ExitCode.UNKNOWN)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return plain(text[:300]).plain


class _Nmops(click.Group):
    """The top-level group: whatever goes wrong, an exit code a monitoring system reads.

    An exception nmops did not foresee is UNKNOWN (3) with one line on stderr (the traceback
    with -vv), never Python's 1, which a monitoring system reads as WARNING. Ctrl-C is 130,
    as a shell reports it. Click's own errors (bad option, unknown command) are UNKNOWN as
    well, not click's 2: the monitoring plugin guidelines make invalid arguments UNKNOWN, and
    2 is CRITICAL, which would page someone over a typo as if a DDNS name had gone.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:  # the group's own options
            exc.show()
            sys.exit(ExitCode.UNKNOWN)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:  # a command's options, an unknown command
            exc.show()
            sys.exit(ExitCode.UNKNOWN)
        except (click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise  # click's to handle: --help/--version, and a reader that went away
        except KeyboardInterrupt:
            click.echo("nmops: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:
            if ctx.params.get("verbose", 0) >= 2:
                traceback.print_exc(file=sys.stderr)
                click.echo(f"nmops: internal error: {_one_line(exc)}", err=True)
            else:
                click.echo(
                    f"nmops: internal error: {_one_line(exc)}; run with -vv for the traceback",
                    err=True,
                )
            sys.exit(ExitCode.UNKNOWN)


@click.group(cls=_Nmops)
@click.version_option(__version__, prog_name="nmops")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Keeps NEC IX VPNs alive when they depend on NetMeister DDNS."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _print_report(report: CheckReport, *, as_json: bool, quiet: bool) -> None:
    out = _console()
    if as_json:
        # Indented for a person at a terminal; compact (and several times faster to write, the
        # C encoder) for a pipe.
        indent = 2 if sys.stdout.isatty() else None
        click.echo(json.dumps(check_document(report), indent=indent))
        return
    if quiet and report.exit_code is ExitCode.OK:
        return
    names = check_table(report, only_problems=quiet)
    if names.row_count:
        out.print(names)
    routers = router_table(report, only_problems=quiet)
    if routers is not None and routers.row_count:
        out.print(routers)
    out.print(summary_line(report))


@main.command()
@click.option(
    "--config",
    "config_opt",
    metavar="PATH",
    help="nmops.yaml (default: $NMOPS_CONFIG, then ./config/nmops.yaml).",
)
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
    _print_report(report, as_json=as_json, quiet=quiet)
    sys.exit(report.exit_code)


@main.command()
def demo() -> None:
    """Run nmops on the built-in lab (no routers needed) and explain what it shows."""
    from nmops.lab.demo import run_demo

    out = _console()
    result = aio.run(run_demo())
    for step in result.steps:
        out.rule(plain(step.title))
        out.print(check_table(step.report))
        routers = router_table(step.report)
        if routers is not None:
            out.print(routers)
        out.print(summary_line(step.report))
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


@main.group()
def lab() -> None:
    """A simulated network of IX routers and NetMeister DDNS on 127.0.0.1."""


_LAB_DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("lab-run"),
    show_default=True,
    help="Where the lab keeps its config, keys, logs and control socket.",
)


@lab.command("up")
@_LAB_DIR
@click.option("--routers", "extra", type=int, default=0, help="Extra generated sites.")
@click.option("--fast", is_flag=True, help="Short delays (DDNS, reload), small host keys.")
@click.option(
    "--latency",
    type=click.FloatRange(0, 10),
    default=0.0,
    metavar="SECONDS",
    help="Delay before every router reply: a real IX's CLI plus a WAN round trip.",
)
@click.option(
    "--router-config",
    "router_configs",
    multiple=True,
    metavar="NAME=FILE",
    help="Add a router whose config is FILE (`show running-config` or `show config` output); "
    "a seed router of the same NAME is replaced. Repeatable.",
)
def lab_up(
    directory: Path, extra: int, fast: bool, latency: float, router_configs: tuple[str, ...]
) -> None:
    """Start the lab in the foreground; Ctrl-C (or `nmops lab down`) stops it."""
    from nmops.lab.runner import Twin, run_lab_forever

    out = _console()

    def ready(config_path: Path, count: int) -> None:
        out.print(f"{count} routers; config: {config_path}", markup=False)
        out.print("ready", markup=False)
        sys.stdout.flush()

    try:
        twins = [Twin.parse(value) for value in router_configs]
        aio.run(
            run_lab_forever(
                directory,
                extra_routers=extra,
                fast=fast,
                latency=latency,
                twins=twins,
                on_ready=ready,
            )
        )
    except NmopsError as exc:
        _fail(exc)


@lab.command("fault")
@_LAB_DIR
@click.argument("router")
@click.argument("kind")
def lab_fault(directory: Path, router: str, kind: str) -> None:
    """Inject fault KIND into ROUTER of a running lab (waits until the lab settles)."""
    _lab_request(directory, {"op": "fault", "router": router, "kind": kind})


@lab.command("clear")
@_LAB_DIR
@click.argument("router")
@click.argument("kind", required=False)
def lab_clear(directory: Path, router: str, kind: str | None) -> None:
    """Clear one fault of ROUTER, or all of them."""
    _lab_request(directory, {"op": "clear", "router": router, "kind": kind})


@lab.command("down")
@_LAB_DIR
def lab_down(directory: Path) -> None:
    """Stop a lab started elsewhere with `nmops lab up`."""
    _lab_request(directory, {"op": "down"})


def _lab_request(directory: Path, request: dict[str, object]) -> None:
    from nmops.lab.runner import control_request

    try:
        aio.run(control_request(directory, request))
    except NmopsError as exc:
        _fail(exc)
    _console().print("ok", markup=False)
