"""The command line's frame: the top-level group, its exit codes, the consoles, the error
printer. The commands live in the modules beside it."""

from __future__ import annotations

import logging
import sys
import traceback
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.text import Text

from nmops import __version__
from nmops.config.load import Config
from nmops.errors import ConfigError, NmopsError
from nmops.report.check_text import plain
from nmops.status import ExitCode

if TYPE_CHECKING:
    from nmops.state import Store


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


# The option every command that reads the configuration takes.
CONFIG_OPTION = click.option(
    "--config",
    "config_opt",
    metavar="PATH",
    help="nmops.yaml (default: $NMOPS_CONFIG, then ./config/nmops.yaml).",
)


def open_store(config: Config) -> Store:
    """The state database the configuration names (created and migrated when new)."""
    from nmops.state import Store

    return Store.open(config.settings.state.resolved(config.base_dir))
