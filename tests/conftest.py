"""Shared fixtures: real BIND 9 servers on 127.0.0.1, and lab configs that point nmops at them.

BIND tests skip when ``named`` is missing on a developer's machine, but fail under CI
(``CI=true``): a CI run that silently skipped the resolver tests would prove nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nmops.lab.bind import Bind, free_port, named_binary
from nmops.lab.configs import LabRouter, write_lab_config

GROUP = "fetburner"
ZONE = "nmddns.jp"


def require(available: bool, what: str) -> None:
    """Skip when ``what`` is missing; under CI (``CI=true``) fail instead of skipping."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}; CI=true, so this fails instead of skipping", pytrace=False)
    pytest.skip(what)


@dataclass
class BindPool:
    """``named`` servers started on first use and shared by the whole session."""

    root: Path
    servers: dict[str, Bind] = field(default_factory=dict)

    def get(self, key: str, **options: Any) -> Bind:
        require(named_binary() is not None, "BIND 9 (named) is not installed")
        if key not in self.servers:
            server = Bind(self.root / key, **options)
            server.start()
            self.servers[key] = server
        return self.servers[key]

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture(scope="session")
def bind_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BindPool]:
    pool = BindPool(tmp_path_factory.mktemp("bind"))
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture(scope="session")
def bind(bind_pool: BindPool) -> Bind:
    """The zone's primary authoritative server. Shared: each test publishes its own names."""
    return bind_pool.get("primary")


@pytest.fixture(scope="session")
def bind2(bind_pool: BindPool) -> Bind:
    """A second authoritative server for the same zone (to make servers disagree)."""
    return bind_pool.get("secondary")


@pytest.fixture
def dead_server() -> str:
    """``IP:PORT`` with nothing listening: every query to it times out."""
    return f"127.0.0.1:{free_port()}"


def names_of(host: str) -> tuple[str, str]:
    """The A and AAAA owner names of ``host``, relative to the zone."""
    return f"{host}.{GROUP}", f"{host}.{GROUP}.v6"


def fqdns_of(host: str) -> tuple[str, str]:
    v4, v6 = names_of(host)
    return f"{v4}.{ZONE}", f"{v6}.{ZONE}"


def publish(
    servers: Bind | Iterable[Bind],
    host: str,
    *,
    a: list[str] | None = None,
    aaaa: list[str] | None = None,
) -> None:
    """Set ``host``'s records by RFC 2136 update. ``None``: the name does not exist (NXDOMAIN);
    ``[]``: the name exists without that type (NODATA, a TXT record keeps it alive)."""
    targets = [servers] if isinstance(servers, Bind) else list(servers)
    replace: list[tuple[str, str, list[str]]] = []
    delete: list[tuple[str, str | None]] = []
    for owner, rtype, values in zip(names_of(host), ("A", "AAAA"), (a, aaaa), strict=True):
        if values is None:
            delete.append((owner, None))
        else:
            replace.append((owner, rtype, values))
            replace.append((owner, "TXT", [] if values else ['"registered, no address"']))
    for server in targets:
        server.update(replace=replace, delete=delete)


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a lab ``nmops.yaml`` + inventory into a fresh folder; returns ``nmops.yaml``.

    ``routers``: names or :class:`LabRouter`; ``dns``: extra ``dns:`` settings (the lab's
    defaults are a 1 s timeout, one retry and documentation addresses allowed).
    """
    counter = iter(range(1_000))

    def make(
        servers: list[str],
        routers: list[str | LabRouter],
        **dns: Any,
    ) -> Path:
        lab_routers = [r if isinstance(r, LabRouter) else LabRouter(r) for r in routers]
        return write_lab_config(
            tmp_path / f"config{next(counter)}",
            dns_servers=servers,
            routers=lab_routers,
            group=GROUP,
            zone=ZONE,
            dns={"rate": 0, **dns},
        )

    return make
