"""The escalation ladder (pure): findings + history + policy -> plan, by tables."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nmops.check import RouterReport
from nmops.config.model import Router
from nmops.config.policy import Policy, QuietHours
from nmops.diagnose import Finding
from nmops.dns.classify import NameResult, ServerResult
from nmops.ix import lines, routerconfig
from nmops.ix.lines import Edit
from nmops.ix.observed import RouterFacts
from nmops.plan import Plan, Rung, Situation, make_plan
from nmops.status import Status

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # 21:00 in Tokyo
V4, V6 = "GigaEthernet0.1", "GigaEthernet2.0"
NOTIFY_V4 = f"nm ddns notify interface {V4} protocol ip"
NOTIFY_V6 = f"nm ddns notify interface {V6} protocol ipv6"
NM = f"nm ip enable\nnm account fetburner password plain x\n{NOTIFY_V4}\n{NOTIFY_V6}\n"


def router(name: str = "kagawa", **extra: Any) -> Router:
    return Router.model_validate({"name": name, "ddns": {"ipv4": V4, "ipv6": V6}, **extra})


def name(family: str, status: Status) -> NameResult:
    rdtype = "A" if family == "ipv4" else "AAAA"
    address = ipaddress.ip_address("198.51.100.9" if family == "ipv4" else "2001:db8:9::1")
    servers = (ServerResult("192.0.2.53:53", status, (address,), 60),)
    return NameResult(f"x.{family}", family, rdtype, status, False, (address,), 60, servers)


def facts(
    running: str = NM, *, saved: bool = True, reachable: bool = True, v6: bool = True
) -> RouterFacts:
    config = lines.parse(running)
    addresses = {
        "ipv4": (ipaddress.ip_address("198.51.100.2"),),
        "ipv6": (ipaddress.ip_address("2001:db8:2::1"),) if v6 else (),
    }
    return RouterFacts(
        "kagawa",
        reachable,
        addresses=addresses if reachable else {},
        interfaces={"ipv4": V4, "ipv6": V6} if reachable else {},
        netmeister=routerconfig.netmeister(config) if reachable else None,
        running=config if reachable else None,
        saved=saved if reachable else None,
    )


def situation(
    *,
    v4: Status = Status.OK,
    v6: Status = Status.OK,
    seen: int = 2,
    who: Router | None = None,
    report_facts: RouterFacts | None = None,
    findings: tuple[Finding, ...] = (),
    **extra: Any,
) -> Situation:
    who = who or router()
    report = RouterReport(
        who.name,
        (name("ipv4", v4), name("ipv6", v6)),
        facts=report_facts if report_facts is not None else facts(),
        findings=findings,
    )
    counts = {"name:ipv4": seen, "name:ipv6": seen}
    counts.update({f"finding:peer-stale:{f.tunnel}": seen for f in findings if f.tunnel})
    return Situation(who, report, counts=counts, **extra)


def rungs(plan: Plan) -> list[tuple[str, str, tuple[str, ...], bool]]:
    return [(s.router, s.rung.value, s.problems, bool(s.blocked)) for s in plan.steps]


POLICY = Policy()
LADDER_V6 = [
    ("kagawa", "reregister", ("name:ipv6",), False),
    ("kagawa", "client-restart", ("name:ipv6",), False),
    ("kagawa", "reboot", ("name:ipv6",), False),
    ("kagawa", "needs-human", ("name:ipv6",), False),
]


def test_healthy_router_has_nothing_to_do() -> None:
    plan = make_plan([situation()], POLICY, NOW)
    assert plan.steps == () and plan.waiting == () and not plan.acts


def test_a_problem_seen_once_waits_for_confirmation() -> None:
    plan = make_plan([situation(v6=Status.STALE, seen=1)], POLICY, NOW)
    assert plan.steps == ()
    ((waiting),) = plan.waiting
    assert (waiting.problem, waiting.seen, waiting.needed) == ("name:ipv6", 1, 2)


@pytest.mark.parametrize("status", [Status.STALE, Status.MISSING, Status.NXDOMAIN, Status.BOGUS])
def test_the_ladder_for_a_dns_problem(status: Status) -> None:
    plan = make_plan([situation(v6=status)], POLICY, NOW)
    assert rungs(plan) == LADDER_V6
    reregister, restart, *_ = plan.steps
    assert reregister.edits == (Edit((), f"no {NOTIFY_V6}"), Edit((), NOTIFY_V6))
    assert restart.edits == (Edit((), "no nm ip enable"), Edit((), "nm ip enable"))
    assert not reregister.saves and reregister.waits_for == "dns"


def test_both_families_share_their_steps() -> None:
    plan = make_plan([situation(v4=Status.STALE, v6=Status.STALE)], POLICY, NOW)
    first = plan.steps[0]
    assert first.rung is Rung.REREGISTER
    assert first.problems == ("name:ipv4", "name:ipv6")
    assert len(first.edits) == 4


def test_a_step_tried_without_success_is_not_repeated() -> None:
    tried = {"name:ipv6": frozenset({Rung.REREGISTER})}
    plan = make_plan([situation(v6=Status.STALE, tried=tried)], POLICY, NOW)
    assert [s.rung for s in plan.steps] == [Rung.CLIENT_RESTART, Rung.REBOOT, Rung.NEEDS_HUMAN]
    tried = {"name:ipv6": frozenset({Rung.REREGISTER, Rung.CLIENT_RESTART, Rung.REBOOT})}
    plan = make_plan([situation(v6=Status.STALE, tried=tried)], POLICY, NOW)
    assert [s.rung for s in plan.steps] == [Rung.NEEDS_HUMAN]
    assert "reboot" in plan.steps[0].why and "reregister" in plan.steps[0].why


@pytest.mark.parametrize(
    ("running", "edits"),
    [
        (NM.replace(NOTIFY_V6 + "\n", ""), [Edit((), NOTIFY_V6)]),
        (NM.replace(V6 + " protocol ipv6", "GigaEthernet0.0 protocol ipv6"), [Edit((), NOTIFY_V6)]),
        (NM.replace("nm ip enable\n", ""), [Edit((), "nm ip enable")]),
    ],
)
def test_a_config_fix_comes_first_when_the_nm_lines_are_wrong(
    running: str, edits: list[Edit]
) -> None:
    plan = make_plan([situation(v6=Status.STALE, report_facts=facts(running))], POLICY, NOW)
    fix = plan.steps[0]
    assert fix.rung is Rung.CONFIG_FIX and fix.saves and not fix.blocked
    assert list(fix.edits) == edits
    assert [s.rung for s in plan.steps[1:]] == [
        Rung.REREGISTER,
        Rung.CLIENT_RESTART,
        Rung.REBOOT,
        Rung.NEEDS_HUMAN,
    ]
    # The re-registration after a fix re-adds the line the fix wrote.
    assert plan.steps[1].edits[-1] == Edit((), NOTIFY_V6)


def test_an_unsaved_config_blocks_config_steps_and_reboots() -> None:
    missing = NM.replace(NOTIFY_V6 + "\n", "")
    plan = make_plan(
        [situation(v6=Status.STALE, report_facts=facts(missing, saved=False))], POLICY, NOW
    )
    fix, *rest = plan.steps
    assert fix.rung is Rung.CONFIG_FIX and "not saved" in fix.blocked[0]
    # No notify line to re-add while the fix is held: straight to the client restart.
    assert [s.rung for s in rest] == [Rung.CLIENT_RESTART, Rung.REBOOT, Rung.NEEDS_HUMAN]
    reboot = rest[1]
    assert any("would silently revert" in b for b in reboot.blocked)
    allowed = make_plan(
        [situation(v6=Status.STALE, report_facts=facts(missing, saved=False))],
        POLICY,
        NOW,
        allow_unsaved=True,
    )
    assert not allowed.steps[0].blocked
    assert any("revert" in b for b in allowed.for_router("kagawa")[-2].blocked)  # still no reboot


def test_no_global_address_is_upstream() -> None:
    plan = make_plan([situation(v6=Status.NO_ADDRESS, report_facts=facts(v6=False))], POLICY, NOW)
    (step,) = plan.steps
    assert step.rung is Rung.UPSTREAM and not step.rung.acts
    assert "GigaEthernet2.0 has no global address" in step.why


def test_peer_stale_bounces_the_tunnel_then_reboots() -> None:
    stale = (Finding(Status.PEER_STALE, "old", "Tunnel1.0"),)
    plan = make_plan([situation(findings=stale)], POLICY, NOW)
    bounce, reboot, human = plan.steps
    assert bounce.rung is Rung.TUNNEL_BOUNCE and bounce.tunnel == "Tunnel1.0"
    assert bounce.edits == (
        Edit(("interface Tunnel1.0",), "shutdown"),
        Edit(("interface Tunnel1.0",), "no shutdown"),
    )
    assert (reboot.rung, human.rung) == (Rung.REBOOT, Rung.NEEDS_HUMAN)
    managed = make_plan(
        [situation(findings=stale, management_tunnels=frozenset({"Tunnel1.0"}))], POLICY, NOW
    )
    assert "does not bounce" in managed.steps[0].blocked[0]


@pytest.mark.parametrize(
    ("extra", "policy", "reason"),
    [
        ({"reboots": (NOW - timedelta(hours=3),)}, POLICY, "budget spent"),
        ({"reboot_allowed": False}, POLICY, "reboot: deny"),
        ({}, Policy(quiet_hours=QuietHours.parse("20:00-23:00")), "quiet hours"),
        ({}, Policy(quiet_hours=QuietHours.parse("22:00-06:00")), None),
        ({"reboots": (NOW - timedelta(hours=25),)}, POLICY, None),
        (
            {"peers": ("tokyo",), "peer_reboots": {"tokyo": NOW - timedelta(minutes=30)}},
            POLICY,
            "link_gap",
        ),
        (
            {"peers": ("tokyo",), "peer_reboots": {"tokyo": NOW - timedelta(hours=2)}},
            POLICY,
            None,
        ),
    ],
)
def test_reboot_policy(extra: dict[str, Any], policy: Policy, reason: str | None) -> None:
    plan = make_plan([situation(v6=Status.STALE, **extra)], policy, NOW)
    (reboot,) = [s for s in plan.steps if s.rung is Rung.REBOOT]
    if reason is None:
        assert reboot.blocked == ()
    else:
        assert any(reason in b for b in reboot.blocked), reboot.blocked


def test_both_ends_of_a_link_one_reboot_now() -> None:
    tokyo = situation(v6=Status.STALE, who=router("tokyo"), peers=("kagawa",))
    kagawa = situation(v6=Status.STALE, peers=("tokyo",))
    plan = make_plan([tokyo, kagawa], POLICY, NOW)
    first = next(s for s in plan.for_router("tokyo") if s.rung is Rung.REBOOT)
    second = next(s for s in plan.for_router("kagawa") if s.rung is Rung.REBOOT)
    assert first.blocked == ()
    assert any("tokyo is planned to reboot now" in b for b in second.blocked)


def test_unreachable_or_lost_routers_need_a_person() -> None:
    down = make_plan([situation(v6=Status.STALE, report_facts=facts(reachable=False))], POLICY, NOW)
    assert [s.rung for s in down.steps] == [Rung.NEEDS_HUMAN]
    assert down.steps[0].blocked
    lost = make_plan([situation(v6=Status.STALE, lost=True)], POLICY, NOW)
    assert [s.rung for s in lost.steps] == [Rung.NEEDS_HUMAN]
    assert "did not bring it back" in lost.steps[0].why


def test_plan_id_is_a_hash_of_what_it_does() -> None:
    a = make_plan([situation(v6=Status.STALE)], POLICY, NOW)
    b = make_plan([situation(v6=Status.STALE)], POLICY, NOW + timedelta(seconds=5))
    c = make_plan([situation(v4=Status.STALE, v6=Status.STALE)], POLICY, NOW)
    assert a.id == b.id
    assert a.id != c.id
    assert len(a.id) == 12
