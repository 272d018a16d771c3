"""Incidents through the real state database (SQLite, Store) with a frozen clock: open after
confirm_after, reminders, resolve after resolve_after, flapping, silences, maintenance, and no
event told twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import nmops.incidents as incidents_module
from nmops.config.load import Config, load_config
from nmops.incidents import open_incidents, update
from nmops.incidents.silences import add_silence, clear_silence, list_silences
from nmops.notify.events import Event
from nmops.state import Observed, Store, record_run, start_run
from tests.unit import test_state_store as base

state_url = base.state_url
clock = base.clock
store = base.store

GOOD = Path(__file__).resolve().parent.parent / "data" / "config" / "good"
A, B = "ix2215-tokyo", "ix2215-kagawa"
FIVE_MIN = 300


def make_config(tmp_path: Path, incidents: str = "", confirm_after: int = 2) -> Config:
    path = tmp_path / "nmops.yaml"
    path.write_text(
        f"inventory: {GOOD / 'inventory.yaml'}\n"
        f"policy: {{confirm_after: {confirm_after}, timezone: Asia/Tokyo}}\n" + incidents,
        encoding="utf-8",
    )
    return load_config(path)


@pytest.fixture(autouse=True, params=["routers-of-interest", "whole-run-scan"])
def subjects_read(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test twice: the run's subjects read for the routers of interest only, and by a
    scan of the whole run (what a run with many open incidents does); same results."""
    if request.param == "whole-run-scan":
        monkeypatch.setattr(incidents_module, "_IN_LIMIT", -1)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


class Runs:
    """Check runs every five minutes: record what was seen, then apply it to incidents."""

    def __init__(self, store: Store, clock: base.FakeClock, config: Config) -> None:
        self.store, self.clock, self.config = store, clock, config
        self.last = 0

    def check(self, aaaa: str = "ok", *, router_b: str = "ok", advance: bool = True) -> list[Event]:
        if advance:
            self.clock.advance(FIVE_MIN)
        self.last = start_run(self.store, "check", 2)
        observed = [
            Observed(A, "name:ipv4", "ok"),
            Observed(A, "name:ipv6", aaaa, None if aaaa == "ok" else "NODATA at 2 servers"),
            Observed(B, "name:ipv6", router_b),
        ]
        record_run(self.store, self.last, observed, routers=(A, B))
        return update(self.store, self.config, self.last)

    def again(self) -> list[Event]:
        return update(self.store, self.config, self.last)


@pytest.fixture
def runs(store: Store, clock: base.FakeClock, config: Config) -> Runs:
    return Runs(store, clock, config)


def kinds(events: list[Event]) -> list[tuple[str, str, str, str]]:
    return [(e.kind, e.router, e.subject, e.status) for e in events]


def test_opens_after_confirm_after_bad_checks_once(runs: Runs, store: Store) -> None:
    assert runs.check() == []
    assert runs.check("missing") == []  # one bad check: pending, nobody told
    assert open_incidents(store) == []
    opened = runs.check("missing")
    assert kinds(opened) == [("open", A, "name:ipv6", "missing")]
    [event] = opened
    assert event.detail == "NODATA at 2 servers" and not event.silenced
    assert event.since == runs.clock.now - timedelta(seconds=FIVE_MIN)  # the first bad check
    [incident] = open_incidents(store)
    assert event.incident_id == incident.id
    assert runs.again() == []  # the same run twice tells nothing twice
    assert runs.check("missing") == []


def test_different_bad_statuses_count_as_one_problem(runs: Runs) -> None:
    runs.check("missing")
    assert kinds(runs.check("stale")) == [("open", A, "name:ipv6", "stale")]


def test_a_blip_shorter_than_confirm_after_leaves_nothing(runs: Runs, store: Store) -> None:
    runs.check("missing")
    assert runs.check() == []
    assert runs.check("missing") == []
    assert open_incidents(store) == []


def test_resolves_after_resolve_after_good_checks(runs: Runs, store: Store) -> None:
    runs.check("missing")
    runs.check("missing")
    assert runs.check() == []  # one good check is not enough
    assert runs.check("missing") == []  # bad again: the count starts over, no new open
    assert runs.check() == []
    resolved = runs.check()
    assert kinds(resolved) == [("resolve", A, "name:ipv6", "ok")]
    assert resolved[0].detail == "was missing" and not resolved[0].silenced
    assert runs.again() == []
    assert open_incidents(store) == []
    assert runs.check() == []


