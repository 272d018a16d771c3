"""Actions and their outcomes, the reboot budget's count, and the merged timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from nmops.state import (
    Observed,
    StateError,
    Store,
    actions_for,
    add_action,
    reboots_since,
    record_run,
    set_outcome,
    start_run,
    timeline,
)
from tests.unit import test_state_store as base

# Shared fixtures (see test_state_store).
state_url = base.state_url
clock = base.clock
store = base.store

A, B = "ix2215-tokyo", "ix2215-kagawa"
STALE = "name:ipv6:stale"


def _action(store: Store, router: str = A, **changes: Any) -> int:
    values: dict[str, Any] = {
        "run_id": start_run(store, "fix", 1),
        "router": router,
        "problem": STALE,
        "rung": "reregister",
        "commands": ["nm account fetburner password plain ****", "nm update"],
        "why": "AAAA still has the old prefix",
        **changes,
    }
    return add_action(store, **values)


def test_an_action_is_recorded_as_planned(store: Store, clock: base.FakeClock) -> None:
    action_id = _action(store, plan_id="plan-7")
    [action] = actions_for(store, A)
    assert action.id == action_id
    assert (action.problem, action.rung, action.outcome, action.plan_id) == (
        STALE,
        "reregister",
        "planned",
        "plan-7",
    )
    assert action.commands == ("nm account fetburner password plain ****", "nm update")
    assert (action.created_at, action.started_at, action.finished_at) == (clock.now, None, None)


def test_commands_are_masked_again_before_they_are_stored(store: Store) -> None:
    _action(store, commands=["nm account fetburner password plain hunter2"])
    [action] = actions_for(store, A)
    assert action.commands == ("nm account fetburner password plain ****",)


def test_outcomes_set_the_times_once(store: Store, clock: base.FakeClock) -> None:
    action_id = _action(store)
    created = clock.now
    clock.advance(10)
    set_outcome(store, action_id, "running")
    clock.advance(10)
    set_outcome(store, action_id, "applied", "2 commands sent")
    clock.advance(60)
    set_outcome(store, action_id, "verified")
    [action] = actions_for(store, A)
    assert action.outcome == "verified"
    assert action.detail == "2 commands sent"  # kept: no new detail given
    assert (action.created_at, action.started_at, action.finished_at) == (
        created,
        created + timedelta(seconds=10),
        created + timedelta(seconds=20),
    )


def test_an_action_that_never_ran_has_no_start(store: Store, clock: base.FakeClock) -> None:
    action_id = _action(store, outcome="blocked")
    [action] = actions_for(store, A)
    assert (action.started_at, action.finished_at) == (None, clock.now)
    set_outcome(store, action_id, "skipped", "lease held by another nmops")
    [action] = actions_for(store, A)
    assert (action.outcome, action.detail) == ("skipped", "lease held by another nmops")


def test_unknown_values_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown rung 'pray'"):
        _action(store, rung="pray")
    with pytest.raises(ValueError, match="unknown outcome 'fine'"):
        _action(store, outcome="fine")
    with pytest.raises(ValueError, match="unknown outcome"):
        set_outcome(store, _action(store), "fine")
    with pytest.raises(StateError, match="no action 999"):
        set_outcome(store, 999, "applied")


def test_actions_for_filters_by_problem_and_time(store: Store, clock: base.FakeClock) -> None:
    first = _action(store)
    clock.advance(3600)
    second = _action(store, problem="finding:unsaved", rung="config-fix")
    _action(store, B)
    assert [a.id for a in actions_for(store, A)] == [first, second]
    assert [a.id for a in actions_for(store, A, STALE)] == [first]
    assert [a.id for a in actions_for(store, A, since=clock.now)] == [second]
    assert actions_for(store, A, STALE, since=clock.now) == []


def test_every_reboot_sent_counts_against_the_budget(store: Store, clock: base.FakeClock) -> None:
    times = []
    for outcome in ("applied", "verified", "no-effect", "lost", "planned", "failed", "blocked"):
        clock.advance(60)
        action_id = _action(store, rung="reboot", problem="router:unreachable")
        clock.advance(5)
        set_outcome(store, action_id, outcome)
        times.append(clock.now)
    _action(store, rung="client-restart", outcome="applied")
    _action(store, B, rung="reboot", outcome="applied")
    assert reboots_since(store, A, base.START) == times[:4]
    assert reboots_since(store, A, times[2]) == times[2:4]
    assert reboots_since(store, A, clock.now + timedelta(seconds=1)) == []


def test_the_timeline_merges_what_was_seen_and_what_was_done(
    store: Store, clock: base.FakeClock
) -> None:
    run_id = start_run(store, "fix", 2)
    record_run(store, run_id, [Observed(A, "name:ipv6", "stale", "2001:db8::1")], routers=[A])
    action_id = _action(store)
    clock.advance(300)
    set_outcome(store, action_id, "verified", "AAAA updated")
    later = start_run(store, "check", 2)
    # B is seen for the first time, A's finding went away: one instant, in recording order.
    record_run(store, later, [Observed(B, "router", "ok")], routers=[A, B])
    events = timeline(store, A, base.START)
    assert [(e.at, e.kind, e.subject, e.what, e.detail, e.outcome) for e in events] == [
        (base.START, "transition", "name:ipv6", "stale", "2001:db8::1", None),
        (base.START, "action", STALE, "reregister", "AAAA updated", "verified"),
        (clock.now, "transition", "name:ipv6", "stale -> ok", "no longer observed", None),
    ]
    everyone = timeline(store, None, base.START)
    assert [(e.router, e.kind) for e in everyone] == [
        (A, "transition"),
        (A, "action"),
        (B, "transition"),
        (A, "transition"),
    ]
    assert [e.what for e in timeline(store, None, clock.now)] == ["ok", "stale -> ok"]
    assert timeline(store, "nobody", base.START) == []
