"""From findings, history and policy to a repair plan (pure): the escalation ladder.

For each router the plan lists, in order, the steps of its ladder that are left: the gentlest
first, each next one only if the one before did not help. A step already tried without
success for the same problem (since the problem began) is not planned again. A plan is a
value: printed, turned into JSON, and identified by a hash of its content, so the plan a
person reviewed can be checked against the one about to be applied.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nmops.check import RouterReport
from nmops.config.model import Family, Router
from nmops.config.policy import Policy
from nmops.ix.lines import Edit
from nmops.status import Status

# DNS problems that DDNS re-registration can cure.
NAME_PROBLEMS = frozenset({Status.MISSING, Status.STALE, Status.NXDOMAIN, Status.BOGUS})
_PROTOCOL: dict[Family, str] = {"ipv4": "ip", "ipv6": "ipv6"}


class Rung(enum.StrEnum):
    CONFIG_FIX = "config-fix"  # add or correct the `nm` lines, verify, save
    UPSTREAM = "upstream"  # the notify interface has no address: nothing to do on the router
    REREGISTER = "reregister"  # remove and re-add the notify line
    CLIENT_RESTART = "client-restart"  # no nm ip enable, nm ip enable
    TUNNEL_BOUNCE = "tunnel-bounce"  # shutdown, no shutdown on the tunnel
    REBOOT = "reboot"
    NEEDS_HUMAN = "needs-human"
    SYNC = "peers-sync"  # converge to the rendered config (`nmops peers sync`), verify, save
    PIN = "pin"  # point a tunnel at its peer's real address while the peer's name is broken
    UNPIN = "unpin"  # back to the peer's FQDN once DNS is right

    @property
    def acts(self) -> bool:
        """Whether the step sends anything to the router."""
        return self not in (Rung.UPSTREAM, Rung.NEEDS_HUMAN)


@dataclass(frozen=True)
class PinSpec:
    peer: str  # the router at the other end
    family: Family
    address: str  # the peer's real address (the pin)
    fqdn: str  # the peer's name (what the tunnel goes back to)


@dataclass(frozen=True)
class OpenPin:
    """A pin the state database holds (plain values: the plan stays pure)."""

    router: str
    tunnel: str
    peer: str
    family: Family
    address: str
    fqdn: str


@dataclass(frozen=True)
class Step:
    router: str
    rung: Rung
    problems: tuple[str, ...]  # `name:ipv4`, `name:ipv6`, `peer:Tunnel1.0`
    why: str
    edits: tuple[Edit, ...] = ()
    blocked: tuple[str, ...] = ()  # why it cannot run now (then the ladder goes on)
    tunnel: str | None = None
    pin: PinSpec | None = None  # what a pin/unpin step records

    @property
    def saves(self) -> bool:
        return self.rung in (Rung.CONFIG_FIX, Rung.SYNC)

    @property
    def waits_for(self) -> str | None:
        if self.rung in (Rung.CONFIG_FIX, Rung.REREGISTER, Rung.CLIENT_RESTART, Rung.REBOOT):
            return "dns"
        return "ike" if self.rung is Rung.TUNNEL_BOUNCE else None


@dataclass(frozen=True)
class Waiting:
    """A problem seen, but not yet in enough consecutive checks to act on."""

    router: str
    problem: str
    seen: int
    needed: int


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    waiting: tuple[Waiting, ...] = ()

    @property
    def id(self) -> str:
        """A hash of what the plan would do: the same situation gives the same id."""
        body = json.dumps(
            [
                [s.router, s.rung.value, s.problems, [[*e.context, e.line] for e in s.edits],
                 s.blocked, s.tunnel, s.pin and [s.pin.peer, s.pin.address]]
                for s in self.steps
            ],
            separators=(",", ":"),
        )  # fmt: skip
        return hashlib.sha256(body.encode()).hexdigest()[:12]

    def for_router(self, router: str) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.router == router)

    @property
    def acts(self) -> bool:
        return any(s.rung.acts and not s.blocked for s in self.steps)


@dataclass(frozen=True)
class Situation:
    """Everything the plan needs to know about one router (all of it plain values)."""

    router: Router
    report: RouterReport
    counts: Mapping[str, int] = field(default_factory=dict)  # subject -> consecutive checks
    tried: Mapping[str, frozenset[Rung]] = field(default_factory=dict)  # problem -> rungs
    reboots: tuple[datetime, ...] = ()  # this router's reboots in the last 24 h
    peers: tuple[str, ...] = ()  # routers at the other end of its tunnels
    peer_reboots: Mapping[str, datetime] = field(default_factory=dict)  # their last reboot
    lost: bool = False  # a reboot of it did not come back, and it has not been seen since
    management_tunnels: frozenset[str] = frozenset()  # tunnels its management path uses
    reboot_allowed: bool = True  # the inventory's `reboot: allow|deny`


def _notify_line(router: Router, family: Family) -> str | None:
    interface = router.notify_interface(family)
    if interface is None:
        return None
    return f"nm ddns notify interface {interface} protocol {_PROTOCOL[family]}"


def _config_fix(situation: Situation, families: Sequence[Family]) -> tuple[Edit, ...]:
    """The `nm` lines the running config lacks or has wrong, for ``families``."""
    facts = situation.report.facts
    nm = facts.netmeister if facts is not None else None
    if nm is None:
        return ()
    edits: list[Edit] = []
    if not nm.enabled:
        edits.append(Edit((), "nm ip enable"))
    for family in families:
        want = situation.router.notify_interface(family)
        line = _notify_line(situation.router, family)
        if line is not None and nm.notify.get(family) != want:
            edits.append(Edit((), line))
    return tuple(edits)


def _reregister(
    situation: Situation, families: Sequence[Family], *, fixed: bool
) -> tuple[Edit, ...]:
    """Remove and re-add each family's notify line: the one the config has, or, after a
    config fix (``fixed``), the one the inventory says and the fix adds."""
    facts = situation.report.facts
    nm = facts.netmeister if facts is not None else None
    edits: list[Edit] = []
    for family in families:
        current = nm.notify.get(family) if nm is not None else None
        if fixed:
            current = situation.router.notify_interface(family) or current
        if current is None:
            continue
        line = f"nm ddns notify interface {current} protocol {_PROTOCOL[family]}"
        edits += [Edit((), f"no {line}"), Edit((), line)]
    return tuple(edits)


def reboot_blockers(
    situation: Situation, policy: Policy, now: datetime, planned: Mapping[str, datetime]
) -> tuple[str, ...]:
    """Why ``situation.router`` may not be rebooted now (empty: it may)."""
    name = situation.router.name
    reasons: list[str] = []
    if not situation.reboot_allowed:
        reasons.append("the inventory says `reboot: deny` for this router")
    recent = [t for t in situation.reboots if now - t < policy.reboot_window]
    if len(recent) >= policy.max_reboots:
        reasons.append(
            f"reboot budget spent: {len(recent)} in the last 24 h (max_reboots "
            f"{policy.max_reboots})"
        )
    if policy.quiet(now):
        reasons.append(f"quiet hours {policy.quiet_hours} ({policy.timezone})")
    gap = timedelta(seconds=policy.link_gap)
    for peer in situation.peers:
        when = planned.get(peer) or situation.peer_reboots.get(peer)
        if when is not None and abs(now - when) < gap:
            said = "is planned to reboot now" if peer in planned else f"rebooted at {when:%H:%M}"
            reasons.append(f"link_gap: its peer {peer} {said} (no two ends within {gap})")
    facts = situation.report.facts
    if facts is None or not facts.reachable:
        reasons.append(f"{name} is not reachable now")
    elif facts.saved is not True:
        reasons.append("its running config is not saved: a reboot would silently revert it")
    return tuple(reasons)


def _name_problems(situation: Situation) -> dict[Family, Status]:
    out: dict[Family, Status] = {}
    for name in situation.report.names:
        family: Family = "ipv4" if name.family == "ipv4" else "ipv6"
        if name.status in NAME_PROBLEMS or name.status is Status.NO_ADDRESS:
            out[family] = name.status
    return out


def _router_ladder(
    situation: Situation,
    policy: Policy,
    now: datetime,
    planned_reboots: dict[str, datetime],
    *,
    allow_unsaved: bool,
) -> tuple[list[Step], list[Waiting]]:
    name = situation.router.name
    facts = situation.report.facts
    steps: list[Step] = []
    waiting: list[Waiting] = []
    confirmed: dict[Family, Status] = {}
    for family, status in _name_problems(situation).items():
        seen = situation.counts.get(f"name:{family}", 0)
        if seen < policy.confirm_after:
            waiting.append(Waiting(name, f"name:{family}", seen, policy.confirm_after))
        else:
            confirmed[family] = status
    stale_tunnels = [
        f.tunnel
        for f in situation.report.findings
        if f.status is Status.PEER_STALE and f.tunnel is not None
    ]
    tunnels: list[str] = []
    for tunnel in stale_tunnels:
        seen = situation.counts.get(f"finding:peer-stale:{tunnel}", 0)
        if seen < policy.confirm_after:
            waiting.append(Waiting(name, f"peer:{tunnel}", seen, policy.confirm_after))
        else:
            tunnels.append(tunnel)
    if not confirmed and not tunnels:
        return steps, waiting
    if situation.lost:
        problems = tuple(f"name:{f}" for f in confirmed) + tuple(f"peer:{t}" for t in tunnels)
        steps.append(
            Step(name, Rung.NEEDS_HUMAN, problems, "a reboot did not bring it back; no more "
                 "action until someone has looked at it")
        )  # fmt: skip
        return steps, waiting
    if facts is None or not facts.reachable:
        why = "locked" if facts is not None and facts.locked else "unreachable"
        problems = tuple(f"name:{f}" for f in confirmed) + tuple(f"peer:{t}" for t in tunnels)
        steps.append(
            Step(name, Rung.NEEDS_HUMAN, problems, f"the router is {why}: nothing can be done "
                 "on it now", blocked=(f"{name} is {why}",))
        )  # fmt: skip
        return steps, waiting

    upstream = [f for f, s in confirmed.items() if s is Status.NO_ADDRESS]
    if upstream:
        steps.append(
            Step(
                name,
                Rung.UPSTREAM,
                tuple(f"name:{f}" for f in upstream),
                f"{', '.join(facts.interfaces.get(f, '?') for f in upstream)} has no global "
                "address: the fault is upstream of DDNS (the line, the ISP, the home "
                "gateway); a person has to look",
            )
        )
    families = [f for f in confirmed if f not in upstream]
    ladder: list[Step] = []
    if families:
        ladder += _name_ladder(situation, families, allow_unsaved=allow_unsaved)
    for tunnel in tunnels:
        ladder += _tunnel_ladder(situation, tunnel)
    # One reboot at most, after everything gentler, for every problem left.
    problems = tuple(dict.fromkeys(p for s in ladder for p in s.problems)) or tuple(
        f"name:{f}" for f in families
    )
    if problems and not all(Rung.REBOOT in situation.tried.get(p, frozenset()) for p in problems):
        blockers = reboot_blockers(situation, policy, now, planned_reboots)
        ladder.append(
            Step(
                name,
                Rung.REBOOT,
                problems,
                "the last resort: a reboot cured the seed's stuck IPv6 registration",
                blocked=blockers,
            )
        )
        if not blockers:
            planned_reboots[name] = now
    if problems:
        tried = sorted({r.value for p in problems for r in situation.tried.get(p, frozenset())})
        ladder.append(
            Step(
                name,
                Rung.NEEDS_HUMAN,
                problems,
                "nothing nmops may do has helped"
                + (f" (tried: {', '.join(tried)})" if tried else ""),
            )
        )
    steps += ladder
    return steps, waiting


def _untried(situation: Situation, problems: Iterable[str], rung: Rung) -> list[str]:
    return [p for p in problems if rung not in situation.tried.get(p, frozenset())]


def _name_ladder(
    situation: Situation, families: list[Family], *, allow_unsaved: bool
) -> list[Step]:
    name = situation.router.name
    facts = situation.report.facts
    assert facts is not None
    steps: list[Step] = []
    fix = _config_fix(situation, families)
    problems = [f"name:{f}" for f in families]
    fixing = False
    if fix and _untried(situation, problems, Rung.CONFIG_FIX):
        blocked: tuple[str, ...] = ()
        if facts.saved is not True and not allow_unsaved:
            blocked = (
                "its running config is not saved: a config step would save someone's "
                "unfinished work too (--allow-unsaved to go ahead)",
            )
        steps.append(
            Step(
                name,
                Rung.CONFIG_FIX,
                tuple(problems),
                "the running config lacks or misnames its NetMeister lines: add them as the "
                "inventory says, wait for DNS to follow, then save",
                fix,
                blocked,
            )
        )
        fixing = not blocked
    for rung, why in (
        (Rung.REREGISTER, "remove and re-add the notify line: NetMeister registers again"),
        (Rung.CLIENT_RESTART, "restart the NetMeister client (`no nm ip enable`, `nm ip enable`)"),
    ):
        left = _untried(situation, problems, rung)
        if not left:
            continue
        left_families = [f for f in families if f"name:{f}" in left]
        edits = (
            _reregister(situation, left_families, fixed=fixing)
            if rung is Rung.REREGISTER
            else (Edit((), "no nm ip enable"), Edit((), "nm ip enable"))
        )
        if rung is Rung.REREGISTER and not edits:
            continue  # no notify line to re-add (the config fix adds it)
        steps.append(Step(name, rung, tuple(left), why, edits))
    return steps


def _tunnel_ladder(situation: Situation, tunnel: str) -> list[Step]:
    name = situation.router.name
    problem = f"peer:{tunnel}"
    if Rung.TUNNEL_BOUNCE in situation.tried.get(problem, frozenset()):
        return []
    header = f"interface {tunnel}"
    blocked: tuple[str, ...] = ()
    if tunnel in situation.management_tunnels:
        blocked = (f"nmops reaches {name} through {tunnel}: it does not bounce that tunnel",)
    return [
        Step(
            name,
            Rung.TUNNEL_BOUNCE,
            (problem,),
            f"{tunnel}'s IKE SA still uses the peer's old address: take the tunnel down and "
            "up so it renegotiates with the address DNS gives now",
            (Edit((header,), "shutdown"), Edit((header,), "no shutdown")),
            blocked,
            tunnel,
        )
    ]


def make_plan(
    situations: Sequence[Situation],
    policy: Policy,
    now: datetime,
    *,
    allow_unsaved: bool = False,
) -> Plan:
    """The plan for ``situations`` (in inventory order: with two faulty ends of a link, the
    first is rebooted and the second held by `link_gap`)."""
    steps: list[Step] = []
    waiting: list[Waiting] = []
    planned_reboots: dict[str, datetime] = {}
    for situation in situations:
        router_steps, router_waiting = _router_ladder(
            situation, policy, now, planned_reboots, allow_unsaved=allow_unsaved
        )
        steps += router_steps
        waiting += router_waiting
    return Plan(tuple(steps), tuple(waiting))
