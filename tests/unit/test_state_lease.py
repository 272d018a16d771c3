"""The lease: one actor at a time, in one process, across processes, and after a crash."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
from datetime import timedelta
from typing import Any

import pytest

from nmops.state import Holder, Lease, LeaseHeld, LeaseLost, Store, keep_alive
from nmops.state.store import utc_now
from tests.unit import test_state_store as base

# Shared fixtures (see test_state_store).
state_url = base.state_url
clock = base.clock
store = base.store

FIX = "nmops fix --apply"


def test_acquire_hold_release(store: Store, clock: base.FakeClock) -> None:
    lease = Lease(store, purpose=FIX, ttl=60)
    assert lease.held() is None
    lease.acquire()
    holder = lease.held()
    assert holder == Holder(
        holder=lease.holder,
        host=socket.gethostname(),
        pid=os.getpid(),
        purpose=FIX,
        acquired_at=clock.now,
        expires_at=clock.now + timedelta(seconds=60),
    )
    lease.release()
    assert lease.held() is None
    lease.release()  # a missing row is fine


def test_a_second_actor_is_told_who_holds_it(store: Store, clock: base.FakeClock) -> None:
    with Lease(store, purpose=FIX, ttl=120):
        clock.advance(30)
        other = Lease(store, purpose="nmops peers sync --apply")
        with pytest.raises(LeaseHeld) as raised:
            other.acquire()
    message = str(raised.value)
    assert f"held by {FIX} on {socket.gethostname()} (pid {os.getpid()})" in message
    assert "since 09:00:00 UTC, expires 09:02:00 UTC" in message
    assert raised.value.holder.purpose == FIX
    # Released on leaving the with block: now the other one gets it.
    other.acquire()
    assert (held := other.held()) is not None and held.purpose == "nmops peers sync --apply"


def test_the_date_is_shown_when_the_lease_is_not_from_today(
    store: Store, clock: base.FakeClock
) -> None:
    Lease(store, purpose=FIX, ttl=86_400 * 1.5).acquire()
    clock.advance(86_400)
    with pytest.raises(LeaseHeld, match=r"since 2025-03-01 09:00:00 UTC, expires 21:00:00 UTC"):
        Lease(store, purpose="x").acquire()


def test_renew_extends_and_taking_it_again_keeps_the_start(
    store: Store, clock: base.FakeClock
) -> None:
    lease = Lease(store, purpose=FIX, ttl=60)
    lease.acquire()
    clock.advance(50)
    lease.renew()
    assert (held := lease.held()) is not None
    assert held.expires_at == clock.now + timedelta(seconds=60)
    clock.advance(50)
    lease.acquire()  # already ours
    assert (held := lease.held()) is not None
    assert (held.acquired_at, held.expires_at) == (base.START, clock.now + timedelta(seconds=60))


def test_an_expired_holder_is_taken_over(store: Store, clock: base.FakeClock) -> None:
    crashed = Lease(store, purpose=FIX, ttl=60)
    crashed.acquire()
    successor = Lease(store, purpose=FIX, ttl=60)
    clock.advance(60)  # expires_at == now: still held
    with pytest.raises(LeaseHeld):
        successor.acquire()
    clock.advance(1)
    assert crashed.held() is None  # expired counts as free
    successor.acquire()
    assert (held := successor.held()) is not None and held.holder == successor.holder
    with pytest.raises(LeaseLost, match=f"now held by {FIX}.*stop changing routers"):
        crashed.renew()
    crashed.release()  # must not delete the successor's row
    assert (held := successor.held()) is not None and held.holder == successor.holder


def test_renewing_a_released_lease_is_lost(store: Store) -> None:
    lease = Lease(store, purpose=FIX)
    lease.acquire()
    lease.release()
    with pytest.raises(LeaseLost, match="nobody holds it"):
        lease.renew()


def test_acquire_waits_for_the_holder_and_says_who_it_is(
    store: Store, clock: base.FakeClock
) -> None:
    Lease(store, purpose=FIX, ttl=60).acquire()
    waiting: list[Holder] = []

    def on_wait(holder: Holder) -> None:
        waiting.append(holder)
        clock.advance(25)  # time passes while we wait

    lease = Lease(store, purpose="nmops serve")
    lease.acquire(wait=60, poll=0.001, on_wait=on_wait)
    assert [h.purpose for h in waiting] == [FIX, FIX, FIX]  # 0, 25, 50 s; free after 60 s
    assert (held := lease.held()) is not None and held.purpose == "nmops serve"


def test_acquire_gives_up_after_waiting(store: Store) -> None:
    Lease(store, purpose=FIX).acquire()
    seen: list[Holder] = []
    with pytest.raises(LeaseHeld, match=FIX):
        Lease(store, purpose="x").acquire(wait=0.05, poll=0.01, on_wait=seen.append)
    assert seen and seen[0].purpose == FIX


def test_keep_alive_renews_until_cancelled(store: Store, clock: base.FakeClock) -> None:
    lease = Lease(store, purpose=FIX, ttl=60)
    lease.acquire()

    async def main() -> None:
        renewing = asyncio.create_task(keep_alive(lease, interval=0.001))
        clock.advance(45)
        for _ in range(5_000):
            await asyncio.sleep(0.001)
            held = lease.held()
            if held is not None and held.expires_at == clock.now + timedelta(seconds=60):
                break
        else:
            pytest.fail("keep_alive did not renew the lease")
        renewing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await renewing

    asyncio.run(main())


def test_keep_alive_fails_when_the_lease_is_lost(store: Store, clock: base.FakeClock) -> None:
    lease = Lease(store, purpose=FIX, ttl=60)
    lease.acquire()
    clock.advance(61)
    Lease(store, purpose="nmops serve").acquire()

    async def main() -> None:
        await keep_alive(lease, interval=0.001)

    with pytest.raises(LeaseLost, match="nmops serve"):
        asyncio.run(main())


# --- processes racing ------------------------------------------------------------------------


def _contender(url: str, name: str, ready: Any, go: Any, done: Any, results: Any) -> None:
    """In a child process: take the lease when told; a winner keeps it until told to exit,
    then exits without releasing it (as a crash would)."""
    store = Store.open(url)
    lease = Lease(store, purpose=name, ttl=60)
    ready.put(name)
    go.wait()
    try:
        lease.acquire()
    except LeaseHeld as exc:
        results.put(("held", name, exc.holder.purpose, exc.holder.pid, str(exc)))
        return
    results.put(("won", name, name, os.getpid(), ""))
    done.wait(60)
    store.close()


def test_processes_racing_for_the_lease_exactly_one_wins(
    state_url: str, store: Store, clock: base.FakeClock
) -> None:
    spawn = multiprocessing.get_context("spawn")
    ready, results = spawn.Queue(), spawn.Queue()
    go, done = spawn.Event(), spawn.Event()
    names = [f"contender-{i}" for i in range(4)]
    children = [
        spawn.Process(target=_contender, args=(state_url, name, ready, go, done, results))
        for name in names
    ]
    for child in children:
        child.start()
    try:
        for _ in children:
            ready.get(timeout=60)
        go.set()
        outcomes = [results.get(timeout=60) for _ in children]
        winners = [o for o in outcomes if o[0] == "won"]
        assert len(winners) == 1, outcomes
        _, winner, _, winner_pid, _ = winners[0]
        for kind, _name, purpose, pid, message in outcomes:
            if kind == "held":
                assert (purpose, pid) == (winner, winner_pid)
                assert f"held by {winner} on " in message and f"(pid {winner_pid})" in message
        # This process, later: held by the winner until the winner's lease expires.
        clock.now = utc_now()
        late = Lease(store, purpose="late")
        with pytest.raises(LeaseHeld, match=f"{winner} .*pid {winner_pid}"):
            late.acquire()
    finally:
        done.set()
        for child in children:
            child.join(60)
    assert [child.exitcode for child in children] == [0, 0, 0, 0]
    # Gone without releasing, on this host: its process is dead, so no wait for the expiry.
    late.acquire()
    assert (held := late.held()) is not None and held.purpose == "late"


def test_a_dead_holder_on_this_host_is_taken_over_at_once(store: Store) -> None:
    """Killed (SIGKILL, a crash): its process is gone, so its lease need not run out first."""
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    dead = Lease(store, purpose="nmops fix --apply", ttl=3600)
    dead.pid = int(child.stdout)  # a pid that no longer runs
    dead.acquire()
    mine = Lease(store, purpose="nmops check", ttl=3600)
    mine.acquire(wait=0)
    holder = mine.held()
    assert holder is not None and holder.holder == mine.holder


def test_a_holder_on_another_host_is_waited_for_until_it_expires(
    store: Store, clock: base.FakeClock
) -> None:
    other = Lease(store, purpose="nmops serve", ttl=60)
    other.host, other.pid = "elsewhere", 1  # a pid that is alive here means nothing there
    other.acquire()
    mine = Lease(store, purpose="nmops fix --apply", ttl=60)
    with pytest.raises(LeaseHeld, match="elsewhere"):
        mine.acquire()
    clock.advance(61)
    mine.acquire()