def test_reminders_at_most_every_remind_every_and_only_what_is_still_wrong(
    runs: Runs, clock: base.FakeClock
) -> None:
    runs.check("missing", router_b="unreachable")
    assert len(runs.check("missing", router_b="unreachable")) == 2  # both open
    told: list[Event] = []
    for _ in range(12 * 6 - 1):  # every 5 min until 6 h after the opening, minus one check
        told += runs.check("missing")  # B answers again (and resolves)
    assert kinds(told) == [("resolve", B, "name:ipv6", "ok")]
    reminder = runs.check("missing")  # exactly 6 h after the open notice
    assert kinds(reminder) == [("remind", A, "name:ipv6", "missing")]
    assert reminder[0].since is not None and reminder[0].since < clock.now - timedelta(hours=6)
    assert runs.again() == []
    assert runs.check("missing") == []  # the next reminder is 6 h away again


def test_flapping_is_one_incident_with_one_notice(runs: Runs, store: Store) -> None:
    told: list[Event] = []
    for _ in range(6):  # bad, good, bad ... every 5 min: more than 4 flips within 1 h
        told += runs.check("missing")
        told += runs.check()
    assert kinds(told) == [("flapping", A, "name:ipv6", "flapping")]
    assert "flips within 1 h" in told[0].detail
    [incident] = open_incidents(store)
    assert incident.kind == "flapping"
    # Calm again: good for a whole window, then resolved once.
    later: list[Event] = []
    for _ in range(14):
        later += runs.check()
    assert kinds(later) == [("resolve", A, "name:ipv6", "ok")]
    assert open_incidents(store) == []


def test_a_silence_records_but_does_not_mail(
    runs: Runs, store: Store, clock: base.FakeClock
) -> None:
    silence = add_silence(store, A, timedelta(hours=1), reason="ISP work", created_by="t")
    assert [s.id for s in list_silences(store)] == [silence.id]
    runs.check("missing")
    opened = runs.check("missing")
    assert kinds(opened) == [("open", A, "name:ipv6", "missing")]
    assert opened[0].silenced
    [incident] = open_incidents(store)
    assert incident.silenced and incident.notified_at is None
    assert runs.check("missing") == []
    # The silence ends while it is still wrong: now it is told, once.
    assert clear_silence(store, silence.id) is not None
    assert list_silences(store) == []
    late = runs.check("missing")
    assert kinds(late) == [("open", A, "name:ipv6", "missing")] and not late[0].silenced
    assert runs.check("missing") == []


def test_resolved_within_the_silence_is_not_mailed_either(runs: Runs, store: Store) -> None:
    add_silence(store, "*", timedelta(hours=1), reason=None, created_by="t")
    runs.check("missing")
    runs.check("missing")
    runs.check()
    [resolved] = runs.check()
    assert resolved.kind == "resolve" and resolved.silenced


def test_a_maintenance_window_silences_its_routers(
    tmp_path: Path, store: Store, clock: base.FakeClock
) -> None:
    # START is Saturday 2025-03-01 09:00 UTC = 18:00 in Tokyo.
    config = make_config(
        tmp_path,
        "incidents:\n  maintenance:\n"
        f"    - {{routers: [{A}], every: sat, start: '18:00', duration: 30m, reason: ISP}}\n",
    )
    runs = Runs(store, clock, config)
    runs.check("missing", router_b="unreachable")
    events = runs.check("missing", router_b="unreachable")
    assert sorted((e.router, e.silenced) for e in events) == [(B, False), (A, True)]
    for _ in range(3):  # 18:15 .. 18:25 in Tokyo: still in the window
        assert runs.check("missing", router_b="unreachable") == []
    late = runs.check("missing", router_b="unreachable")  # 18:30: the window is over
    assert kinds(late) == [("open", A, "name:ipv6", "missing")] and not late[0].silenced


def test_update_twice_for_one_run_and_an_older_run_tell_nothing(runs: Runs, store: Store) -> None:
    runs.check("missing")
    first = runs.last
    assert len(runs.check("missing")) == 1
    assert update(store, runs.config, first) == []
    assert runs.again() == []


def test_an_unobserved_subject_keeps_its_incident(runs: Runs, store: Store) -> None:
    runs.check("missing")
    runs.check("missing")
    # A run that looked only at B: A's incident is neither counted good nor resolved.
    for _ in range(3):
        runs.clock.advance(FIVE_MIN)
        run_id = start_run(store, "check", 1)
        record_run(store, run_id, [Observed(B, "name:ipv6", "ok")], routers=(B,))
        assert update(store, runs.config, run_id) == []
    [incident] = open_incidents(store)
    assert incident.router == A and incident.good_count == 0


def test_events_carry_aware_utc_times(runs: Runs) -> None:
    runs.check("missing")
    [event] = runs.check("missing")
    assert event.at.tzinfo is not None and event.at.utcoffset() == timedelta(0)
    assert event.at == datetime(2025, 3, 1, 9, 10, tzinfo=UTC)
