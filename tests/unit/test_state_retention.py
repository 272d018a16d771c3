"""Retention: old history goes, what is current or still open stays, and a second pass
deletes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner

from nmops.cli import main
from nmops.state import Observed, Store, add_action, finish_run, record_run, start_run
from nmops.state.retention import compact
from nmops.state.schema import (
    actions,
    incidents,
    job_runs,
    journal,
    link_paths,
    outbox,
    runs,
    subjects,
    transitions,
)
from tests.unit import test_state_store as base
from tests.unit.test_state_store import FakeClock

# Shared fixtures (see test_state_store).
state_url = base.state_url
clock = base.clock
store = base.store

DAY = 86400.0
GOOD = Path(__file__).parents[1] / "data" / "config" / "good"
RETENTION = timedelta(days=90)


def _check(store: Store, rows: list[Observed]) -> int:
    routers = sorted({r.router for r in rows})
    run_id = start_run(store, "check", routers)
    record_run(store, run_id, rows, routers=routers)
    finish_run(store, run_id, 0)
    return run_id


def _action(store: Store, run_id: int, router: str) -> int:
    return add_action(
        store, run_id=run_id, router=router, problem="name:ipv6", rung="reregister",
        commands=["nm ddns notify"], why="stale", outcome="no-effect",
    )  # fmt: skip


def _count(store: Store, table: sa.Table, *where: Any) -> int:
    with store.read() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
        )


def _insert(store: Store, table: sa.Table, **values: Any) -> None:
    with store.begin() as conn:
        conn.execute(sa.insert(table).values(**values))


def _incident(store: Store, run_id: int, router: str, *, resolved: bool) -> None:
    now = store.now()
    _insert(
        store, incidents, router=router, subject="name:ipv6", kind="problem", status="missing",
        opened_at=now, since_at=now, resolved_at=now if resolved else None, bad_count=2,
        good_count=0, flaps=0, silenced=False, last_run=run_id,
    )  # fmt: skip


def test_old_history_goes_and_what_is_current_stays(store: Store, clock: FakeClock) -> None:
    # 200 days ago: tokyo flips bad and back (transitions, an action); kagawa turns bad and
    # stays bad to this day, with an action on it.
    old_bad = _check(store, [Observed("tokyo", "name:ipv6", "missing")])
    _action(store, old_bad, "tokyo")
    _incident(store, old_bad, "tokyo", resolved=True)
    _check(store, [Observed("tokyo", "name:ipv6", "ok")])
    kagawa_bad = _check(store, [Observed("kagawa", "name:ipv6", "stale")])
    kagawa_action = _action(store, kagawa_bad, "kagawa")
    _incident(store, kagawa_bad, "kagawa", resolved=False)
    now = store.now()
    _insert(store, job_runs, job="ddns-watch", scheduled_at=now, outcome="missed")
    for key, state in (("sent", "sent"), ("waits", "pending")):
        _insert(
            store, outbox, key=key, channel="mail", target="a@example.net", subject="s",
            body={}, state=state, attempts=1, created_at=now, next_try_at=now,
        )  # fmt: skip
    _insert(store, link_paths, router="tokyo", peer="kagawa", path="ipv6", at=now, run_id=old_bad)
    _insert(
        store, link_paths, router="tokyo", peer="kagawa", path="ipv4", at=now, run_id=kagawa_bad
    )
    # An unfinished journal entry: its action must stay, whatever its age.
    stuck = _action(store, kagawa_bad, "tokyo")
    _insert(
        store, journal, action_id=stuck, router="tokyo", state="sending", edits=[], undo=[],
        touched=[], before=[], sent=0, in_flight=True, holder="h", created_at=now, updated_at=now,
    )  # fmt: skip

    clock.advance(200 * DAY)
    recent = _check(store, [Observed("tokyo", "name:ipv6", "ok")])
    _action(store, recent, "tokyo")
    _insert(store, job_runs, job="ddns-watch", scheduled_at=store.now(), outcome="ok")

    result = compact(store, RETENTION)

    assert result.deleted["transitions"] == 3  # tokyo's two and kagawa's first sighting
    assert _count(store, transitions) == 0
    assert _count(store, subjects) == 2  # current states stay
    # tokyo's old action went; kagawa's (a problem still open) and the journal's stayed.
    assert {r for r in _ids(store, actions)} >= {kagawa_action, stuck}
    assert _count(store, actions, actions.c.router == "tokyo") == 2  # the stuck and the recent
    assert _count(store, incidents) == 1  # the open one
    assert _count(store, incidents, incidents.c.router == "kagawa") == 1
    assert _count(store, job_runs) == 1
    assert _count(store, outbox) == 1  # the pending mail waits on
    assert _count(store, link_paths) == 1  # the newest path of the link
    assert _count(store, journal) == 1
    # The runs something still points at stay; tokyo's flip back to ok went.
    kept = set(_ids(store, runs))
    assert kagawa_bad in kept and recent in kept
    assert old_bad not in kept or _count(store, actions, actions.c.run_id == old_bad) > 0

    assert compact(store, RETENTION).total == 0


def test_nothing_recent_is_touched(store: Store, clock: FakeClock) -> None:
    run_id = _check(store, [Observed("tokyo", "name:ipv6", "missing")])
    _action(store, run_id, "tokyo")
    clock.advance(89 * DAY)
    assert compact(store, RETENTION).total == 0
    assert _count(store, transitions) == 1 and _count(store, actions) == 1


def test_a_problem_older_than_the_cutoff_keeps_its_ladder(store: Store, clock: FakeClock) -> None:
    # 120 days of the same unsolved problem: the rungs tried must not be forgotten, or the
    # ladder would start again (and reboot again).
    run_id = _check(store, [Observed("kagawa", "name:ipv6", "stale")])
    _action(store, run_id, "kagawa")
    clock.advance(120 * DAY)
    _check(store, [Observed("kagawa", "name:ipv6", "stale")])
    compact(store, RETENTION)
    assert _count(store, actions) == 1
    assert _count(store, subjects, subjects.c.status == "stale") == 1


def _ids(store: Store, table: sa.Table) -> list[int]:
    with store.read() as conn:
        return [int(i) for i in conn.execute(sa.select(table.c.id)).scalars()]


def test_the_cli_compacts_with_the_configured_retention(tmp_path: Path) -> None:
    settings = tmp_path / "nmops.yaml"
    settings.write_text(
        f"inventory: {GOOD / 'inventory.yaml'}\n"
        "state: {url: sqlite:///state.db, retention: 30d}\n",
        encoding="utf-8",
    )
    old = datetime.now(UTC) - timedelta(days=40)
    with Store.open(f"sqlite:///{tmp_path / 'state.db'}", clock=lambda: old) as store:
        _check(store, [Observed("tokyo", "name:ipv6", "missing")])
        _check(store, [Observed("tokyo", "name:ipv6", "ok")])
    result = CliRunner().invoke(main, ["state", "compact", "--config", str(settings)])
    assert result.exit_code == 0, result.output
    assert "2 transitions" in result.output
    with Store.open(f"sqlite:///{tmp_path / 'state.db'}") as store:
        assert _count(store, transitions) == 0
        assert _count(store, subjects) == 1
    result = CliRunner().invoke(
        main, ["state", "compact", "--config", str(settings), "--keep", "2d"]
    )
    assert result.exit_code == 3


def test_serve_compacts_daily_at_a_quiet_hour(tmp_path: Path) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from nmops.config.load import load_config
    from nmops.service.scheduler import COMPACT, Service

    settings = tmp_path / "nmops.yaml"
    settings.write_text(
        f"inventory: {GOOD / 'inventory.yaml'}\n"
        "state: {url: sqlite:///state.db, retention: 30d}\n",
        encoding="utf-8",
    )
    config = load_config(settings)
    old = datetime.now(UTC) - timedelta(days=40)
    with Store.open(config.settings.state.resolved(config.base_dir), clock=lambda: old) as store:
        _check(store, [Observed("tokyo", "name:ipv6", "missing")])
        _check(store, [Observed("tokyo", "name:ipv6", "ok")])
    with Store.open(config.settings.state.resolved(config.base_dir)) as store:
        service = Service(settings, tmp_path / "jobs", store, config)
        service._scheduler = BackgroundScheduler(timezone="UTC")
        service._schedule()
        job = service._scheduler.get_job(COMPACT)
        after = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
        fire = job.trigger.get_next_fire_time(None, after)
        assert (fire.astimezone(config.settings.policy.zone).hour, fire.minute) == (3, 43)
        service._compact()
        assert _count(store, transitions) == 0
