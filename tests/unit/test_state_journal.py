"""The journal: write ahead, then act; no secrets; a killed process leaves its step on disk."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from nmops.ix.lines import Edit
from nmops.state import (
    JournalSecretError,
    StateError,
    Store,
    add_action,
    begin_step,
    finish,
    mark_sending,
    mark_sent,
    mark_undoing,
    start_run,
    unfinished,
)
from nmops.state.journal import get_entry
from tests.unit import test_state_store as base

# Shared fixtures (see test_state_store).
state_url = base.state_url
clock = base.clock
store = base.store

ROUTER = "ix2215-tokyo"
TUNNEL = ("interface Tunnel1.0",)
EDITS = [Edit(TUNNEL, "shutdown"), Edit(TUNNEL, "no shutdown")]
UNDO = [(list(TUNNEL), "no shutdown")]
PSK = "ikev2 authentication psk id keyid ix2215-tokyo key char ix2215-tokyo-psk"


def _step(store: Store, router: str = ROUTER) -> int:
    return begin_step(store, router=router, action_id=None, edits=EDITS, undo=UNDO, holder="h-1")


def test_a_step_goes_from_pending_to_done(store: Store, clock: base.FakeClock) -> None:
    run_id = start_run(store, "fix", 1)
    action = add_action(
        store,
        run_id=run_id,
        router=ROUTER,
        problem="tunnel:down",
        rung="tunnel-bounce",
        commands=[str(e) for e in EDITS],
        why="Tunnel1.0 is down",
    )
    entry_id = begin_step(
        store, router=ROUTER, action_id=action, edits=EDITS, undo=UNDO, holder="h-1"
    )
    [entry] = unfinished(store)
    assert (entry.id, entry.action_id, entry.router, entry.state, entry.holder) == (
        entry_id,
        action,
        ROUTER,
        "pending",
        "h-1",
    )
    assert entry.edits == ((TUNNEL, "shutdown"), (TUNNEL, "no shutdown"))
    assert entry.undo == ((TUNNEL, "no shutdown"),)
    assert [Edit(*e) for e in entry.edits] == EDITS
    assert (entry.sent, entry.in_flight, entry.created_at) == (0, False, clock.now)
    for index in range(2):
        clock.advance(1)
        mark_sending(store, entry_id, index)
        sending = get_entry(store, entry_id)
        assert (sending.state, sending.sent, sending.in_flight) == ("sending", index, True)
        assert sending.updated_at == clock.now
        mark_sent(store, entry_id, index)
        sent = get_entry(store, entry_id)
        assert (sent.sent, sent.in_flight) == (index + 1, False)
    finish(store, entry_id, "done", "2 edits sent")
    assert unfinished(store) == []
    done = get_entry(store, entry_id)
    assert (done.state, done.note) == ("done", "2 edits sent")


def test_marks_out_of_order_are_refused(store: Store) -> None:
    entry_id = _step(store)
    with pytest.raises(StateError, match="cannot mark edit 0 as sent while it is pending"):
        mark_sent(store, entry_id, 0)
    with pytest.raises(StateError, match=r"cannot mark edit 1 as sending .* 0 of 2 edits sent"):
        mark_sending(store, entry_id, 1)
    mark_sending(store, entry_id, 0)
    mark_sending(store, entry_id, 0)  # written again (e.g. after a reconnect): still edit 0
    mark_sent(store, entry_id, 0)
    with pytest.raises(StateError, match="cannot mark edit 0 as sent"):
        mark_sent(store, entry_id, 0)
    mark_sending(store, entry_id, 1)
    mark_sent(store, entry_id, 1)
    with pytest.raises(StateError, match="has no edit 2"):
        mark_sending(store, entry_id, 2)
    with pytest.raises(StateError, match="no journal entry 999"):
        mark_sending(store, 999, 0)
    with pytest.raises(ValueError, match="unknown final journal state 'sending'"):
        finish(store, entry_id, "sending")


def test_an_undo_in_progress_is_unfinished(store: Store) -> None:
    first, other = _step(store), _step(store, "ix2215-kagawa")
    mark_sending(store, first, 0)
    mark_undoing(store, first, "session lost after edit 0")
    assert [(e.id, e.state, e.in_flight) for e in unfinished(store, ROUTER)] == [
        (first, "undoing", True)
    ]
    assert [e.id for e in unfinished(store)] == [first, other]
    finish(store, first, "undone")
    entry = get_entry(store, first)
    assert (entry.state, entry.in_flight, entry.note) == (
        "undone",
        False,
        "session lost after edit 0",
    )
    with pytest.raises(StateError, match="cannot undo it while it is undone"):
        mark_undoing(store, first)
    finish(store, other, "failed", "router refused edit 0")
    assert unfinished(store) == []


@pytest.mark.parametrize(
    ("edits", "undo"),
    [
        ([Edit(("ikev2 profile tokyo",), PSK)], []),
        ([Edit(TUNNEL, "shutdown")], [((), "nm account fetburner password plain pw-1")]),
        ([(("snmp-server community s3cret",), "exit")], []),
    ],
    ids=["edit", "undo", "context"],
)
def test_a_line_carrying_a_secret_is_refused(
    store: Store, edits: list[Edit], undo: list[Edit]
) -> None:
    with pytest.raises(JournalSecretError, match="carries a secret") as raised:
        begin_step(store, router=ROUTER, action_id=None, edits=edits, undo=undo, holder="h")
    message = str(raised.value)
    assert "ix2215-tokyo-psk" not in message and "pw-1" not in message
    assert "s3cret" not in message and "****" in message
    assert unfinished(store) == []


def test_a_context_given_as_one_string_is_refused(store: Store) -> None:
    with pytest.raises(TypeError, match="tuple of headers"):
        begin_step(
            store,
            router=ROUTER,
            action_id=None,
            edits=[("interface Tunnel1.0", "shutdown")],
            undo=[],
            holder="h",
        )


def _send_and_die(url: str) -> None:
    """In a child process: journal a step, mark its first edit in flight, then be killed."""
    store = Store.open(url)
    entry_id = begin_step(
        store, router=ROUTER, action_id=None, edits=EDITS, undo=UNDO, holder="dying"
    )
    mark_sending(store, entry_id, 0)
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_process_killed_mid_edit_leaves_the_step_on_disk(state_url: str, store: Store) -> None:
    child = multiprocessing.get_context("spawn").Process(target=_send_and_die, args=(state_url,))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    [entry] = unfinished(store)
    assert (entry.holder, entry.state, entry.sent, entry.in_flight) == ("dying", "sending", 0, True)
    assert entry.undo == ((TUNNEL, "no shutdown"),)


def test_touched_and_earlier_paths_round_trip_and_refuse_secrets(store: Store) -> None:
    touched = {(*TUNNEL, "shutdown"), (*TUNNEL, "no shutdown")}
    before = {TUNNEL, (*TUNNEL, "no shutdown")}
    entry_id = begin_step(
        store,
        router=ROUTER,
        action_id=None,
        edits=EDITS,
        undo=UNDO,
        holder="h",
        touched=touched,
        before=before,
    )
    entry = get_entry(store, entry_id)
    assert entry.touched == frozenset(touched)
    assert entry.before == frozenset(before)
    with pytest.raises(JournalSecretError):
        begin_step(
            store, router=ROUTER, action_id=None, edits=EDITS, undo=UNDO, holder="h",
            touched=[(PSK,)],
        )  # fmt: skip
