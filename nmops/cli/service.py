"""`nmops serve`: the jobs, on their schedules, until SIGTERM."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.text import Text

from nmops.cli.app import CONFIG_OPTION, _console, _fail, main
from nmops.config.load import config_path
from nmops.errors import ConfigError, NmopsError
from nmops.report.check_text import plain
from nmops.status import ExitCode


def _address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not ADDR:PORT (e.g. 127.0.0.1:9811)")
    return host.strip("[]") or "127.0.0.1", int(port)


@main.command()
@CONFIG_OPTION
@click.option(
    "--jobs",
    "jobs_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="The job files (default: jobs/ beside nmops.yaml's directory, then ./jobs).",
)
@click.option("--metrics", metavar="ADDR:PORT", help="Serve /metrics and /healthz there.")
def serve(config_opt: str | None, jobs_dir: Path | None, metrics: str | None) -> None:
    """Run the jobs in jobs/*.yaml on their cron schedules: checks, fixes, peer syncs and the
    daily report. SIGTERM lets a running job finish; SIGHUP reloads config and jobs."""
    from nmops.service import memory
    from nmops.service.metrics import MetricsServer
    from nmops.service.scheduler import Service

    memory.cap_arenas()  # before any thread (the metrics server's, the jobs')
    err = _console(stderr=True)
    try:
        address = _address(metrics) if metrics else None
        path = config_path(config_opt)
        service = Service.open(path, jobs_dir or _default_jobs(path))
        problems = service.load_jobs()
    except click.BadParameter as exc:
        err.print(plain(f"error: {exc.message}"))
        sys.exit(ExitCode.UNKNOWN)
    except NmopsError as exc:
        _fail(exc)
        return
    for problem in problems:
        err.print(Text.assemble(("job file: ", "yellow"), plain(problem)), soft_wrap=True)
    if not service.jobs:
        _fail(ConfigError([*problems, f"{service.jobs_dir}: no job to run"]))
        return
    server = None
    if address is not None:
        try:
            server = MetricsServer(*address, service.store, service.alive, service.answers)
        except OSError as exc:
            _fail(NmopsError(f"cannot serve metrics on {metrics}: {exc.strerror}"))
            return
        server.start()
        err.print(plain(f"metrics on http://{address[0]}:{server.port}/metrics"))
    try:
        service.run()
    finally:
        if server is not None:
            server.stop()
        service.store.close()
    sys.exit(ExitCode.OK)


def _default_jobs(config: Path) -> Path:
    """`jobs/` beside the directory of nmops.yaml (the repository's layout), else ./jobs."""
    beside = config.resolve().parent.parent / "jobs"
    return beside if beside.is_dir() else Path("jobs")
