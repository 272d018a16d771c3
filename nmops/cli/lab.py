"""`nmops lab up|fault|clear|down`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from nmops import aio
from nmops.cli.app import _console, _fail, main
from nmops.errors import NmopsError


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
