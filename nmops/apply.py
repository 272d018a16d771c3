"""Safe apply: the only code that changes a router.

IX has no commit and no rollback, so this is nmops's own safety net, step by step: read the
running and startup configs; refuse what the policy refuses now; write the step and what it
touches to the journal before sending a line; send line by line, marking each; on a rejected
line put back what was sent; re-read the config and check that exactly the intended change is
there; wait for DNS (or the tunnel) to follow; save only a config that passed all of that.
A reboot is recorded before it is sent, so it counts against the budget even if nmops dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from nmops.config.load import Config
from nmops.config.model import Family, Router
from nmops.dns.addresses import IPAddress
from nmops.errors import NmopsError, RouterError
from nmops.ix import dialect, lines
from nmops.ix.dialect import read_command
from nmops.ix.facts import known_hosts, read_facts, targets, transcript_path
from nmops.ix.hostkeys import KnownHosts
from nmops.ix.observed import RouterFacts
from nmops.ix.parsers import parse_ikev2_sa
from nmops.ix.session import ChangeSession, SessionLost, Target, wait_for_return
from nmops.plan import Rung, Step
from nmops.report.plan_text import commands
from nmops.state import (
    JournalEntry,
    Store,
    add_action,
    begin_step,
    finish,
    mark_sending,
    mark_sent,
    mark_undoing,
    reboots_since,
    set_outcome,
)
from nmops.state.pins import add_pin, open_pins, release_pin
from nmops.waiting import look_up, wait_for_dns

log = logging.getLogger(__name__)
STOPPING = "nmops was stopping: left for the next run"

# Called with a line to show, and the seconds left of a wait (None: not waiting).
Progress = Callable[[str, float | None], None]


@dataclass(frozen=True)
class StepResult:
    step: Step
    # verified | partial | no-effect | failed | undone | blocked | lost | needs-human | skipped
    outcome: str
    detail: str
    cured: tuple[str, ...] = ()  # problems the step cured
    action_ids: tuple[int, ...] = ()


@dataclass
class Applier:
    """Carries out the steps of one plan, for one `nmops fix --apply` run."""

    config: Config
    store: Store
    run_id: int
    plan_id: str
    holder: str  # the lease holder: journal entries name it
    progress: Progress
    allow_unsaved: bool = False
    # Asked before each step: `nmops serve` stopping (SIGTERM) lets the step in hand finish
    # and starts no new one; the next run goes on from what the router then shows.
    stopping: Callable[[], bool] = field(default=lambda: False)
    hosts: KnownHosts = field(init=False)
    # Reboot decisions are made one at a time, so two ends of a link cannot both pass.
    _reboot_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.hosts = known_hosts(self.config)

    # --- one router's ladder --------------------------------------------------------------

    async def run_router(
        self, router: Router, steps: Sequence[Step], peers: Sequence[str] = ()
    ) -> list[StepResult]:
        """The steps of one router in order, each only while its problems remain. ``peers``:
        the routers at the other end of its tunnels (for `link_gap`)."""
        left = {p for s in steps for p in s.problems}
        results: list[StepResult] = []
        for number, step in enumerate(steps):
            if self.stopping():
                # The rest waits for the next run, untold: a ladder cut short is no reason to
                # call a person (its last rung would say so) or to report a step as blocked.
                results += [StepResult(s, "skipped", STOPPING) for s in steps[number:]]
                break
            mine = [p for p in step.problems if p in left]
            if not mine:
                # Not an action: nothing was tried (so nothing is recorded).
                results.append(StepResult(step, "skipped", "its problems were cured"))
                continue
            if step.blocked:
                results.append(self._record(step, "blocked", "; ".join(step.blocked)))
                continue
            if not step.rung.acts:
                results.append(self._record(step, "needs-human", step.why))
                break
            # What is left of the problems is what this step is about (its lines stay as
            # reviewed: re-registering a family already cured does no harm).
            step = dataclasses.replace(step, problems=tuple(mine))
            self.progress(f"{router.name}: {step.rung.value} ({', '.join(mine)})", None)
            try:
                result = await self._run(router, step, peers)
            except (NmopsError, OSError) as exc:  # one router's trouble never stops the rest
                result = self._record(step, "failed", str(exc))
            results.append(result)
            self.progress(
                f"{router.name}: {step.rung.value}: {result.outcome}: {result.detail}", None
            )
            left -= set(result.cured)
            if result.outcome == "lost":
                break  # no more action on a router that did not come back
        return results

    def _record(
        self, step: Step, outcome: str, detail: str, cured: Sequence[str] = ()
    ) -> StepResult:
        ids = tuple(
            add_action(
                self.store,
                run_id=self.run_id,
                router=step.router,
                problem=problem,
                rung=step.rung.value,
                commands=commands(step),
                why=step.why,
                plan_id=self.plan_id,
                outcome=outcome if outcome != "needs-human" else "blocked",
            )
            for problem in step.problems
        )
        for action_id in ids:
            set_outcome(self.store, action_id, _stored(outcome), detail)
        return StepResult(step, outcome, detail, tuple(cured), ids)

    def _start(self, step: Step) -> tuple[int, ...]:
        return tuple(
            add_action(
                self.store,
                run_id=self.run_id,
                router=step.router,
                problem=problem,
                rung=step.rung.value,
                commands=commands(step),
                why=step.why,
                plan_id=self.plan_id,
                outcome="running",
            )
            for problem in step.problems
        )

    def _finish(
        self,
        step: Step,
        ids: tuple[int, ...],
        cured: Sequence[str],
        detail: str,
        *,
        failed: str = "",
    ) -> StepResult:
        for action_id, problem in zip(ids, step.problems, strict=True):
            outcome = failed or ("verified" if problem in cured else "no-effect")
            set_outcome(self.store, action_id, outcome, detail)
        if failed:
            overall = failed
        elif set(step.problems) <= set(cured):
            overall = "verified"
        else:
            overall = "partial" if cured else "no-effect"  # per problem, the rows say which
        return StepResult(step, overall, detail, tuple(cured), ids)

    async def _run(self, router: Router, step: Step, peers: Sequence[str]) -> StepResult:
        if step.rung is Rung.REBOOT:
            return await self._reboot(router, step, peers)
        return await self._config_step(router, step)

    # --- sessions -------------------------------------------------------------------------

    def _paths(self, router: Router, avoid: str | None) -> list[Target]:
        """Management paths, those that do not run through ``avoid`` first."""
        paths = targets(self.config, router)
        vias = {f"{p.host}:{p.port}": set(p.via) for p in router.management}
        return sorted(paths, key=lambda t: avoid in vias.get(t.where, set()))

    @contextlib.asynccontextmanager
    async def _session(
        self, router: Router, avoid: str | None = None
    ) -> AsyncIterator[ChangeSession]:
        ssh = self.config.settings.ssh
        errors = []
        for target in self._paths(router, avoid):
            try:
                session = await ChangeSession.open(
                    target,
                    self.hosts,
                    connect_timeout=ssh.connect_timeout,
                    command_timeout=ssh.command_timeout,
                    transcript=transcript_path(self.config, router),
                )
            except RouterError as exc:
                errors.append(str(exc))
                continue
            async with session:
                yield session
            return
        raise RouterError(f"{router.name}: no management path answered ({'; '.join(errors)})")

    async def _configs(self, session: ChangeSession) -> tuple[lines.Config, lines.Config]:
        version = await session.version()
        running = lines.parse(await session.show(read_command("show_running")))
        startup = lines.parse(await session.show(dialect.startup_config_command(version.model)))
        return running, startup

    # --- config steps ---------------------------------------------------------------------

    async def _config_step(self, router: Router, step: Step) -> StepResult:
        takeover = self.config.settings.ssh.takeover
        async with self._session(router, avoid=step.tunnel) as session:
            running, startup = await self._configs(session)
            if step.saves and not running.same_as(startup) and not self.allow_unsaved:
                return self._record(
                    step, "blocked", "the running config is not saved (someone's unfinished "
                    "work): not touching it (--allow-unsaved to go ahead)"
                )  # fmt: skip
            touched = lines.touched(running, step.edits)
            before = lines.around(running, touched)
            ids = self._start(step)
            entry = begin_step(
                self.store,
                router=router.name,
                action_id=ids[0] if ids else None,
                edits=step.edits,
                undo=lines.undo_edits(running, step.edits),
                holder=self.holder,
                touched=touched,
                before=before,
            )
            try:
                result = await session.apply(
                    step.edits,
                    takeover=takeover,
                    sending=lambda i: mark_sending(self.store, entry, i),
                    sent=lambda i: mark_sent(self.store, entry, i),
                )
            except SessionLost as exc:
                # Nothing more can be sent on this session; the journal holds what was.
                restored = await self._restore_later(router, entry, touched, before)
                return self._finish(step, ids, (), f"{exc}; {restored}", failed="failed")
            if not result.ok:
                why = result.error or "rejected"
                restored = await self._undo(session, entry, touched, before)
                return self._finish(
                    step, ids, (), f"the router refused {result.failed}: {why}; {restored}",
                    failed="undone" if restored.startswith("put back") else "failed",
                )  # fmt: skip
            after = lines.parse(await session.show(read_command("show_running")))
            expected, _ = lines.apply_all(running, step.edits)
            if not after.same_as(expected):
                moved = sorted(after.paths ^ expected.paths)[:3]
                restored = await self._undo(session, entry, touched, before)
                return self._finish(
                    step, ids, (), f"the config is not what the step should leave (e.g. "
                    f"{' > '.join(moved[0]) if moved else '?'}); {restored}", failed="undone"
                )  # fmt: skip
            if step.rung is Rung.SYNC:
                # Verified line for line against the plan: that is the verification. Saved
                # before the journal says done: killed in between, the next run puts the
                # lines back rather than leave an unsaved router no journal knows about.
                await session.save()
                finish(self.store, entry, "done")
                running, startup = await self._configs(session)
                if not running.same_as(startup):
                    return self._finish(step, ids, (), "saved, but startup still differs",
                                        failed="failed")  # fmt: skip
                return self._finish(
                    step, ids, step.problems, f"{len(step.edits)} lines applied, verified; "
                    "saved (write memory)"
                )  # fmt: skip
            finish(self.store, entry, "done")
            if step.pin is not None:
                return self._pinned(step, ids)
            if step.rung is Rung.TUNNEL_BOUNCE:
                cured, detail = await self._wait_tunnel(session, router, step)
                return self._finish(step, ids, cured, detail)
            facts = await read_facts(session, self.config, router)
            cured, detail = await self._wait_names(router, step, facts)
            if step.saves:
                if set(step.problems) <= set(cured):
                    await session.save()
                    running, startup = await self._configs(session)
                    if not running.same_as(startup):
                        return self._finish(step, ids, cured, "saved, but startup still differs",
                                            failed="failed")  # fmt: skip
                    detail += "; saved (write memory)"
                else:
                    detail += "; not saved: a config that failed verification is never saved"
            return self._finish(step, ids, cured, detail)

    def _pinned(self, step: Step, ids: tuple[int, ...]) -> StepResult:
        """Record a pin set or taken back (the config is verified; not saved, on purpose)."""
        assert step.pin is not None and step.tunnel is not None
        spec = step.pin
        for pin in open_pins(self.store, step.router):
            if pin.tunnel == step.tunnel:
                release_pin(self.store, pin.id)
        if step.rung is Rung.PIN:
            add_pin(
                self.store,
                router=step.router,
                tunnel=step.tunnel,
                peer=spec.peer,
                family=spec.family,
                address=spec.address,
                fqdn=spec.fqdn,
                reason=step.why,
            )
            detail = f"{step.tunnel} points at {spec.address} while {spec.fqdn} is broken"
        else:
            detail = f"{step.tunnel} points at {spec.fqdn} again"
        return self._finish(step, ids, step.problems, detail + " (not saved: a pin is temporary)")

    async def _undo(
        self,
        session: ChangeSession,
        entry: int,
        touched: frozenset[lines.Path],
        before: frozenset[lines.Path],
    ) -> str:
        """Put back what a step touched, on a session that still works."""
        mark_undoing(self.store, entry)
        try:
            current = lines.parse(await session.show(read_command("show_running")))
            fix = lines.restore(current, before, touched)
            if fix:
                done = await session.apply(fix)
                if not done.ok:
                    return f"could not put it back ({done.error}): the next run will try again"
            now = lines.parse(await session.show(read_command("show_running")))
            if lines.around(now, touched) != before:
                return "could not put it back exactly: the next run will try again"
        except (RouterError, OSError) as exc:
            return f"could not put it back ({exc}): the next run will try again"
        finish(self.store, entry, "undone", note="put back after the step failed")
        return "put back as it was"

    async def _restore_later(
        self,
        router: Router,
        entry: int,
        touched: frozenset[lines.Path],
        before: frozenset[lines.Path],
    ) -> str:
        """The session broke mid-step: try once on a new one, else leave it to the next run."""
        try:
            async with self._session(router) as session:
                return await self._undo(session, entry, touched, before)
        except (RouterError, OSError) as exc:
            return f"cannot put it back now ({exc}): the next run will, before anything else"

    async def recover(self, router: Router, entry: JournalEntry) -> str:
        """Finish the undo of a step an earlier run left unfinished (killed, power, a lost
        session): put what it touched back as it was."""
        async with self._session(router) as session:
            text = await self._undo(session, entry.id, entry.touched, entry.before)
        if entry.action_id is not None and text.startswith("put back"):
            set_outcome(
                self.store, entry.action_id, "undone", "interrupted; put back by the next run"
            )
        return text

    # --- waiting --------------------------------------------------------------------------

    async def _wait_names(
        self, router: Router, step: Step, facts: RouterFacts
    ) -> tuple[list[str], str]:
        policy = self.config.settings.policy
        expect: dict[Family, frozenset[IPAddress]] = {}
        for problem in step.problems:
            family: Family = "ipv4" if problem == "name:ipv4" else "ipv6"
            if problem.startswith("name:") and facts.addresses.get(family):
                expect[family] = frozenset(facts.addresses[family])
        if not expect:
            return [], "the router has no address to publish for these names"
        waited = await wait_for_dns(
            self.config,
            router,
            expect,
            timeout=policy.ddns_wait,
            poll=policy.poll,
            tick=lambda what, left: self.progress(f"waiting for {what}", left),
        )
        cured = [
            f"name:{f}" for f, n in waited.names.items() if n.status.value == "ok" and not n.partial
        ]
        said = "; ".join(f"{f} {n.status.value}" for f, n in waited.names.items())
        return cured, f"DNS after {waited.waited:.0f} s: {said}"

    async def _wait_tunnel(
        self, session: ChangeSession, router: Router, step: Step
    ) -> tuple[list[str], str]:
        """Until the bounced tunnel's new SA talks to the address DNS gives its peer."""
        policy = self.config.settings.policy
        tunnel = step.tunnel or ""
        facts = await read_facts(session, self.config, router)
        peer = facts.tunnel(tunnel)
        if peer is None or peer.peer_fqdn is None:
            return [], f"{tunnel} has no peer FQDN to check against"
        owner = next(
            (r for r in self.config.routers() if peer.peer_fqdn in _fqdns(self.config, r)), None
        )
        if owner is None:
            return [], f"{peer.peer_fqdn} is no inventory router's name"
        family: Family = peer.family or "ipv4"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + policy.ike_wait
        while True:
            names = await look_up(self.config, owner, {family: frozenset()})
            want = set(names[family].addresses) if family in names else set()
            sas = parse_ikev2_sa(await session.show(read_command("show_ikev2_sa")))
            remote = next((sa.remote for sa in sas if sa.tunnel == tunnel), None)
            if remote is not None and remote in want:
                return [f"peer:{tunnel}"], f"{tunnel} renegotiated with {remote}"
            left = deadline - loop.time()
            if left <= 0:
                said = ", ".join(map(str, want)) or "nothing"
                return [], f"{tunnel} talks to {remote or 'nobody'}, DNS says {said}"
            self.progress(f"waiting for {tunnel} to renegotiate", left)
            await asyncio.sleep(min(policy.poll, left))

    # --- reboot ---------------------------------------------------------------------------

    async def _reboot(self, router: Router, step: Step, peers: Sequence[str]) -> StepResult:
        policy = self.config.settings.policy
        async with self._reboot_lock:
            now = self.store.now()
            reasons = []
            recent = reboots_since(self.store, router.name, now - policy.reboot_window)
            if len(recent) >= policy.max_reboots:
                reasons.append(f"reboot budget spent ({len(recent)} in 24 h)")
            if policy.quiet(now):
                reasons.append(f"quiet hours {policy.quiet_hours}")
            gap = now - timedelta(seconds=policy.link_gap)
            for peer in peers:
                if reboots_since(self.store, peer, gap):
                    reasons.append(f"link_gap: {peer} was rebooted within {policy.link_gap:g} s")
            if reasons:
                return self._record(step, "blocked", "; ".join(reasons))
            async with self._session(router) as session:
                running, startup = await self._configs(session)
                if not running.same_as(startup):
                    return self._record(
                        step, "blocked", "the running config is not saved: a reboot would revert it"
                    )
                # Recorded before it is sent: it counts against the budget, whatever happens.
                ids = self._start(step)
                target = session.target
                ticket = await session.reload()
        self.progress(f"{router.name}: reloading; waiting for it to come back", policy.reboot_wait)
        ssh = self.config.settings.ssh
        try:
            await wait_for_return(
                target,
                self.hosts,
                ticket,
                timeout=policy.reboot_wait,
                interval=min(policy.poll, 5.0),
                connect_timeout=ssh.connect_timeout,
                command_timeout=ssh.command_timeout,
            )
        except RouterError as exc:
            return self._finish(step, ids, (), f"did not come back: {exc}", failed="lost")
        async with self._session(router) as session:
            facts = await read_facts(session, self.config, router)
        cured, detail = await self._wait_names(router, step, facts)
        return self._finish(step, ids, cured, f"came back; {detail}")


def _stored(outcome: str) -> str:
    return "blocked" if outcome == "needs-human" else outcome


def _fqdns(config: Config, router: Router) -> set[str]:
    nm = config.inventory.netmeister
    return {nm.fqdn(router.host_label, f) for f in router.families()}
