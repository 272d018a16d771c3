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
from nmops.ix import lines, routerconfig
from nmops.ix.dialect import clean_output
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
from nmops.lab.ixsim.sites import GOLDEN_ROUTERS, SEED_GROUP
from nmops.names import check_name, is_interface

log = logging.getLogger(__name__)

ZONE = "nmddns.jp"
USERNAME = "nmops"
CONTROL = "control.sock"


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


@dataclass(frozen=True)
class Twin:
    """A lab router that is a copy of a real one: its config, from a file."""

    name: str
    path: Path

    @classmethod
    def parse(cls, value: str) -> Twin:
        """``NAME=FILE`` as given to `nmops lab up --router-config`."""
        name, sep, path = value.partition("=")
        if not sep or not path:
            raise LabError(f"--router-config {value!r}: give NAME=FILE")
        try:
            check_name(name)
        except ValueError as exc:
            raise LabError(f"--router-config {value!r}: {exc}") from None
        return cls(name, Path(path))

    def config_text(self) -> str:
        """The file as a config: `show running-config` or `show config` output (header,
        prompts and echoed commands are dropped), or a bare config."""
        try:
            raw = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise LabError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        config = lines.parse("\n".join(clean_output(raw)))
        if not len(config):
            raise LabError(f"{self.path}: no config lines in it")
        return lines.render(config)


def _twin_inventory(name: str, text: str, group: str) -> dict[str, Any]:
    """The inventory entry of a twin: its DDNS names as its own `nm` lines make them."""
    config = lines.parse(text)
    nm = routerconfig.netmeister(config)
    entry: dict[str, Any] = {}
    notify = {family: ifname for family, ifname in nm.notify.items() if is_interface(ifname)}
    if nm.enabled and nm.group == group and notify:
        entry["ddns"] = notify
        label = (nm.hostname or routerconfig.hostname(config) or name).lower()
        if label != name.lower():
            entry["ddns_hostname"] = label
    elif nm.enabled and nm.notify:
        log.warning(
            "twin %s: NetMeister group %s is not the lab's (%s): its names are not checked",
            name,
            nm.group,
            group,
        )
    return entry


def _lab_configs(extra_routers: int, twins: list[Twin]) -> list[tuple[str, str]]:
    """The seed's routers (a twin of the same name replaces one), generated sites, twins."""
    texts = {twin.name: twin.config_text() for twin in twins}
    configs = [(n, texts.pop(n) if n in texts else t) for n, t in golden_configs()]
    configs += generate_site_configs(extra_routers) if extra_routers else []
    configs += list(texts.items())
    return configs


