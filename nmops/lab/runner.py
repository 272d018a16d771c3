"""The whole lab in one process: the DDNS stand-in, the simulated IX routers, the config files
that point nmops at them, and a control socket for ``nmops lab fault|clear|down``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nmops.errors import NmopsError
from nmops.lab.configs import LabRouter, write_lab_config
from nmops.lab.ddns import DdnsRegistry, DdnsServer
from nmops.lab.ixsim import (
    FAULT_KINDS,
    LabError,
    RouterEndpoint,
    SimLab,
    Timings,
    generate_site_configs,
    golden_configs,
)
from nmops.lab.ixsim.sites import SEED_GROUP

log = logging.getLogger(__name__)

ZONE = "nmddns.jp"
USERNAME = "nmops"
CONTROL = "control.sock"
DEFAULT_DIR = Path("lab-run")


@dataclass
class RunningLab:
    directory: Path
    config_path: Path
    registry: DdnsRegistry
    ddns: DdnsServer
    sim: SimLab
    endpoints: dict[str, RouterEndpoint]

    async def fault(self, router: str, kind: str, *, settle: bool = True) -> None:
        self.sim.fault(router, kind)
        if settle:
            await self.sim.settle()

    async def clear(self, router: str, kind: str | None = None, *, settle: bool = True) -> None:
        self.sim.clear(router, kind)
        if settle:
            await self.sim.settle()

    async def stop(self) -> None:
        await self.sim.stop()
        await self.ddns.stop()


async def start_lab(
    directory: Path,
    *,
    extra_routers: int = 0,
    fast: bool = False,
    timings: Timings | None = None,
    ssh: dict[str, Any] | None = None,
) -> RunningLab:
    """Start the lab and write ``DIR/nmops.yaml`` + ``DIR/inventory.yaml`` for it."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    password = _router_password(directory)
    registry = DdnsRegistry()
    ddns = DdnsServer(registry, ZONE)
    await ddns.start()
    sim = SimLab()
    configs = golden_configs() + (generate_site_configs(extra_routers) if extra_routers else [])
    try:
        endpoints = await sim.start(
            configs,
            registry,
            fast=fast,
            timings=timings,
            state_dir=directory,
            username=USERNAME,
            password=password,
            zone=ZONE,
        )
        await sim.settle(timeout=60 + 0.1 * len(endpoints))
    except BaseException:
        await sim.stop()
        await ddns.stop()
        raise
    config_path = write_lab_config(
        directory,
        dns_servers=[ddns.address],
        group=SEED_GROUP,
        zone=ZONE,
        routers=[
            LabRouter(name, site=name, management=[{"host": e.host, "port": e.port}])
            for name, e in endpoints.items()
        ],
        defaults={"login": {"username": USERNAME, "password": {"file": "secrets/router-password"}}},
        extra_settings={
            "ssh": {
                "known_hosts": "known_hosts",  # SimLab pinned every router's key there
                "connect_timeout": 5,
                "command_timeout": 15,
                "concurrency": 50,
                "log_dir": "nmops-logs",  # nmops's side; logs/ is what the routers received
                **(ssh or {}),
            }
        },
    )
    return RunningLab(directory, config_path, registry, ddns, sim, endpoints)


def _router_password(directory: Path) -> str:
    """A fresh random password per lab, kept in a file the inventory references."""
    path = directory / "secrets" / "router-password"
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    return password


# --- control socket ---------------------------------------------------------------------------


async def serve_control(lab: RunningLab, stop: asyncio.Event) -> asyncio.AbstractServer:
    """JSON lines on ``DIR/control.sock``: ``{"op": "fault"|"clear"|"down"|"status", ...}``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = json.loads(await reader.readline())
            reply = await _dispatch(lab, stop, request)
        except (ValueError, NmopsError, KeyError, TypeError) as exc:
            reply = {"ok": False, "error": str(exc)}
        writer.write((json.dumps(reply) + "\n").encode())
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    path = lab.directory / CONTROL
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return await asyncio.start_unix_server(handle, path=str(path))


async def _dispatch(lab: RunningLab, stop: asyncio.Event, request: Any) -> dict[str, Any]:
    if not isinstance(request, dict):
        raise ValueError("a request is a JSON object")
    op = request.get("op")
    if op == "fault":
        kind = str(request["kind"])
        if kind not in FAULT_KINDS:
            raise LabError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        await lab.fault(str(request["router"]), kind)
        return {"ok": True}
    if op == "clear":
        kind_or_all = request.get("kind")
        await lab.clear(str(request["router"]), None if kind_or_all is None else str(kind_or_all))
        return {"ok": True}
    if op == "down":
        stop.set()
        return {"ok": True}
    if op == "status":
        return {"ok": True, "routers": sorted(lab.endpoints), "config": str(lab.config_path)}
    raise ValueError(f"unknown op {op!r}")


async def control_request(directory: Path, request: dict[str, Any], timeout: float = 120) -> Any:
    """Send one request to a running lab and return its reply."""
    path = directory / CONTROL
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
    except OSError as exc:
        raise LabError(f"no lab running in {directory} ({exc.strerror or exc})") from exc
    writer.write((json.dumps(request) + "\n").encode())
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), timeout)
    writer.close()
    if not line:
        raise LabError("the lab closed the control connection without answering")
    reply = json.loads(line)
    if not reply.get("ok"):
        raise LabError(str(reply.get("error", "the lab refused")))
    return reply


async def run_lab_forever(
    directory: Path,
    *,
    extra_routers: int = 0,
    fast: bool = False,
    latency: float = 0.0,
    on_ready: Callable[[Path, int], None] | None = None,
) -> None:
    """``nmops lab up``: start, announce, serve the control socket until SIGINT/SIGTERM or
    ``down``, then stop everything."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    timings = dataclasses.replace(Timings.fast() if fast else Timings(), reply_delay=latency)
    lab = await start_lab(directory, extra_routers=extra_routers, fast=fast, timings=timings)
    server = await serve_control(lab, stop)
    try:
        if on_ready is not None:
            on_ready(lab.config_path, len(lab.endpoints))
        await stop.wait()
    finally:
        server.close()
        await lab.stop()
        with contextlib.suppress(FileNotFoundError):
            (lab.directory / CONTROL).unlink()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
