"""`nmops peers diff` and `nmops peers sync`: bring routers back to their rendered config.

Diff reads each router's running config over the read-only session and compares it with the
render. Sync, under the actor lease, pushes the difference through `nmops fix`'s safe apply
path (journal, line by line with undo, verify, `write memory` only after verification), but
only after three gates: the running config is saved (someone's unfinished work is never
mixed in), the plan does not touch what carries nmops's management session (unless
``force``), and a lab twin of the router took the plan and still answers.

Lines that carry a secret (a PSK, a password) are compared by presence and never pushed:
the journal never holds a secret, so such a line could not be undone safely. They are listed
for a person to type.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nmops.apply import STOPPING, Applier, Progress
from nmops.config.load import Config
from nmops.config.model import Router
from nmops.dns.addresses import IPAddress
from nmops.errors import NmopsError
from nmops.ix import lines
from nmops.ix.facts import collect_facts, known_hosts
from nmops.ix.lines import Edit
from nmops.ix.masking import MASK, mask_line
from nmops.peers.diff import Drift, PinnedPeer, drift
from nmops.peers.guard import lockout_reasons
from nmops.peers.rehearse import Rehearsal, rehearse
from nmops.plan import Rung, Step
from nmops.state import Holder, Lease, Store, finish_run, start_run
from nmops.state.pins import open_pins
from nmops.status import ExitCode


@dataclass
class RouterSync:
    router: str
    drift: Drift | None = None  # None: the router could not be read (see error)
    error: str | None = None
    unsaved: bool = False
    lockout: tuple[str, ...] = ()
    held_back: tuple[Edit, ...] = ()  # secret-bearing lines nmops does not push
    rehearsal: Rehearsal | None = None
    outcome: str | None = None  # after --apply: verified, failed, undone, refused, ...
    detail: str = ""
    skipped: str | None = None  # why peers does not manage this router at all
    pinned: tuple[str, ...] = ()  # tunnels a pin holds now (sync waits: it would save them)

    @property
    def pushable(self) -> tuple[Edit, ...]:
        if self.drift is None:
            return ()
        held = set(self.held_back)
        return tuple(e for e in self.drift.edits if e not in held)

    @property
    def exit_code(self) -> ExitCode:
        if self.skipped is not None:
            return ExitCode.OK
        if self.error is not None:
            return ExitCode.UNKNOWN
        if self.outcome is not None:
            if self.outcome in ("verified", "in-sync"):
                return ExitCode.OK
            # Nothing failed: lines left for a person, or a pin to wait for.
            # `skipped`: nmops was stopping, the next run does it.
            waits = ("held-back", "waiting", "skipped")
            return ExitCode.WARNING if self.outcome in waits else ExitCode.CRITICAL
        return ExitCode.OK if self.drift is None or self.drift.clean else ExitCode.WARNING


@dataclass
class SyncResult:
    routers: list[RouterSync] = field(default_factory=list)
    applied: bool = False

    @property
    def exit_code(self) -> ExitCode:
        return max((r.exit_code for r in self.routers), default=ExitCode.OK)


def _source_addresses(where: str | None) -> list[IPAddress]:
    """The address the router sees nmops's session come from: the kernel's source address
    for the management path that answered (a UDP connect sends nothing)."""
    if where is None:
        return []
    host, _, port = where.rpartition(":")
    try:
        address = ipaddress.ip_address(host)
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((host, int(port)))
            return [ipaddress.ip_address(probe.getsockname()[0])]
    except (ValueError, OSError):
        return []


def _carries_secret(edit: Edit, running: lines.Config) -> bool:
    """The line types a secret, or removes a block that holds one (its undo would)."""
    if MASK in edit.line or mask_line(edit.line) != edit.line:
        return True
    return any(mask_line(text) != text for path in lines.touched(running, [edit]) for text in path)


def desired_text(config: Config, router: Router) -> str:
    """The rendered config, every secret as a placeholder (diff compares them by presence)."""
    from nmops.peers.configs import templates_dir
    from nmops.peers.render import render_text

    return render_text(config.inventory, router.name, secret=None, templates=templates_dir(config))


# The config a router should have: the render, or (a twin's rehearsal, tests) another source.
Desired = Callable[[Config, Router], str]


async def _one(config: Config, store: Store | None, router: Router, desired: Desired) -> RouterSync:
    described = router.wan is not None or any(
        router.name in k.peers for k in config.inventory.links
    )
    if desired is desired_text and not described:
        # Nothing in the inventory says what its config should be: not peers' to manage.
        return RouterSync(router.name, skipped="no wan and no links in the inventory")
    facts = await collect_facts(config, router, known_hosts(config))
    if facts.running is None:
        return RouterSync(router.name, error=facts.error or "the running config was not read")
    try:
        want = desired(config, router)
    except NmopsError as exc:
        return RouterSync(router.name, error=f"cannot render its config: {exc}")
    pins = [PinnedPeer(p.tunnel, p.address) for p in open_pins(store, router.name)] if store else []
    found = drift(router.name, facts.running, want, pins=pins)
    result = RouterSync(router.name, found, unsaved=facts.saved is False)
    result.held_back = tuple(e for e in found.edits if _carries_secret(e, facts.running))
    addresses = _source_addresses(facts.path)
    answered = [facts.path.rpartition(":")[0]] if facts.path else []
    result.lockout = tuple(
        lockout_reasons(
            router,
            facts.running,
            result.pushable,
            nmops_addresses=addresses,
            answered=answered,
        )
    )
    result.pinned = tuple(p.tunnel for p in pins)
    result.detail = lines.render(facts.running)  # the twin's config (never shown: secrets)
    return result


async def peers_diff(
    config: Config,
    routers: Sequence[Router],
    store: Store | None,
    *,
    desired: Desired = desired_text,
) -> SyncResult:
    """Read every router and compare; changes nothing."""
    limit = asyncio.Semaphore(config.settings.ssh.concurrency)

    async def one(router: Router) -> RouterSync:
        async with limit:
            return await _one(config, store, router, desired)

    found = await asyncio.gather(*(one(r) for r in routers))
    for item in found:
        item.detail = ""
    return SyncResult(list(found))


async def peers_sync(
    config: Config,
    store: Store,
    routers: Sequence[Router],
    *,
    force: bool = False,
    progress: Progress | None = None,
    wait: float = 0.0,
    on_wait: Callable[[Holder], None] | None = None,
    desired: Desired = desired_text,
    stopping: Callable[[], bool] = lambda: False,
) -> SyncResult:
    """Diff, then push each router's difference through the gates (under the lease), one
    router at a time; once ``stopping`` says yes, the router in hand finishes and the rest
    wait for the next run."""
    from nmops.fix import FixRefused, leased

    if config.settings.policy.actions != "apply":
        raise FixRefused(
            f"policy.actions is {config.settings.policy.actions}: nmops peers sync --apply may "
            "not act (set policy.actions: apply in nmops.yaml once the diffs look right)"
        )
    say: Progress = progress or (lambda text, left: None)
    return await leased(
        store,
        "nmops peers sync --apply",
        lambda lease: _sync(config, store, list(routers), lease, force, say, desired, stopping),
        wait=wait,
        on_wait=on_wait,
    )


async def _sync(
    config: Config,
    store: Store,
    routers: list[Router],
    lease: Lease,
    force: bool,
    say: Progress,
    desired: Desired,
    stopping: Callable[[], bool],
) -> SyncResult:
    from nmops.fix import recover_unfinished

    by_name = {r.name: r for r in routers}
    run_id = start_run(store, "peers-sync", list(by_name))
    applier = Applier(config, store, run_id, "", lease.holder, say, stopping=stopping)
    _, blocked = await recover_unfinished(applier, store, by_name, say)
    result = SyncResult(applied=True)
    for number, router in enumerate(routers):
        if stopping():
            for rest in routers[number:]:
                result.routers.append(RouterSync(rest.name, outcome="skipped", detail=STOPPING))
            say(f"{len(routers) - number} routers: {STOPPING}", None)
            break
        lease.renew()
        item = await _one(config, store, router, desired)
        twin_config, item.detail = item.detail, ""
        result.routers.append(item)
        if item.drift is None:
            continue  # skipped, or not read
        if not item.pushable:
            item.outcome = "in-sync" if not item.held_back else "held-back"
            item.detail = _held(item) if item.held_back else "nothing to change"
            continue
        if router.name in blocked:
            item.outcome, item.detail = "refused", "an interrupted step there is not put back yet"
        elif item.pinned:
            item.outcome = "waiting"
            item.detail = (
                f"a pin holds {', '.join(item.pinned)}: sync saves, and a pin is never saved; "
                "it runs once the pin is released"
            )
        elif item.unsaved:
            item.outcome = "refused"
            item.detail = "the running config is not saved (someone's unfinished work)"
        elif item.lockout and not force:
            item.outcome = "refused"
            item.detail = "touches nmops's management path (--force to go ahead): " + "; ".join(
                item.lockout
            )
        if item.outcome is not None:
            say(f"{router.name}: {item.detail}", None)
            continue
        say(f"{router.name}: rehearsing {len(item.pushable)} lines on a twin", None)
        item.rehearsal = await rehearse(
            router.name,
            twin_config,
            item.pushable,
            command_timeout=config.settings.ssh.command_timeout,
        )
        if not item.rehearsal.ok:
            item.outcome = "refused"
            item.detail = f"the rehearsal failed: {item.rehearsal.detail}; nothing was pushed"
            say(f"{router.name}: {item.detail}", None)
            continue
        step = Step(
            router.name,
            Rung.SYNC,
            ("drift",),
            "converge to the config rendered from the inventory",
            item.pushable,
        )
        (outcome,) = await applier.run_router(router, [step])
        item.outcome, item.detail = outcome.outcome, outcome.detail
        if item.held_back:
            item.detail += "; " + _held(item)
    finish_run(store, run_id, int(result.exit_code))
    return result


def _held(item: RouterSync) -> str:
    shown = ", ".join(str(e) for e in (mask_line(str(e)) for e in item.held_back))
    return f"not pushed (they carry a secret; type them by hand): {shown}"