async def start_lab(
    directory: Path,
    *,
    extra_routers: int = 0,
    fast: bool = False,
    timings: Timings | None = None,
    ssh: dict[str, Any] | None = None,
    twins: list[Twin] | None = None,
    policy: dict[str, Any] | None = None,
) -> RunningLab:
    """Start the lab and write ``DIR/nmops.yaml`` + ``DIR/inventory.yaml`` for it."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    configs = _lab_configs(extra_routers, twins or [])
    password = _router_password(directory)
    registry = DdnsRegistry()
    ddns = DdnsServer(registry, ZONE)
    await ddns.start()
    sim = SimLab()
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
    network = _seed_network(directory, twins or [])
    config_path = write_lab_config(
        directory,
        dns_servers=[ddns.address],
        group=SEED_GROUP,
        zone=ZONE,
        routers=[
            _with_network(_lab_router(name, text, endpoints[name], twins or []), network)
            for name, text in configs
        ],
        links=SEED_LINKS if network else None,
        netmeister_password={"file": "secrets/netmeister-password"} if network else None,
        defaults={"login": {"username": USERNAME, "password": {"file": "secrets/router-password"}}},
        extra_settings={
            "ssh": {
                "known_hosts": "known_hosts",  # SimLab pinned every router's key there
                "connect_timeout": 5,
                "command_timeout": 15,
                "concurrency": 50,
                "log_dir": "nmops-logs",  # nmops's side; logs/ is what the routers received
                **(ssh or {}),
            },
            "policy": {
                **lab_policy(timings or (Timings.fast() if fast else Timings())),
                **(policy or {}),
            },
        },
    )
    return RunningLab(directory, config_path, registry, ddns, sim, endpoints)


def lab_policy(timings: Timings) -> dict[str, Any]:
    """The repair policy scaled to the lab's clock: waits a few times what the simulated
    routers take (DDNS, reload), so a whole ladder, reboot and all, runs in seconds. The lab
    is a sandbox: `fix --apply` may act there."""
    unit = max(timings.ddns_delay, 0.05)
    return {
        "actions": "apply",
        "ddns_wait": round(max(25 * unit, 3.0), 2),
        "ike_wait": round(max(30 * unit, 4.0), 2),
        "reboot_wait": round(max(6 * timings.reload_delay + 40 * unit, 15.0), 2),
        "poll": round(max(unit, 0.2), 2),
        "link_gap": 600,
    }


def _lab_router(name: str, text: str, endpoint: RouterEndpoint, twins: list[Twin]) -> LabRouter:
    management = [{"host": endpoint.host, "port": endpoint.port}]
    if not any(t.name == name for t in twins):
        return LabRouter(name, site=name, management=management)
    entry = _twin_inventory(name, text, SEED_GROUP)
    return LabRouter(
        name,
        site=name,
        management=management,
        ddns=entry.get("ddns"),
        ddns_hostname=entry.get("ddns_hostname"),
    )


# The seed network as `nmops peers render` reads it (config/inventory.yaml's shape), with the
# article's example secrets in the lab's secrets directory: the render equals the lab's configs.
SEED_LINKS = [
    {"peers": list(GOLDEN_ROUTERS), "via": [{"family": "ipv6", "cost": 1},
                                            {"family": "ipv4", "cost": 100}]},
]  # fmt: skip
_SEED_SECRETS = {
    "netmeister-password": "password-fetburner",
    "pppoe-password": "password-1",
    "psk-ix2215-tokyo": "ix2215-tokyo-psk",
    "psk-ix2215-kagawa": "ix2215-kagawa-psk",
}
_SEED_LANS = {"ix2215-tokyo": "192.168.100.1/24", "ix2215-kagawa": "192.168.10.1/24"}


def _seed_network(directory: Path, twins: list[Twin]) -> dict[str, dict[str, Any]]:
    """Each seed router's network keys; none when a twin stands in for one of them."""
    if any(t.name in GOLDEN_ROUTERS for t in twins):
        return {}
    for name, value in _SEED_SECRETS.items():
        _write_secret(directory / "secrets" / name, value)
    wan = {
        "ipoe": {"interface": "GigaEthernet0.0", "mode": "map-e-ocn", "ipv6": "nd-proxy"},
        "pppoe": {
            "interface": "GigaEthernet0.1",
            "profile": "flets-v4",
            "username": "user-A@example.com",
            "password": {"file": "secrets/pppoe-password"},
        },
    }
    out: dict[str, dict[str, Any]] = {}
    for name in GOLDEN_ROUTERS:
        out[name] = {
            "model": "IX2215",
            "wan": wan,
            "monitor": {"target": "8.8.8.8"},
            "lan": {"interface": "GigaEthernet2.0", "address": _SEED_LANS[name]},
            "psk": {"file": f"secrets/psk-{name}"},
        }
    out["ix2215-kagawa"]["hgw"] = {"address": "192.168.1.254/24"}
    return out


def _with_network(router: LabRouter, network: dict[str, dict[str, Any]]) -> LabRouter:
    described = network.get(router.name)
    if described is None:
        return router
    return dataclasses.replace(router, network=described)


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")


def _router_password(directory: Path) -> str:
    """A fresh random password per lab, kept in a file the inventory references."""
    password = secrets.token_urlsafe(16)
    _write_secret(directory / "secrets" / "router-password", password)
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
    twins: list[Twin] | None = None,
    on_ready: Callable[[Path, int], None] | None = None,
) -> None:
    """``nmops lab up``: start, announce, serve the control socket until SIGINT/SIGTERM or
    ``down``, then stop everything."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    timings = dataclasses.replace(Timings.fast() if fast else Timings(), reply_delay=latency)
    lab = await start_lab(
        directory, extra_routers=extra_routers, fast=fast, timings=timings, twins=twins
    )
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
