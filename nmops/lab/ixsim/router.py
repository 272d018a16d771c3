"""One simulated IX router: configs, addresses, faults, config lock, reload, DDNS and IKE.

No sockets here: the SSH server watches the router (``watchers``) and the CLI sessions call
it. Timers run on the asyncio loop the lab was started in.

The NetMeister client, as the lab models it: it registers every notify interface's address
at boot, whenever its `nm` lines change (a re-added notify line, `nm ip enable` after
`no nm ip enable`), and then only at its (long) request interval. So an address change
leaves DNS stale until one of those, which is what a repair's re-registration is for.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from nmops.dns.addresses import IPAddress
from nmops.ix import lines, routerconfig
from nmops.lab.ddns import DdnsRegistry
from nmops.lab.ixsim import faults, ike, texts
from nmops.lab.ixsim.editing import Typed, type_line
from nmops.lab.ixsim.faults import FAULT_KINDS, KINDS
from nmops.lab.ixsim.grammar import Grammar
from nmops.lab.ixsim.interfaces import ipv4_state, ipv6_state
from nmops.lab.ixsim.wan import WanAddresses, WanAllocator

log = logging.getLogger(__name__)

JST = timezone(timedelta(hours=9), "JST")
_FAMILY_RDTYPE = {4: "A", 6: "AAAA"}


@dataclass(frozen=True)
class Timings:
    ddns_delay: float = 3.0  # boot or `nm` change -> DDNS registration; IKE after boot
    reload_delay: float = 20.0
    slow_delay: float = 0.5
    save_delay: float = 1.0  # `write memory` takes a moment
    nm_interval: float = 5 * 86400.0  # the NetMeister client's own request interval
    # Every reply waits this long: a real IX's CLI plus a WAN round trip (0: answer at once).
    reply_delay: float = 0.0
    # After `yes` to the reload question the router may go on answering for a while (the
    # session stays open, new logins still see the old uptime) before it really goes down.
    reload_linger: float = 0.0
    max_sessions: int = 4  # SSH sessions at once [?]: further ones are refused

    @classmethod
    def fast(cls) -> Timings:
        return cls(ddns_delay=0.15, reload_delay=0.4, slow_delay=0.2, save_delay=0.05)


class State(enum.Enum):
    UP = "up"
    RELOADING = "reloading"
    HUNG = "hung"  # reloaded with `reload-hangs`: never came back


class SessionHandle(Protocol):
    """What the router needs from a CLI session."""

    def config_taken_over(self) -> None: ...

    def drop(self) -> None: ...


class _Phantom:
    """The other administrator of the `config-locked` fault."""

    def config_taken_over(self) -> None:
        pass

    def drop(self) -> None:
        pass


PHANTOM = _Phantom()


class SimRouter:
    def __init__(
        self,
        name: str,
        config_text: str,
        wan: WanAddresses,
        *,
        registry: DdnsRegistry,
        allocator: WanAllocator,
        zone: str = "nmddns.jp",
        timings: Timings | None = None,
        alive: Callable[[IPAddress], bool] | None = None,
        model: str = texts.MODEL,
    ) -> None:
        self.name = name
        self.model = model
        self.grammar = Grammar(model)
        self.startup = lines.parse(config_text)
        self.running = self.startup
        self._ssh_configured = "ssh-server ip enable" in set(self.startup.top_lines())
        self.wan = wan
        self.registry = registry
        self.allocator = allocator
        self.zone = zone.lower().rstrip(".")
        self.timings = timings or Timings()
        self.alive: Callable[[IPAddress], bool] = alive or (lambda _address: True)
        self.faults: set[str] = set()
        self.state = State.RELOADING  # until power_on()
        self.sessions: set[SessionHandle] = set()
        self.watchers: list[Callable[[SimRouter], None]] = []
        self.wake_cause = texts.WAKE_POWER_ON
        self.started_at = datetime.now(JST).replace(microsecond=0)
        self.nm_last_request: datetime | None = None
        self.registered: dict[str, tuple[str, IPAddress]] = {}  # rdtype -> (fqdn, address)
        self.reloads = 0  # `reload` confirmed, for tests that count them
        self._config_owner: SessionHandle | None = None
        self._booted = time.monotonic()
        self._sas: dict[str, ike.IkeSa] = {}
        self._pinned: set[str] = set()  # tunnels whose SA `ike-peer-stale` holds on to
        self._ddns_timer: asyncio.TimerHandle | None = None
        self._ike_timer: asyncio.TimerHandle | None = None
        self._ike_ready = False
        self._boot_timer: asyncio.TimerHandle | None = None
        self._nm_timer: asyncio.TimerHandle | None = None
        self._shown_clock: datetime | None = None

    # --- life cycle ---------------------------------------------------------------------

    def power_on(self) -> None:
        self._boot(texts.WAKE_POWER_ON)

    def reload(self) -> None:
        """`reload` confirmed: every session drops; back after a delay with the startup config."""
        log.info("%s: reloading", self.name)
        self.reloads += 1
        self.state = State.RELOADING
        self.faults -= faults.cured_by("reboot")
        self._config_owner = None
        self._sas.clear()
        self._pinned.clear()
        self._ike_ready = False
        self._cancel_timers()
        for session in list(self.sessions):
            session.drop()
        self.sessions.clear()
        if "reload-hangs" in self.faults:
            self.state = State.HUNG
            log.info("%s: hangs in reload", self.name)
        else:
            self._boot_timer = asyncio.get_running_loop().call_later(
                self.timings.reload_delay, self._boot, texts.WAKE_COMMAND
            )
        self._notify()

    def shutdown(self) -> None:
        """The lab stops: no more timers."""
        self._cancel_timers()
        for session in list(self.sessions):
            session.drop()
        self.sessions.clear()

    def _boot(self, cause: str) -> None:
        self.running = self.startup
        self.state = State.UP
        self.wake_cause = cause
        # Strictly later than the last boot, as any real restart is.
        now = datetime.now(JST).replace(microsecond=0)
        self.started_at = max(now, self.started_at + timedelta(seconds=1))
        self._booted = time.monotonic()
        self._sas.clear()
        self._ike_ready = False
        self._boot_timer = None
        self._schedule_ddns()
        # SAs come up once both ends have registered; from then on they hold an address
        # that `ike-peer-stale` can pin.
        self._ike_timer = asyncio.get_running_loop().call_later(self._ike_setup, self._ike_up)
        log.info("%s: up (%s)", self.name, cause)
        self._notify()

    def _cancel_timers(self) -> None:
        for timer in (self._ddns_timer, self._boot_timer, self._ike_timer, self._nm_timer):
            if timer is not None:
                timer.cancel()
        self._ddns_timer = self._boot_timer = self._ike_timer = self._nm_timer = None

    def _notify(self) -> None:
        for watcher in list(self.watchers):
            watcher(self)

    @property
    def reachable(self) -> bool:
        """Whether the router accepts new SSH connections."""
        return self.state is State.UP and "ssh-down" not in self.faults and self.ssh_enabled

    @property
    def ssh_enabled(self) -> bool:
        """[C] `ssh-server ip enable` turns the SSH server on, so a config that had it and lost
        it answers no new session. A config that never mentions it (the seed's, the lab's) is
        served anyway: the lab's own convenience, not an IX's behaviour."""
        if not self._ssh_configured:
            return True
        return "ssh-server ip enable" in set(self.running.top_lines())

    @property
    def settled(self) -> bool:
        """Nothing pending: no DDNS registration and no boot on its way."""
        return (
            self._ddns_timer is None
            and self._ike_timer is None
            and self.state is not State.RELOADING
        )

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._booted

    def clock(self) -> datetime:
        """The router's clock, strictly later on every call (so `! Current time` always
        changes, as on a router where calls are seconds apart)."""
        now = datetime.now(JST).replace(microsecond=0)
        if self._shown_clock is not None and now <= self._shown_clock:
            now = self._shown_clock + timedelta(seconds=1)
        self._shown_clock = now
        return now

    # --- faults -------------------------------------------------------------------------

    def fault(self, kind: str) -> None:
        if kind not in KINDS:
            raise faults.unknown(kind)
        log.info("%s: fault %s", self.name, kind)
        if kind == "address-change":
            # New addresses; the NetMeister client tells DDNS at its next update, not now.
            self.wan = self.allocator.renew(self.wan)
            self._notify()
            return
        if kind == "ike-peer-stale":
            self._pinned = {sa.tunnel for sa in self.ike_sas()}  # pin the SAs as they are now
        self.faults.add(kind)
        if kind == "config-locked":
            owner = self._config_owner
            if owner is not None and owner is not PHANTOM:
                owner.config_taken_over()
            self._config_owner = PHANTOM
        self._notify()

    def clear(self, kind: str | None = None) -> None:
        kinds = set(self.faults) if kind is None else {kind}
        unknown = kinds - set(FAULT_KINDS)
        if unknown:
            raise faults.unknown(sorted(unknown)[0])
        self.faults -= kinds
        if "config-locked" in kinds and self._config_owner is PHANTOM:
            self._config_owner = None
        if "ike-peer-stale" in kinds:
            self._pinned.clear()
            self._sas.clear()  # the stuck SAs are torn down and renegotiated
        if any(KINDS[k].family is not None for k in kinds):
            self._schedule_ddns()
        if "reload-hangs" in kinds and self.state is State.HUNG:
            self._boot(texts.WAKE_POWER_ON)  # someone cycled the power
        self._notify()

    def _cure(self, rung: str, family: int | None = None) -> None:
        """A repair step of kind ``rung`` happened: the faults it cures go."""
        cured = {
            f
            for f in self.faults & faults.cured_by(rung)
            if family is None or KINDS[f].family in (None, family)
        }
        if cured:
            log.info("%s: %s cures %s", self.name, rung, ", ".join(sorted(cured)))
            self.faults -= cured

    # --- sessions and config mode -------------------------------------------------------

    def attach(self, session: SessionHandle) -> bool:
        """A new CLI session; False when the router already has as many as it allows."""
        if len(self.sessions) >= self.timings.max_sessions:
            return False
        self.sessions.add(session)
        return True

    def detach(self, session: SessionHandle) -> None:
        self.sessions.discard(session)
        self.leave_config(session)

    def enter_config(self, session: SessionHandle, *, takeover: bool) -> bool:
        owner = self._config_owner
        if owner is not None and owner is not session:
            if not takeover:
                return False
            if owner is PHANTOM:
                self.faults.discard("config-locked")
            else:
                owner.config_taken_over()
        self._config_owner = session
        return True

    def leave_config(self, session: SessionHandle) -> None:
        if self._config_owner is session:
            self._config_owner = None

    # --- config -------------------------------------------------------------------------

    @property
    def hostname(self) -> str:
        return routerconfig.hostname(self.running) or "Router"

    def type_config(self, context: tuple[str, ...], line: str) -> Typed:
        """A line typed in config mode at ``context``."""
        before = self.running
        result = type_line(before, context, line, self.grammar)
        if result.error is None and result.changed:
            self.running = result.config
            self._config_changed(before, result.config)
        return result

    def _config_changed(self, before: lines.Config, after: lines.Config) -> None:
        old, new = routerconfig.netmeister(before), routerconfig.netmeister(after)
        if new.enabled and not old.enabled:
            self._cure("client-restart")
        for family_name, ifname in new.notify.items():
            if old.notify.get(family_name) != ifname:
                self._cure("reregister", 4 if family_name == "ipv4" else 6)
        renamed = new.hostname is None and routerconfig.hostname(before) != routerconfig.hostname(
            after
        )
        if new != old or renamed:
            self._schedule_ddns()  # the client acts on its new lines
        self._bounced_tunnels(before, after)
        self._notify()

    def _bounced_tunnels(self, before: lines.Config, after: lines.Config) -> None:
        """A tunnel taken down tears its SA down; brought up again, it renegotiates."""
        was = {t.interface: t.up for t in routerconfig.tunnels(before)}
        for tunnel in routerconfig.tunnels(after):
            if was.get(tunnel.interface) and not tunnel.up:
                self._sas.pop(tunnel.interface, None)
                self._pinned.discard(tunnel.interface)
                if "ike-peer-stale" in self.faults and not self._pinned:
                    self.faults.discard("ike-peer-stale")

    def save(self) -> None:
        self.startup = self.running

    @property
    def unsaved(self) -> bool:
        return not self.running.same_as(self.startup)

    # --- addresses ----------------------------------------------------------------------

    def address_of(self, ifname: str, family: int) -> IPAddress | None:
        """The address DDNS would publish for ``ifname``: its IPv4 address, or its first
        global IPv6 address."""
        if family == 4:
            v4 = ipv4_state(self.running, self.wan, ifname).address
            return v4.ip if v4 is not None else None
        globals_ = ipv6_state(self.running, self.wan, ifname).globals
        return globals_[0][0].ip if globals_ else None

    def own_address(self, family: int) -> IPAddress | None:
        """The address IKE talks from: the PPPoE address, or the global IPv6 address."""
        if family == 4:
            return self.wan.pppoe_v4
        carrier = routerconfig.v6_global_interface(self.running)
        return self.address_of(carrier, 6) if carrier is not None else None

    def owns(self, address: IPAddress) -> bool:
        return address in (self.wan.pppoe_v4, self.wan.v6_global)

    # --- NetMeister DDNS ----------------------------------------------------------------

    def ddns_names(self) -> dict[str, str] | None:
        """``{"A": fqdn, "AAAA": fqdn}`` from the NetMeister lines, or None when off."""
        nm = routerconfig.netmeister(self.running)
        if not nm.enabled or nm.group is None:
            return None
        host = (nm.hostname or self.hostname).lower()
        return {"A": f"{host}.{nm.group}.{self.zone}", "AAAA": f"{host}.{nm.group}.v6.{self.zone}"}

    def _schedule_ddns(self) -> None:
        if self._ddns_timer is not None:
            self._ddns_timer.cancel()
        self._ddns_timer = asyncio.get_running_loop().call_later(
            self.timings.ddns_delay, self._register_ddns
        )

    def _register_ddns(self) -> None:
        self._ddns_timer = None
        if self.state is not State.UP:
            return
        names = self.ddns_names()
        if names is None:
            return
        for family_name, ifname in routerconfig.netmeister(self.running).notify.items():
            family = 4 if family_name == "ipv4" else 6
            rdtype = _FAMILY_RDTYPE[family]
            if faults.blocking_registration(self.faults, family):
                continue  # silently: the seed's failure shows nowhere on the router
            address = self.address_of(ifname, family)
            if address is None:
                continue  # nothing to publish: the old record stays, as at NetMeister
            self.registry.set(names[rdtype], rdtype, [address])
            self.registered[rdtype] = (names[rdtype], address)
            log.debug("%s: DDNS %s %s -> %s", self.name, names[rdtype], rdtype, address)
        self.nm_last_request = datetime.now(JST)
        # The client's own next request, at its interval (days on a real router).
        if self._nm_timer is not None:
            self._nm_timer.cancel()
        self._nm_timer = asyncio.get_running_loop().call_later(
            self.timings.nm_interval, self._register_ddns
        )

    # --- IKE ----------------------------------------------------------------------------

    def ike_sas(self) -> list[ike.IkeSa]:
        """The SAs as they stand now (re-resolving peers the way DPD would)."""
        if self.state is not State.UP or not self._ike_ready:
            return []
        self._sas = ike.refresh_sas(
            self._sas,
            ike.tunnel_peers(self.running),
            {4: self.own_address(4), 6: self.own_address(6)},
            lambda fqdn, family: self.registry.get(fqdn, _FAMILY_RDTYPE[family]),
            self.alive,
            pinned=self._pinned if "ike-peer-stale" in self.faults else set(),
        )
        return [self._sas[key] for key in sorted(self._sas)]

    @property
    def _ike_setup(self) -> float:
        return 2 * self.timings.ddns_delay

    def _ike_up(self) -> None:
        self._ike_timer = None
        self._ike_ready = True
        self.ike_sas()
