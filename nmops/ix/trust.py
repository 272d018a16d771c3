"""``nmops trust ROUTER``: fetch a router's SSH host key and pin it (after showing it)."""

from __future__ import annotations

from dataclasses import dataclass

from nmops.config.load import Config
from nmops.config.model import Router
from nmops.errors import RouterError
from nmops.ix.facts import known_hosts
from nmops.ix.hostkeys import fetch_host_key, host_pattern


@dataclass(frozen=True)
class TrustResult:
    path: str
    fingerprint: str | None
    outcome: str  # "pinned", "already pinned", "changed: not replaced", or an error text


async def trust_router(
    config: Config, router: Router, *, replace: bool = False
) -> list[TrustResult]:
    """Pin the host key offered on each management path of ``router``."""
    if not router.management:
        raise RouterError(f"{router.name}: no `management` paths in the inventory")
    hosts = known_hosts(config)
    results = []
    for path in router.management:
        where = host_pattern(path.host, path.port)
        try:
            key = await fetch_host_key(path.host, path.port, config.settings.ssh.connect_timeout)
        except RouterError as exc:
            results.append(TrustResult(where, None, str(exc)))
            continue
        fingerprint = str(key.get_fingerprint("sha256"))
        try:
            outcome = hosts.pin(path.host, path.port, key, replace=replace)
        except RouterError as exc:  # changed without --replace, or an unreadable file
            outcome = str(exc)
        results.append(TrustResult(where, fingerprint, outcome))
    return results
