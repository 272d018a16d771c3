"""What a router says about itself: addresses on its DDNS notify interfaces, NetMeister state,
IKE peers in use, whether its config is saved. Read-only; one bad router never stops the rest."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from pathlib import Path

from nmops.config.load import Config
from nmops.config.model import Family, Router
from nmops.dns.addresses import IPAddress, bogus_reason
from nmops.errors import NmopsError, RouterError
from nmops.ix import dialect, lines, routerconfig
from nmops.ix.dialect import read_command
from nmops.ix.hostkeys import ChangedHostKey, KnownHosts, UnknownHostKey
from nmops.ix.observed import RouterFacts
from nmops.ix.parsers import (
    ParseError,
    parse_ikev2_sa,
    parse_ip_interface,
    parse_ipv6_interface,
    parse_nm_information,
)
from nmops.ix.session import ConfigLocked, ReadSession, SessionLost, Target

log = logging.getLogger(__name__)


def targets(config: Config, router: Router) -> list[Target]:
    """Every management path of ``router``, in order, with its credentials."""
    if router.login is None:
        raise RouterError(f"{router.name}: no `login` (username and password reference)")
    if not router.management:
        raise RouterError(f"{router.name}: no `management` paths ({{host, port}}) to reach it")
    password = router.login.password.reveal()
    return [
        Target(router.name, p.host, p.port, router.login.username, password)
        for p in router.management
    ]


def known_hosts(config: Config) -> KnownHosts:
    return KnownHosts(config.resolve_path(config.settings.ssh.known_hosts))


def transcript_path(config: Config, router: Router) -> Path | None:
    """``ssh.log_dir/ROUTER.log`` when per-router command logs are asked for."""
    log_dir = config.settings.ssh.log_dir
    return config.resolve_path(log_dir) / f"{router.name}.log" if log_dir else None


def global_addresses(
    family: Family, output: str, *, allow_documentation: bool
) -> tuple[IPAddress, ...]:
    """The addresses on an interface that DDNS could publish (pure)."""
    found: list[IPAddress]
    if family == "ipv4":
        found = [a.ip for a in parse_ip_interface(output).addresses]
    else:
        found = [a.interface.ip for a in parse_ipv6_interface(output).preferred_globals]
    return tuple(
        a for a in found if bogus_reason(a, allow_documentation=allow_documentation) is None
    )


async def read_facts(session: ReadSession, config: Config, router: Router) -> RouterFacts:
    """Ask one open session everything the truth check needs. Which interface NetMeister
    notifies and which peer each tunnel means come from the running config; `show` outputs
    give only addresses, the NetMeister client's state and the SAs."""
    allow_doc = config.settings.dns.allow_documentation
    version = await session.version()
    running = lines.parse(await session.show(read_command("show_running")))
    nm_config = routerconfig.netmeister(running)
    addresses: dict[str, tuple[IPAddress, ...]] = {}
    interfaces: dict[str, str] = {}
    for family in router.families():
        # What NetMeister publishes is the address of the interface the config notifies.
        ifname = nm_config.notify.get(family) or router.notify_interface(family)
        if ifname is None:
            continue
        key = "show_ip_interface" if family == "ipv4" else "show_ipv6_interface"
        # read_command validates the name before it goes into the command.
        output = await session.show(read_command(key, ifname=ifname))
        addresses[family] = global_addresses(family, output, allow_documentation=allow_doc)
        interfaces[family] = ifname
    nm = parse_nm_information(await session.show(dialect.nm_status_command(version.model)))
    ike = parse_ikev2_sa(await session.show(read_command("show_ikev2_sa")))
    startup = lines.parse(await session.show(dialect.startup_config_command(version.model)))
    return RouterFacts(
        router.name,
        True,
        path=session.target.where,
        version=version,
        addresses=addresses,
        interfaces=interfaces,
        nm=nm,
        netmeister=nm_config,
        tunnels=routerconfig.tunnels(running),
        ike=ike,
        running=running,
        saved=lines.saved(running, startup),
    )


async def collect_facts(config: Config, router: Router, hosts: KnownHosts) -> RouterFacts:
    """Facts from the first management path that answers; any failure becomes a value."""
    started = time.monotonic()
    ssh = config.settings.ssh
    errors: list[str] = []
    try:
        paths = targets(config, router)
    except NmopsError as exc:
        return RouterFacts(router.name, False, error=str(exc))
    transcript = transcript_path(config, router)
    for target in paths:
        try:
            session = await ReadSession.open(
                target,
                hosts,
                connect_timeout=ssh.connect_timeout,
                command_timeout=ssh.command_timeout,
                transcript=transcript,
            )
        except (UnknownHostKey, ChangedHostKey) as exc:
            # A key problem is not a reason to try another path: it is the finding.
            return RouterFacts(router.name, False, error=str(exc), path=target.where)
        except RouterError as exc:
            errors.append(str(exc))
            continue
        try:
            async with session:
                facts = await read_facts(session, config, router)
            return dataclasses.replace(facts, seconds=time.monotonic() - started)
        except ConfigLocked as exc:
            # The router answered; another path would find the same lock.
            return RouterFacts(
                router.name,
                False,
                error=str(exc),
                path=target.where,
                locked=True,
                seconds=time.monotonic() - started,
            )
        except (ParseError, dialect.UnsafeArgument) as exc:
            # The router answered in a way we cannot read, or named something (an interface
            # in its own config) nmops refuses to put into a command; another path would say
            # the same.
            return RouterFacts(
                router.name,
                False,
                error=_at(target, exc),
                path=target.where,
                unreadable=True,
                seconds=time.monotonic() - started,
            )
        except SessionLost as exc:
            # Gone mid-way (or silent past the deadline): another path may do better.
            errors.append(_at(target, exc))
        except (RouterError, ValueError) as exc:
            # Logged in, and the router refused or garbled a `show`: it is reachable, its
            # answer is the finding, and another path would get the same answer.
            return RouterFacts(
                router.name,
                False,
                error=_at(target, exc),
                path=target.where,
                unreadable=True,
                seconds=time.monotonic() - started,
            )
    return RouterFacts(
        router.name, False, error="; ".join(errors), seconds=time.monotonic() - started
    )


def _at(target: Target, exc: Exception) -> str:
    """The error, said once where it happened."""
    text = str(exc)
    return text if text.startswith(target.where) else f"{target.where}: {text}"


async def collect_all(config: Config, routers: list[Router]) -> dict[str, RouterFacts]:
    """Facts from every router, at most ``ssh.concurrency`` sessions in flight."""
    hosts = known_hosts(config)
    limit = asyncio.Semaphore(config.settings.ssh.concurrency)

    async def one(router: Router) -> RouterFacts:
        async with limit:
            try:
                return await collect_facts(config, router, hosts)
            except Exception as exc:  # one router's surprise must not end the run
                log.warning(
                    "%s: reading facts failed: %s: %s", router.name, type(exc).__name__, exc
                )
                log.debug("%s: reading facts failed", router.name, exc_info=True)
                error = f"{type(exc).__name__}: {exc}"
                return RouterFacts(router.name, False, error=error, unreadable=True)

    results = await asyncio.gather(*(one(r) for r in routers))
    return {facts.name: facts for facts in results}
