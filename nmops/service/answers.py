"""What each authoritative server answered for each name at the last check `nmops serve` ran,
for the metrics (per router, name and server). The state database keeps one verdict per name;
the per-server detail is only worth its memory while a scraper can ask for it."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nmops.check import CheckReport


@dataclass(frozen=True)
class Answer:
    router: str
    name: str  # the FQDN
    server: str
    status: str


class LastAnswers:
    """Replaced router by router (a job may check only some), read from the metrics thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_router: dict[str, tuple[Answer, ...]] = {}

    def update(self, report: CheckReport) -> None:
        fresh = {
            r.name: tuple(
                Answer(r.name, n.fqdn, s.server, s.status.value) for n in r.names for s in n.servers
            )
            for r in report.routers
        }
        with self._lock:
            self._by_router.update(fresh)

    def keep(self, routers: set[str]) -> None:
        """Forget routers no longer in the inventory (after a reload)."""
        with self._lock:
            self._by_router = {k: v for k, v in self._by_router.items() if k in routers}

    def all(self) -> list[Answer]:
        with self._lock:
            return [a for answers in self._by_router.values() for a in answers]
