"""The pure incident core with a frozen clock (no database), and link paths from IKE SAs."""

from __future__ import annotations

import dataclasses
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from nmops.check import RouterReport
from nmops.incidents.core import Incident, Outcome, Rules, Seen, advance
from nmops.ix.observed import RouterFacts
from nmops.ix.parsers import IkeSa
from nmops.ix.routerconfig import Tunnel
from nmops.linkpaths import peer_key, router_samples

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
RULES = Rules(
    confirm_after=2,
    resolve_after=2,
    remind_every=timedelta(hours=6),
    flips=4,
    window=timedelta(hours=1),
)


def seen(status: str = "missing", flips: int = 0) -> Seen:
    detail = None if status == "ok" else "NODATA"
    return Seen("r1", "name:ipv6", status, detail, NOW - timedelta(minutes=5), flips, None)


def incident(**changes: object) -> Incident:
    base = Incident(
        id=7, router="r1", subject="name:ipv6", kind="problem", status="missing",
        detail="NODATA", opened_at=NOW - timedelta(hours=1), since_at=NOW - timedelta(hours=1),
        resolved_at=None, bad_count=3, good_count=0, flaps=0,
        told_at=NOW - timedelta(hours=1), notified_at=NOW - timedelta(hours=1),
        silenced=False, last_run=1,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def run(s: Seen, inc: Incident | None, *, quiet: bool = False, run_id: int = 2) -> Outcome:
    return advance(
        [s], [inc] if inc else [], RULES, run_id=run_id, now=NOW, silenced=lambda _: quiet
    )


def told(out: Outcome) -> list[tuple[str, bool]]:
    return [(e.kind, e.silenced) for _, e in out.events]


@pytest.mark.parametrize(
    ("s", "inc", "quiet", "events", "after"),
    [
        # A first bad check: pending, nothing told.
        (seen(), None, False, [], {"opened_at": None, "bad_count": 1}),
        # The second: opened.
        (seen(), incident(opened_at=None, bad_count=1), False, [("open", False)],
         {"opened_at": NOW, "told_at": NOW, "notified_at": NOW}),
        # Opened in a silence: told silenced, not marked as mailed.
        (seen(), incident(opened_at=None, bad_count=1, told_at=None, notified_at=None), True,
         [("open", True)], {"notified_at": None, "silenced": True}),
        # The silence is over, still wrong: told now.
        (seen(), incident(notified_at=None, silenced=True), False, [("open", False)],
         {"notified_at": NOW}),
        # Open, bad, told 6 h ago: a reminder.
        (seen(), incident(told_at=NOW - timedelta(hours=6)), False, [("remind", False)],
         {"told_at": NOW}),
        # Open, bad, told 5 h 59 min ago: nothing yet.
        (seen(), incident(told_at=NOW - timedelta(hours=5, minutes=59)), False, [], {}),
        # Open, good but not yet resolve_after times, reminder due: no reminder (not wrong).
        (seen("ok"), incident(told_at=NOW - timedelta(hours=7)), False, [], {"good_count": 1}),
        # The second good check: resolved.
        (seen("ok"), incident(good_count=1), False, [("resolve", False)], {"resolved_at": NOW}),
        # Never mailed (opened and over in a silence): resolved silently.
        (seen("ok"), incident(good_count=1, notified_at=None), False, [("resolve", True)], {}),
        # Flipping more than 4 times an hour: one flapping notice, the incident turns flapping.
        (seen(flips=5), incident(), False, [("flapping", False)], {"kind": "flapping"}),
        # Already flapping, still flipping: nothing more.
        (seen(flips=8), incident(kind="flapping"), False, [], {"flaps": 8}),
        # Flapping, good twice but flipped within the window: still open.
        (seen("ok", flips=1), incident(kind="flapping", good_count=1), False, [], {}),
        # Flapping, good twice and calm for a window: resolved.
        (seen("ok", flips=0), incident(kind="flapping", good_count=1), False,
         [("resolve", False)], {"resolved_at": NOW}),
    ],
)  # fmt: skip
def test_rules(
    s: Seen,
    inc: Incident | None,
    quiet: bool,
    events: list[tuple[str, bool]],
    after: dict[str, object],
) -> None:
    out = run(s, inc, quiet=quiet)
    assert told(out) == events
    if not after:
        return
    [written] = out.write
    for key, value in after.items():
        assert getattr(written, key) == value, key
    assert written.last_run == 2


def test_a_good_check_drops_a_pending_incident() -> None:
    out = run(seen("ok"), incident(opened_at=None, bad_count=1))
    assert out.drop == [7] and out.write == [] and out.events == []


def test_a_run_already_applied_changes_nothing() -> None:
    out = run(seen(), incident(told_at=NOW - timedelta(hours=9)), run_id=1)
    assert out.write == [] and out.events == []


def test_flapping_caught_on_a_good_check_opens_at_once() -> None:
    first = NOW - timedelta(minutes=50)
    s = dataclasses.replace(seen("ok", flips=5), first_flip_at=first)
    out = run(s, None)
    [written] = out.write
    assert (written.kind, written.opened_at, written.since_at) == ("flapping", NOW, first)
    [(_, event)] = out.events
    assert event.kind == "flapping" and event.status == "flapping"
    assert event.detail == "5 flips within 1 h; now ok"


V6 = "kagawa.fetburner.v6.nmddns.jp"
V4 = "kagawa.fetburner.nmddns.jp"


def sa_on(tunnel: str, remote: str, state: str = "established") -> IkeSa:
    return IkeSa(tunnel, ipaddress.ip_address("192.0.2.1"), 500,
                 ipaddress.ip_address(remote), 500, state)  # fmt: skip


def facts(*ike: IkeSa, reachable: bool = True) -> RouterReport:
    tunnels = (
        Tunnel("Tunnel1.0", "ipv6", V6, None, "GigaEthernet2.0", True),
        Tunnel("Tunnel2.0", "ipv4", V4, None, "GigaEthernet0.1", True),
    )
    return RouterReport(
        "ix2215-tokyo", (), facts=RouterFacts("ix2215-tokyo", reachable, tunnels=tunnels, ike=ike)
    )


@pytest.mark.parametrize(
    ("ike", "path"),
    [
        ((sa_on("Tunnel1.0", "2001:db8::2"), sa_on("Tunnel2.0", "198.51.100.2")), "ipv6"),
        ((sa_on("Tunnel2.0", "198.51.100.2"),), "ipv4"),
        ((sa_on("Tunnel1.0", "2001:db8::2", "connecting"),), "down"),
        ((), "down"),
    ],
)
def test_link_path_from_ike_sas(ike: tuple[IkeSa, ...], path: str) -> None:
    [sample] = router_samples(facts(*ike))
    assert (sample.peer, sample.path) == (V4, path)


def test_no_path_from_a_router_not_read() -> None:
    assert router_samples(facts(reachable=False)) == []
    assert peer_key(V6) == V4 and peer_key(V4) == V4
