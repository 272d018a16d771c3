"""Subject states and transitions: counts, changes, findings that go away, router subsets."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from nmops.state import (
    Observed,
    Store,
    Transition,
    consecutive,
    record_run,
    start_run,
    subject_states,
)
from tests.unit import test_state_store as base

# Shared fixtures (see test_state_store).
state_url = base.state_url
clock = base.clock
store = base.store

A, B = "ix2215-tokyo", "ix2215-kagawa"


def run(store: Store, *observed: Observed, routers: tuple[str, ...] = (A, B)) -> list[Transition]:
    run_id = start_run(store, "check", len(routers))
    return record_run(store, run_id, observed, routers=routers)


def statuses(store: Store, router: str | None = None) -> dict[tuple[str, str], tuple[str, int]]:
    return {(s.router, s.subject): (s.status, s.count) for s in subject_states(store, router)}


def test_the_first_run_records_every_subject_as_a_transition(
    store: Store, clock: base.FakeClock
) -> None:
    found = run(
        store,
        Observed(A, "name:ipv4", "ok", None),
        Observed(A, "finding:unsaved", "unsaved", "3 lines differ"),
        Observed(B, "name:ipv6", "missing", "NXDOMAIN"),
    )
    assert [(t.router, t.subject, t.from_status, t.to_status, t.detail) for t in found] == [
        (A, "name:ipv4", None, "ok", None),
        (A, "finding:unsaved", None, "unsaved", "3 lines differ"),
        (B, "name:ipv6", None, "missing", "NXDOMAIN"),
    ]
    assert {t.at for t in found} == {clock.now}
    state = consecutive(store, A, "finding:unsaved")
    assert state is not None
    assert (state.status, state.detail, state.count, state.since_at) == (
        "unsaved",
        "3 lines differ",
        1,
        clock.now,
    )
    assert consecutive(store, A, "name:ipv6") is None


def test_the_same_status_counts_runs_and_a_new_one_starts_over(
    store: Store, clock: base.FakeClock
) -> None:
    first = start_run(store, "check", 1)
    record_run(store, first, [Observed(A, "name:ipv6", "stale", "old")], routers=[A])
    clock.advance(300)
    second = start_run(store, "check", 1)
    assert (
        record_run(store, second, [Observed(A, "name:ipv6", "stale", "older")], routers=[A]) == []
    )
    state = consecutive(store, A, "name:ipv6")
    assert state is not None
    assert (state.count, state.since_at, state.since_run, state.last_run, state.detail) == (
        2,
        base.START,
        first,
        second,
        "older",
    )
    assert state.last_at == clock.now
    clock.advance(300)
    third = start_run(store, "check", 1)
    [change] = record_run(store, third, [Observed(A, "name:ipv6", "ok", None)], routers=[A])
    assert (change.from_status, change.to_status, change.run_id) == ("stale", "ok", third)
    state = consecutive(store, A, "name:ipv6")
    assert state is not None
    assert (state.status, state.count, state.since_at, state.since_run) == (
        "ok",
        1,
        clock.now,
        third,
    )


def test_recording_one_run_twice_counts_it_once(store: Store) -> None:
    run_id = start_run(store, "check", 1)
    for _ in range(2):
        record_run(store, run_id, [Observed(A, "router", "ok", None)], routers=[A])
    assert statuses(store) == {(A, "router"): ("ok", 1)}


def test_a_finding_that_went_away_becomes_ok(store: Store) -> None:
    run(store, Observed(A, "finding:peer-stale:Tunnel1.0", "stale", "peer 192.0.2.1"))
    [change] = run(store)
    assert (change.subject, change.from_status, change.to_status, change.detail) == (
        "finding:peer-stale:Tunnel1.0",
        "stale",
        "ok",
        "no longer observed",
    )
    state = consecutive(store, A, "finding:peer-stale:Tunnel1.0")
    assert state is not None and (state.status, state.detail, state.count) == ("ok", None, 1)
    assert run(store) == []  # still gone: one more ok run, no transition
    assert statuses(store) == {(A, "finding:peer-stale:Tunnel1.0"): ("ok", 2)}


def test_a_run_over_some_routers_leaves_the_others_alone(store: Store) -> None:
    run(store, Observed(A, "finding:unsaved", "unsaved", None), Observed(B, "name:ipv4", "stale"))
    found = run(store, routers=(A,))  # like --router ix2215-tokyo
    assert [(t.router, t.to_status) for t in found] == [(A, "ok")]
    assert statuses(store) == {
        (A, "finding:unsaved"): ("ok", 1),
        (B, "name:ipv4"): ("stale", 1),
    }


def test_a_router_checked_in_part_keeps_what_was_not_looked_at(store: Store) -> None:
    run(store, Observed(A, "router", "ok"), Observed(A, "finding:unsaved", "unsaved"))
    # A could not be reached: its observation is recorded, its findings are not judged.
    found = run(store, Observed(A, "router", "unreachable", "timed out"), routers=())
    assert [(t.subject, t.to_status) for t in found] == [("router", "unreachable")]
    assert statuses(store) == {
        (A, "finding:unsaved"): ("unsaved", 1),  # not seen this run: not counted either
        (A, "router"): ("unreachable", 1),
    }


def test_subject_states_are_ordered_and_filtered(store: Store) -> None:
    run(
        store,
        Observed(B, "name:ipv4", "ok"),
        Observed(A, "router", "ok"),
        Observed(A, "name:ipv4", "ok"),
    )
    assert [(s.router, s.subject) for s in subject_states(store)] == [
        (B, "name:ipv4"),
        (A, "name:ipv4"),
        (A, "router"),
    ]
    assert [s.subject for s in subject_states(store, B)] == ["name:ipv4"]
    assert subject_states(store, "nobody") == []


def test_recording_many_routers_is_set_based(store: Store) -> None:
    # 3,000 routers x 3 subjects, in more than one chunk of routers: the statements sent must
    # not grow with the rows (one SELECT per chunk, then executemany).
    routers = [f"ix-{i:05d}" for i in range(3_000)]
    subjects = ("name:ipv4", "name:ipv6", "router")
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    first = [Observed(r, s, "ok") for r in routers for s in subjects]
    run(store, *first, routers=tuple(routers))
    second = [
        Observed(r, s, "stale" if s == "name:ipv6" else "ok") for r in routers for s in subjects
    ]
    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        found = run(store, *second, routers=tuple(routers))
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert len(found) == 3_000
    assert len(statements) < 40, statements[:50]
    counts = {s.count for s in subject_states(store)}
    assert counts == {1, 2}
    assert len(subject_states(store)) == 9_000


def test_no_observations_and_no_routers_is_nothing(store: Store) -> None:
    assert run(store, routers=()) == []
    assert subject_states(store) == []
