"""Helpers for tests that drive the lab: the lab on its own thread and event loop, the lab's
command logs as records, and targets for the nmops driver.

The lab runs on a background thread so the test thread is free for ``asyncio.run`` (the
driver) and for the CLI (which runs its own loop): client and routers never share a loop,
as with real routers.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nmops.ix.hostkeys import KnownHosts
from nmops.ix.session import Target
from nmops.lab.ixsim.router import SimRouter, Timings
from nmops.lab.runner import USERNAME, RunningLab, start_lab

T = TypeVar("T")

TOKYO = "ix2215-tokyo"
KAGAWA = "ix2215-kagawa"
GROUP = "fetburner"
ZONE = "nmddns.jp"

# Commands a dry run (``nmops check``) may send: reading and the mode/terminal commands.
READ_ONLY_COMMANDS = frozenset(
    {"enable-config", "configure", "exit", "terminal length 0", "terminal width 512"}
)


def fqdn(router: str, family: str) -> str:
    return f"{router}.{GROUP}.v6.{ZONE}" if family == "ipv6" else f"{router}.{GROUP}.{ZONE}"


class LabThread:
    """``start_lab`` on a thread of its own; use as a context manager."""

    def __init__(self, directory: Path, *, timings: Timings | None = None, **options: Any):
        self.directory = directory
        self._options = {"fast": True, "timings": timings, **options}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._lab: RunningLab | None = None

    def __enter__(self) -> LabThread:
        self._thread.start()
        self._lab = self.run(start_lab(self.directory, **self._options), timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._lab is not None:
                self.run(self._lab.stop(), timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    @property
    def lab(self) -> RunningLab:
        assert self._lab is not None, "the lab is not running"
        return self._lab

    @property
    def config_path(self) -> Path:
        return self.lab.config_path

    # --- doing things on the lab's loop ----------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the lab's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 10) -> T:
        """Call ``fn`` on the lab's loop (what touches routers and timers must run there)."""
        future: Future[T] = Future()

        def wrapper() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed over to the waiting thread
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(wrapper)
        return future.result(timeout)

    async def acall(self, fn: Callable[[], T]) -> T:
        """:meth:`call` from a coroutine running on another loop (does not block it)."""
        return await asyncio.to_thread(self.call, fn)

    def fault(self, router: str, kind: str) -> None:
        self.run(self.lab.fault(router, kind))

    def clear(self, router: str, kind: str | None = None) -> None:
        self.run(self.lab.clear(router, kind))

    def settle(self) -> None:
        self.run(self.lab.sim.settle())

    # --- looking --------------------------------------------------------------------------

    def router(self, name: str) -> SimRouter:
        return self.lab.sim.routers[name]

    def target(self, name: str) -> Target:
        endpoint = self.lab.endpoints[name]
        password = (self.directory / "secrets" / "router-password").read_text().strip()
        return Target(name, endpoint.host, endpoint.port, USERNAME, password)

    def known_hosts(self) -> KnownHosts:
        return KnownHosts(self.directory / "known_hosts")

    def log(self, name: str) -> CommandLog:
        return CommandLog.read(self.directory / "logs" / f"{name}.log")


# --- the simulator's command log -------------------------------------------------------------

_LOG_RE = re.compile(r"^\S+ s(?P<session>\d+) (?P<rest>.*)$")
_PROMPT_RE = re.compile(r"^[A-Za-z0-9._-]+(?:\([^)]*\))?[#%] ")


@dataclass(frozen=True)
class LogEntry:
    session: int
    prompt: str  # "" for an answer to a question (the reload dialogue)
    line: str  # the received line, or the event text
    event: bool  # login, closed, dropped


@dataclass(frozen=True)
class CommandLog:
    entries: tuple[LogEntry, ...]

    @classmethod
    def read(cls, path: Path) -> CommandLog:
        if not path.exists():
            return cls(())
        entries = []
        for raw in path.read_text(encoding="utf-8").splitlines():
            match = _LOG_RE.match(raw)
            assert match is not None, f"unexpected log line {raw!r}"
            session, rest = int(match["session"]), match["rest"]
            if rest.startswith("-- "):
                entries.append(LogEntry(session, "", rest[3:], True))
                continue
            prompt = _PROMPT_RE.match(rest)
            cut = prompt.end() if prompt else 0
            entries.append(LogEntry(session, rest[:cut], rest[cut:], False))
        return cls(tuple(entries))

    def since(self, before: CommandLog) -> CommandLog:
        """What was logged after ``before`` was read."""
        return CommandLog(self.entries[len(before.entries) :])

    @property
    def lines(self) -> list[str]:
        """Every received line, in order (events left out)."""
        return [e.line for e in self.entries if not e.event]

    def lines_of(self, session: int) -> list[str]:
        return [e.line for e in self.entries if not e.event and e.session == session]

    @property
    def sessions(self) -> list[int]:
        """Sessions that logged in, in order."""
        return [e.session for e in self.entries if e.event and e.line.startswith("login")]

    @property
    def logins(self) -> int:
        return len(self.sessions)

    def events(self, session: int) -> list[str]:
        return [e.line.split(" ", 1)[0] for e in self.entries if e.event and e.session == session]


def config_body(show_output: str) -> list[str]:
    """The config lines of a `show running-config`/`show config` output, without the `!`
    header (firmware banner, `Current time`)."""
    lines = show_output.splitlines()
    while lines and lines[0].startswith("!"):
        lines.pop(0)
    return lines
