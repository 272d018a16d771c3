"""The IX driver (nmops.ix.session) against the lab's simulated routers over real SSH.

Each test starts its own two-router lab on a background thread; the driver runs in the test
thread with ``asyncio.run``. What the router received is read back from its command log.
Where a real router can misbehave in ways the simulator does not stage (output that trickles
forever, a line that looks like another host's prompt), a scripted SSH server stands in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from nmops.errors import RouterError
from nmops.ix import lines
from nmops.ix.dialect import Mode, ReadCommand, UnsafeArgument, read_command
from nmops.ix.hostkeys import ChangedHostKey, KnownHosts, UnknownHostKey
from nmops.ix.lines import Edit
from nmops.ix.session import (
    ChangeSession,
    CommandTimeout,
    ConfigLocked,
    ReadSession,
    SessionLost,
    Target,
    wait_for_return,
)
from nmops.lab.ixsim import Timings, golden_config
from tests.integration.labutil import KAGAWA, TOKYO, LabThread, config_body

pytestmark = pytest.mark.lab

# A config line longer than 80 columns that the simulator accepts (no secret in it).
LONG_LINE = (
    "ip access-list nmops-wrap-test-with-a-rather-long-name permit ip "
    "src 192.0.2.0/24 dest 198.51.100.0/24"
)
EXTRA_LINE = "ip access-list nmops-test permit ip src 192.0.2.0/24 dest any"
EXTRA = Edit((), EXTRA_LINE)
SHOW_VERSION = read_command("show_version")
SHOW_RUNNING = read_command("show_running")
SHOW_CONFIG = read_command("show_startup")


def run(coro: Coroutine[Any, Any, Any], timeout: float = 20) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def lab(tmp_path: Path) -> Any:
    with LabThread(tmp_path / "lab") as running:
        yield running


async def open_read(lab: LabThread, name: str = KAGAWA, **options: Any) -> ReadSession:
    options.setdefault("command_timeout", 5)
    return await ReadSession.open(lab.target(name), lab.known_hosts(), **options)


async def open_change(lab: LabThread, name: str = KAGAWA, **options: Any) -> ChangeSession:
    options.setdefault("command_timeout", 5)
    return await ChangeSession.open(lab.target(name), lab.known_hosts(), **options)


def mode(session: ReadSession) -> Mode | None:
    """The session's mode, read afresh (it changes with every prompt)."""
    return session.mode


def running_text(lab: LabThread, name: str = KAGAWA) -> str:
    return lines.render(lab.router(name).running)


class RecordingReader:
    """Wraps a session's SSH reader to keep everything the router sent, unprocessed."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self.raw = ""

    async def read(self, n: int = -1) -> str:
        data: str = await self._reader.read(n)
        self.raw += data
        return data


# --- login and modes -------------------------------------------------------------------------


def test_login_modes_and_sub_modes(lab: LabThread) -> None:
    async def go() -> None:
        session = await open_change(lab)
        assert mode(session) is Mode.OPERATION
        assert session.hostname == KAGAWA
        await session.enter_config()
        assert mode(session) is Mode.CONFIG
        result = await session.apply(
            [Edit(("interface GigaEthernet2.0",), "description nmops-test")]
        )
        assert result.ok, result
        assert result.applied == (Edit(("interface GigaEthernet2.0",), "description nmops-test"),)
        assert mode(session) is Mode.CONFIG_SUB
        # show runs at the top of config mode: the driver leaves the block first.
        version = await session.show(SHOW_VERSION)
        assert mode(session) is Mode.CONFIG
        assert "IX Series IX2215" in version
        await session.close()

    run(go())
    log = lab.log(KAGAWA)
    (number,) = log.sessions
    assert log.lines_of(number) == [
        "enable-config",
        "terminal length 0",
        "terminal width 512",
        "interface GigaEthernet2.0",
        "description nmops-test",
        "configure",
        "show version",
        "exit",  # close() leaves config mode so the next session is not locked out
    ]
    prompts = [e.prompt for e in log.entries if not e.event]
    assert prompts[0] == f"{KAGAWA}# "
    assert prompts[4] == f"{KAGAWA}(config-GigaEthernet2.0)# "
    assert prompts[5] == f"{KAGAWA}(config-GigaEthernet2.0)# "
    assert prompts[6] == f"{KAGAWA}(config)# "
    assert "  description nmops-test" in running_text(lab)


def test_apply_walks_between_blocks(lab: LabThread) -> None:
    edits = [
        Edit(("interface Tunnel1.0",), "description a"),
        Edit(("interface Tunnel1.0",), "ip ospf cost 5"),
        Edit(("interface Tunnel2.0",), "description b"),
        Edit((), EXTRA_LINE),
        Edit(("ip router ospf 1",), "network Tunnel9.0 area 0"),
    ]

    async def go() -> Any:
        async with await open_change(lab) as session:
            return await session.apply(edits)

    assert run(go()).ok
    assert lab.log(KAGAWA).lines[3:] == [
        "interface Tunnel1.0",
        "description a",
        "ip ospf cost 5",
        "configure",
        "interface Tunnel2.0",
        "description b",
        "configure",
        EXTRA_LINE,
        "ip router ospf 1",
        "network Tunnel9.0 area 0",
        "configure",  # close(): out of the block, out of config mode
        "exit",
    ]
    config = lab.router(KAGAWA).running
    assert ("interface Tunnel1.0", "ip ospf cost 5") in config.paths
    assert ("interface Tunnel2.0", "description b") in config.paths
    assert ("ip router ospf 1", "network Tunnel9.0 area 0") in config.paths


def test_wrong_password_is_a_router_error(lab: LabThread) -> None:
    target = lab.target(KAGAWA)
    bad = type(target)(target.router, target.host, target.port, target.username, "wrong")
    with pytest.raises(RouterError, match="login refused for nmops"):
        run(ReadSession.open(bad, lab.known_hosts(), connect_timeout=5))
    assert lab.log(KAGAWA).logins == 0


# --- paging and wrapping ---------------------------------------------------------------------


def test_paging_before_terminal_length_0_is_reassembled(lab: LabThread) -> None:
    async def go() -> tuple[str, str]:
        async with await open_read(lab) as session:
            recorder = RecordingReader(session._stdout)
            session._stdout = recorder  # type: ignore[assignment]
            # Config mode by hand, so `terminal length 0` has not been sent yet.
            await session.send(read_command("enter_config"))
            output = await session.send(SHOW_RUNNING)
            return output, recorder.raw

    output, raw = run(go())
    assert raw.count("--More--") >= 5  # 150 lines at 24 a page: the pager really ran
    assert "--More--" not in output
    assert "\x08" not in output
    assert config_body(output) == golden_config(KAGAWA).splitlines()
    assert "terminal length 0" not in lab.log(KAGAWA).lines


def test_show_after_enter_config_is_not_paged(lab: LabThread) -> None:
    async def go() -> tuple[str, str]:
        async with await open_read(lab) as session:
            await session.enter_config()
            recorder = RecordingReader(session._stdout)
            session._stdout = recorder  # type: ignore[assignment]
            output = await session.show(SHOW_RUNNING)
            return output, recorder.raw

    output, raw = run(go())
    assert "--More--" not in raw
    assert config_body(output) == golden_config(KAGAWA).splitlines()


def test_long_line_echo_wrapped_at_80_columns(lab: LabThread) -> None:
    async def go() -> tuple[str, str, Any]:
        async with await open_change(lab) as session:
            await session.send(read_command("enter_config"))  # `terminal width` not sent yet
            recorder = RecordingReader(session._stdout)
            session._stdout = recorder  # type: ignore[assignment]
            output = await session._exchange(LONG_LINE)
            result = await session.apply([EXTRA])
            return output, recorder.raw, result

    output, raw, result = run(go())
    prompt = f"{KAGAWA}(config)# "
    first = 80 - len(prompt)
    assert LONG_LINE[:first] + "\r\n" + LONG_LINE[first:] in raw  # the echo really wrapped
    assert output == ""  # ... and the driver took the whole wrapped echo off
    assert result.ok
    log = lab.log(KAGAWA)
    assert LONG_LINE in log.lines
    running = running_text(lab).splitlines()
    assert LONG_LINE in running
    assert EXTRA_LINE in running


# --- applying --------------------------------------------------------------------------------


def test_apply_stops_at_the_first_rejected_line(lab: LabThread) -> None:
    edits = [
        EXTRA,
        Edit((), "ip frobnicate 1 2 3"),
        Edit((), "ip access-list never-sent permit ip src any dest any"),
    ]

    async def go() -> Any:
        async with await open_change(lab) as session:
            return await session.apply(edits)

    result = run(go())
    assert not result.ok
    assert result.applied == (EXTRA,)
    assert result.failed == Edit((), "ip frobnicate 1 2 3")
    assert result.error == "% frobnicate -- Invalid command."
    received = lab.log(KAGAWA).lines
    assert EXTRA_LINE in received
    assert "ip frobnicate 1 2 3" in received
    assert not any("never-sent" in line for line in received)
    assert "never-sent" not in running_text(lab)


def test_rejected_secret_is_masked_in_the_error(lab: LabThread) -> None:
    bad = Edit((), "nm account fetburner password plain s3cr3t-value trailing")

    async def go() -> Any:
        async with await open_change(lab) as session:
            return await session.apply([bad])

    result = run(go())
    assert not result.ok
    assert result.error is not None
    assert "s3cr3t-value" not in result.error


@pytest.mark.parametrize(
    "bad",
    [
        Edit((), "description x\nwrite memory"),
        Edit((), "description x\rwrite memory"),
        Edit((), "description x\twrite"),
        Edit((), "description show version\x08\x08\x08\x08write memory"),
        Edit((), "description x\x15write memory"),  # Ctrl-U
        Edit((), "description x\x1a"),  # Ctrl-Z
        Edit((), "description x\x03"),  # Ctrl-C
        Edit((), "description why?"),
        Edit(("interface Tunnel1.0\nwrite memory",), "shutdown"),
    ],
    ids=repr,
)
def test_unsafe_lines_are_refused_before_anything_is_sent(lab: LabThread, bad: Edit) -> None:
    async def go() -> None:
        async with await open_change(lab) as session:
            with pytest.raises(UnsafeArgument):
                await session.apply([EXTRA, bad])

    run(go())
    received = lab.log(KAGAWA).lines
    assert received == []  # not even the valid first line, nor config mode
    assert not lab.router(KAGAWA).unsaved


# --- the read-only type ----------------------------------------------------------------------


def test_read_only_session_has_no_change_methods(lab: LabThread) -> None:
    async def go() -> None:
        async with await open_read(lab) as session:
            for name in ("apply", "save", "reload"):
                assert not hasattr(session, name), name
            with pytest.raises(TypeError):
                await session.enter_config(takeover=True)  # type: ignore[call-arg]
            assert type(session) is ReadSession
            assert not isinstance(session, ChangeSession)

    run(go())


# Every control character, DEL and `?`, at the start, middle and end of a show command.
CONTROLS = [chr(c) for c in range(0x20)] + ["\x7f", "?"]


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_read_only_session_sends_only_dialect_commands(lab: LabThread, where: str) -> None:
    def place(char: str, text: str) -> str:
        cut = len(text) // 2
        return {"start": char + text, "middle": text[:cut] + char + text[cut:], "end": text + char}[
            where
        ]

    forged = [ReadCommand(place(c, "show version")) for c in CONTROLS]
    forged += [
        ReadCommand("show version\x08" * 12 + "write memory"),
        ReadCommand("write memory"),
        ReadCommand("svintr-config"),
        ReadCommand("reload"),
        ReadCommand("show running-config extra"),
        ReadCommand(EXTRA_LINE),
    ]

    async def go() -> None:
        async with await open_read(lab) as session:
            await session.show(SHOW_VERSION)
            for command in forged:
                with pytest.raises(UnsafeArgument):
                    await session.send(command)
                with pytest.raises(UnsafeArgument):
                    await session.show(command)
            for char in CONTROLS:
                with pytest.raises(UnsafeArgument):
                    read_command("show_ip_interface", ifname=place(char, "GigaEthernet0.1"))
            with pytest.raises(UnsafeArgument):
                await session.send("show version")  # type: ignore[arg-type]
            assert mode(session) is Mode.CONFIG

    run(go())
    assert lab.log(KAGAWA).lines == [
        "enable-config",
        "terminal length 0",
        "terminal width 512",
        "show version",
        "exit",
    ]
    assert not lab.router(KAGAWA).unsaved


def test_read_only_session_never_takes_config_mode_over(lab: LabThread) -> None:
    lab.fault(KAGAWA, "config-locked")

    async def go() -> None:
        async with await open_read(lab) as session:
            with pytest.raises(ConfigLocked, match="never takes it over"):
                await session.enter_config(attempts=2)
            with pytest.raises(ConfigLocked):
                await session.show(SHOW_VERSION)

    run(go())
    assert "svintr-config" not in lab.log(KAGAWA).lines
    assert "config-locked" in lab.router(KAGAWA).faults


# --- config lock -----------------------------------------------------------------------------


def test_config_locked_by_another_session(lab: LabThread, caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        holder = await open_change(lab)
        await holder.enter_config()
        other = await open_change(lab)
        started = time.monotonic()
        with pytest.raises(ConfigLocked, match="svintr-config") as caught:
            await other.enter_config(attempts=3)
        assert time.monotonic() - started >= 0.5  # it waited between attempts
        assert "occupied" in str(caught.value)
        assert mode(other) is Mode.OPERATION
        # Asked to, it takes config mode over; the holder is back in operation mode.
        await other.enter_config(takeover=True, attempts=1)
        assert mode(other) is Mode.CONFIG
        assert "IX2215" in await other.show(SHOW_VERSION)
        await holder.send(read_command("top_config"))  # the router answers in operation mode
        assert mode(holder) is Mode.OPERATION
        await other.close()
        await holder.close()

    with caplog.at_level(logging.WARNING, logger="nmops"):
        run(go())
    log = lab.log(KAGAWA)
    holder_no, other_no = log.sessions
    other_lines = log.lines_of(other_no)
    # Three attempts and no takeover; then one more attempt before taking over.
    assert other_lines[:5] == [*["enable-config"] * 4, "svintr-config"]
    assert other_lines.count("svintr-config") == 1
    assert "svintr-config" not in log.lines_of(holder_no)
    # The log line says which router (the adapter's name reaches the message).
    assert f"{KAGAWA}: taking config mode over with svintr-config" in caplog.messages


def test_show_after_being_taken_over_reenters_config_mode(lab: LabThread) -> None:
    """Another admin ran `svintr-config` and has left again: the router moved this session
    back to operation mode without a word, so its next `show` must re-enter config mode, not
    fail with `Invalid command` (config-mode-only shows are invalid in operation mode)."""

    async def go() -> str:
        reader = await open_read(lab)
        await reader.enter_config()
        other = await open_change(lab)
        await other.enter_config(takeover=True, attempts=1)
        await other.close()  # config mode is free again
        output = await reader.show(SHOW_RUNNING)
        await reader.close()
        return output

    output = run(go())
    assert config_body(output) == golden_config(KAGAWA).splitlines()


def test_apply_stops_when_config_mode_is_taken_over(tmp_path: Path) -> None:
    """Someone runs `svintr-config` between two lines: apply stops saying so, instead of
    blaming the next line (which the router, now in operation mode, rejects)."""
    slow = Timings(ddns_delay=0.15, reload_delay=0.4, slow_delay=0.4)
    with LabThread(tmp_path / "lab", timings=slow) as lab:
        edits = [Edit(("interface Tunnel1.0",), f"description step-{i}") for i in range(6)]

        async def go() -> Any:
            session = await open_change(lab)
            await session.enter_config()
            await lab.acall(lambda: lab.router(KAGAWA).fault("slow"))
            applying = asyncio.ensure_future(session.apply(edits))
            deadline = time.monotonic() + 10
            while "description step-1" not in lab.log(KAGAWA).lines:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            other = await open_change(lab, command_timeout=10)
            await other.enter_config(takeover=True, attempts=1)
            result = await applying
            await other.close()
            await session.close()
            return result

        result = run(go(), timeout=40)
        assert result.taken_over
        assert not result.ok
        assert "taken over" in (result.error or "")
        assert result.applied and len(result.applied) < len(edits)
        assert result.failed == edits[len(result.applied)]
        sent = [line for line in lab.log(KAGAWA).lines if line.startswith("description step-")]
        assert len(sent) <= len(result.applied) + 1  # nothing typed after the takeover was seen


def test_config_locked_fault_with_takeover(lab: LabThread) -> None:
    lab.fault(KAGAWA, "config-locked")

    async def go() -> None:
        async with await open_change(lab) as session:
            with pytest.raises(ConfigLocked):
                await session.enter_config(attempts=2)
            await session.enter_config(attempts=1, takeover=True)
            assert mode(session) is Mode.CONFIG

    run(go())
    assert "config-locked" not in lab.router(KAGAWA).faults  # svintr-config took it over
    log = lab.log(KAGAWA)
    (first,) = log.sessions
    assert log.lines_of(first)[:4] == [
        "enable-config",
        "enable-config",
        "enable-config",
        "svintr-config",
    ]


# --- saving and reloading --------------------------------------------------------------------


def test_save_makes_startup_equal_running(lab: LabThread) -> None:
    async def go() -> tuple[bool, bool, str]:
        async with await open_change(lab) as session:
            result = await session.apply([EXTRA])
            assert result.ok
            before = lines.saved(await session.show(SHOW_RUNNING), await session.show(SHOW_CONFIG))
            await session.save()
            running = await session.show(SHOW_RUNNING)
            after = lines.saved(running, await session.show(SHOW_CONFIG))
            return before, after, running

    before, after, running = run(go())
    assert before is False
    assert after is True
    assert EXTRA_LINE in config_body(running)
    router = lab.router(KAGAWA)
    assert router.startup.same_as(router.running)
    assert "write memory" in lab.log(KAGAWA).lines


def test_reload_refuses_when_unsaved_and_says_no(lab: LabThread) -> None:
    async def go() -> None:
        async with await open_change(lab) as session:
            assert (await session.apply([EXTRA])).ok
            with pytest.raises(RouterError, match="not saved"):
                await session.reload()
            # Still logged in: the router was told No and stayed up.
            assert "hostname" in await session.show(SHOW_RUNNING)

    run(go())
    log = lab.log(KAGAWA)
    first = log.sessions[0]
    assert "reload" in log.lines_of(first)
    assert "no" in log.lines_of(first)
    assert "yes" not in log.lines_of(first)
    assert "dropped" not in log.events(first)


def test_forced_reload_and_return_drops_unsaved_lines(lab: LabThread) -> None:
    transcript = lab.directory / "driver-transcript.log"

    async def go() -> Any:
        target, hosts = lab.target(KAGAWA), lab.known_hosts()
        async with await open_change(lab, transcript=transcript) as session:
            assert (await session.apply([EXTRA])).ok
            ticket = await session.reload(force=True)
            assert mode(session) is None
            assert not session.usable
        version = await wait_for_return(target, hosts, ticket, timeout=10, interval=0.1)
        async with await open_read(lab) as session:
            running = await session.show(SHOW_RUNNING)
        return ticket, version, running

    ticket, version, running = run(go())
    assert version.reload_cause == "command execution"
    assert version.started is not None and ticket.before.started is not None
    assert version.started > ticket.before.started
    assert version.model == "IX2215"
    assert EXTRA_LINE not in config_body(running)
    assert config_body(running) == golden_config(KAGAWA).splitlines()
    log = lab.log(KAGAWA)
    first = log.sessions[0]
    assert log.lines_of(first)[-2:] == ["reload", "yes"]
    assert "write memory" not in log.lines
    assert "dropped" in log.events(first)
    assert lab.router(KAGAWA).reloads == 1
    # The `yes` that did it is on nmops's record too.
    recorded = [line.split(" ", 1)[1] for line in transcript.read_text().splitlines()]
    assert recorded[-1] == "> yes" or "> yes" in recorded


def test_reload_when_the_router_lingers_after_yes(tmp_path: Path) -> None:
    """After `yes` the router keeps the connection open a while, and a login then still
    reaches the old system: reload() is a success all the same, and wait_for_return accepts
    the router only once it has really restarted."""
    lingering = Timings(ddns_delay=0.15, reload_delay=0.4, slow_delay=0.2, reload_linger=3.0)
    with LabThread(tmp_path / "lab", timings=lingering) as lab:

        async def go() -> Any:
            async with await open_change(lab) as session:
                started = time.monotonic()
                ticket = await session.reload()
                assert time.monotonic() - started < 2.5  # did not wait for a prompt
            # Still up: this login sees the old system, which wait_for_return must not take.
            async with await open_read(lab) as early:
                old = await early.version()
            assert old.started == ticket.before.started
            return await wait_for_return(
                lab.target(KAGAWA), lab.known_hosts(), ticket, timeout=15, interval=0.2
            ), ticket

        version, ticket = run(go(), timeout=40)
        assert version.started is not None and ticket.before.started is not None
        assert version.started > ticket.before.started
        assert lab.router(KAGAWA).reloads == 1


def test_wait_for_return_gives_up_when_the_reload_hangs(lab: LabThread) -> None:
    lab.fault(KAGAWA, "reload-hangs")

    async def go() -> None:
        async with await open_change(lab) as session:
            ticket = await session.reload()
        started = time.monotonic()
        with pytest.raises(RouterError, match="did not come back within 1 s"):
            await wait_for_return(
                lab.target(KAGAWA),
                lab.known_hosts(),
                ticket,
                timeout=1,
                interval=0.1,
                connect_timeout=1,
            )
        assert time.monotonic() - started < 4

    run(go())


# --- host keys -------------------------------------------------------------------------------


def test_unknown_host_key_names_nmops_trust(lab: LabThread) -> None:
    empty = KnownHosts(lab.directory / "empty_known_hosts")
    empty.path.write_text("")
    with pytest.raises(UnknownHostKey, match="nmops trust") as caught:
        run(ReadSession.open(lab.target(KAGAWA), empty, connect_timeout=5))
    assert "host key not known" in str(caught.value)
    assert lab.log(KAGAWA).logins == 0
    # A missing file counts as empty.
    with pytest.raises(UnknownHostKey):
        run(
            ReadSession.open(
                lab.target(KAGAWA), KnownHosts(lab.directory / "nope"), connect_timeout=5
            )
        )


def test_changed_host_key_is_refused_and_never_logs_in(lab: LabThread) -> None:
    endpoint = lab.lab.endpoints[KAGAWA]
    other = asyncssh.generate_private_key("ssh-rsa", key_size=1024)
    hosts = KnownHosts(lab.directory / "changed_known_hosts")
    hosts.pin(endpoint.host, endpoint.port, other)
    with pytest.raises(ChangedHostKey, match="HOST KEY CHANGED") as caught:
        run(ReadSession.open(lab.target(KAGAWA), hosts, connect_timeout=5))
    assert "--replace" in str(caught.value)
    assert str(other.get_fingerprint("sha256")) in str(caught.value)
    assert lab.log(KAGAWA).logins == 0

    async def tokyo() -> str:
        # Tokyo's key is right in the lab's known_hosts: the check is per host and port.
        async with await open_read(lab, TOKYO) as session:
            return (await session.version()).model

    assert run(tokyo()) == "IX2215"


# --- sessions that go away -------------------------------------------------------------------


def test_reload_from_a_second_session_while_the_first_reads(tmp_path: Path) -> None:
    slow = Timings(ddns_delay=0.15, reload_delay=0.4, slow_delay=0.5)
    with LabThread(tmp_path / "lab", timings=slow) as lab:

        async def go() -> float:
            reader = await open_read(lab)  # operation mode: `show version` works there
            reloader = await open_change(lab, command_timeout=10)
            await lab.acall(lambda: lab.router(KAGAWA).fault("slow"))
            reloading = asyncio.ensure_future(reloader.reload())
            # Once the router has the `yes`, it drops every session 0.5 s later: ask then.
            deadline = time.monotonic() + 10
            while lab.log(KAGAWA).lines[-1:] != ["yes"]:
                assert time.monotonic() < deadline, lab.log(KAGAWA).lines
                await asyncio.sleep(0.01)
            started = time.monotonic()
            with pytest.raises(SessionLost, match="closed the session"):
                await reader.send(SHOW_VERSION)
            waited = time.monotonic() - started
            await reloading
            await reader.close()  # never raises, even now
            return waited

        waited = run(go(), timeout=40)
        assert waited < 2  # the drop ended the read at once: no wait for the command timeout
        log = lab.log(KAGAWA)
        reader_no = log.sessions[0]
        assert log.lines_of(reader_no)[-1] == "show version"
        assert "dropped" in log.events(reader_no)


def test_write_to_a_dropped_session_is_session_lost(lab: LabThread) -> None:
    async def go() -> None:
        session = await open_change(lab)
        await session.enter_config()
        await lab.acall(lambda: asyncio.ensure_future(lab.lab.sim.servers[KAGAWA].stop()))
        await asyncio.sleep(0.3)  # the connection is gone
        for _ in range(2):  # the first write may still go into a buffer; the rest must fail
            with pytest.raises(SessionLost):
                await session.send(SHOW_VERSION)
        with pytest.raises(SessionLost):
            await session.apply([EXTRA])
        with pytest.raises(SessionLost):
            await session.save()
        assert not session.usable
        await session.close()  # never raises
        await session.close()  # not even twice

    run(go())


def test_server_stopped_in_the_middle_of_a_command(tmp_path: Path) -> None:
    slow = Timings(ddns_delay=0.15, reload_delay=0.4, slow_delay=3.0)
    with LabThread(tmp_path / "lab", timings=slow) as lab:

        async def go() -> float:
            session = await open_read(lab, command_timeout=10)
            await lab.acall(lambda: lab.router(KAGAWA).fault("slow"))
            sending = asyncio.ensure_future(session.send(SHOW_VERSION))
            await asyncio.sleep(0.2)  # the router is still "working" on it
            started = time.monotonic()
            await lab.acall(lambda: asyncio.ensure_future(lab.lab.sim.servers[KAGAWA].stop()))
            with pytest.raises(SessionLost):
                await sending
            await session.close()
            return time.monotonic() - started

        assert run(go()) < 2  # ended by the drop, not by the reply or the timeout


def test_ssh_down_refuses_new_sessions_but_not_open_ones(lab: LabThread) -> None:
    async def go() -> None:
        open_one = await open_read(lab)
        await lab.acall(lambda: lab.router(KAGAWA).fault("ssh-down"))
        with pytest.raises(RouterError, match="cannot connect"):
            await open_read(lab, connect_timeout=2)
        assert "IX2215" in await open_one.send(SHOW_VERSION)
        await open_one.close()

    run(go())


def test_router_refuses_sessions_beyond_its_limit(lab: LabThread) -> None:
    limit = lab.router(KAGAWA).timings.max_sessions

    async def go() -> None:
        held = [await open_read(lab) for _ in range(limit)]
        with pytest.raises(RouterError):
            await open_read(lab, connect_timeout=2)
        for session in held:
            await session.close()
        async with await open_read(lab) as again:  # a slot is free again
            await again.version()

    run(go())


def test_sessions_close_cleanly_and_release_config_mode(lab: LabThread) -> None:
    async def go() -> None:
        for _ in range(3):
            async with await open_read(lab) as session:
                await session.show(SHOW_VERSION)

    run(go())
    log = lab.log(KAGAWA)
    assert len(log.sessions) == 3
    for number in log.sessions:
        assert log.lines_of(number)[-1] == "exit"
        assert log.lines_of(number).count("enable-config") == 1  # never found config locked


# --- a router that answers oddly (a scripted SSH server) -------------------------------------


TASKS: set[asyncio.Future[None]] = set()  # the scripted server's background writers


class _Scripted(asyncssh.SSHServerSession[str]):
    """A login prompt, then for each line what ``answer`` says, as ``(text, then)``: text to
    send, and a callable that may go on sending (or None)."""

    def __init__(self, answer: Callable[[str, Any], None]) -> None:
        self._answer = answer
        self._chan: Any = None
        self._buffer = ""

    def connection_made(self, chan: Any) -> None:
        self._chan = chan

    def shell_requested(self) -> bool:
        return True

    def pty_requested(self, *args: Any) -> bool:
        return True

    def session_started(self) -> None:
        self._chan.write("odd# ")

    def data_received(self, data: str, datatype: Any) -> None:
        self._buffer += data
        while "\r" in self._buffer:
            line, self._buffer = self._buffer.split("\r", 1)
            self._chan.write(line + "\r\n")
            self._answer(line, self._chan)


class _Server(asyncssh.SSHServer):
    def __init__(self, answer: Callable[[str, Any], None]) -> None:
        self._answer = answer

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return True

    def session_requested(self) -> asyncssh.SSHServerSession[str]:
        return _Scripted(self._answer)


async def _scripted(
    tmp_path: Path, answer: Callable[[str, Any], None]
) -> tuple[Any, Target, KnownHosts]:
    key = asyncssh.generate_private_key("ssh-rsa", key_size=1024)
    server = await asyncssh.create_server(
        lambda: _Server(answer), "127.0.0.1", 0, server_host_keys=[key], line_editor=False
    )
    port = server.sockets[0].getsockname()[1]
    hosts = KnownHosts(tmp_path / "known_hosts")
    hosts.pin("127.0.0.1", port, key)
    return server, Target("odd", "127.0.0.1", port, "u", "p"), hosts


def test_output_that_trickles_forever_times_out_and_the_session_is_done(tmp_path: Path) -> None:
    def answer(line: str, chan: Any) -> None:
        if line == "show version":

            async def trickle() -> None:
                while not chan.is_closing():
                    chan.write("x")
                    await asyncio.sleep(0.05)

            TASKS.add(asyncio.ensure_future(trickle()))
        else:
            chan.write("odd# ")

    async def go() -> float:
        server, target, hosts = await _scripted(tmp_path, answer)
        try:
            session = await ReadSession.open(target, hosts, command_timeout=1)
            started = time.monotonic()
            with pytest.raises(CommandTimeout, match="no prompt within 1 s"):
                await session.send(SHOW_VERSION)
            elapsed = time.monotonic() - started
            # Late output would be read as the next answer: the session refuses to go on.
            with pytest.raises(SessionLost, match="unusable"):
                await session.send(read_command("exit"))
            await session.close()
            return elapsed
        finally:
            server.close()

    assert run(go()) < 3  # one deadline for the whole answer, not one per chunk


def test_a_line_that_looks_like_another_hosts_prompt_does_not_end_the_answer(
    tmp_path: Path,
) -> None:
    def answer(line: str, chan: Any) -> None:
        if line == "show version":
            # A chunk that ends in something prompt-shaped, then the real rest and prompt.
            chan.write(
                "IX Series IX2215 (magellan-sec) Software, Version 10.7.18, RELEASE\r\nintruder# "
            )

            async def rest() -> None:
                await asyncio.sleep(0.2)
                chan.write("\r\nSystem uptime is 1 minute\r\nodd# ")

            TASKS.add(asyncio.ensure_future(rest()))
        else:
            chan.write("odd# ")

    async def go() -> str:
        server, target, hosts = await _scripted(tmp_path, answer)
        try:
            async with await ReadSession.open(target, hosts, command_timeout=5) as session:
                return await session.send(SHOW_VERSION)
        finally:
            server.close()

    output = run(go())
    assert "System uptime is 1 minute" in output


@pytest.mark.parametrize(
    ("answer", "wanted"),
    [
        # CR alone ends lines (and the prompt's line).
        ("IX Series IX2215\rSystem uptime is 1 minute\rodd# ", "System uptime is 1 minute"),
        # Escape sequences before the prompt and inside output.
        ("IX Series \x1b[1mIX2215\x1b[0m\r\n\x1b[32modd# ", "IX Series IX2215"),
    ],
    ids=["cr-only", "ansi"],
)
def test_odd_line_ends_and_bytes_still_end_at_the_prompt(
    tmp_path: Path, answer: str, wanted: str
) -> None:
    def respond(line: str, chan: Any) -> None:
        if line == "show version":
            chan.write(answer)
        else:
            chan.write("odd# ")

    async def go() -> tuple[str, float]:
        server, target, hosts = await _scripted(tmp_path, respond)
        try:
            async with await ReadSession.open(target, hosts, command_timeout=3) as session:
                started = time.monotonic()
                output = await session.send(SHOW_VERSION)
                return output, time.monotonic() - started
        finally:
            server.close()

    output, took = run(go())
    assert wanted in output
    assert "\x1b" not in output
    assert took < 2  # the prompt was seen, not waited out


def test_a_byte_that_is_not_utf8_is_no_lost_session(tmp_path: Path) -> None:
    """The router's bytes, not str: one invalid UTF-8 byte must not end the session."""

    class Raw(asyncssh.SSHServerSession[bytes]):
        def connection_made(self, chan: Any) -> None:
            self._chan = chan

        def shell_requested(self) -> bool:
            return True

        def pty_requested(self, *args: Any) -> bool:
            return True

        def session_started(self) -> None:
            self._chan.write(b"odd# ")

        def data_received(self, data: bytes, datatype: Any) -> None:
            if b"\r" in data:
                self._chan.write(b"show version\r\nIX Series IX2215 caf\xe9\r\nodd# ")

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return True

        def session_requested(self) -> asyncssh.SSHServerSession[bytes]:
            return Raw()

    async def go() -> str:
        key = asyncssh.generate_private_key("ssh-rsa", key_size=1024)
        server = await asyncssh.create_server(
            Server, "127.0.0.1", 0, server_host_keys=[key], line_editor=False, encoding=None
        )
        port = server.sockets[0].getsockname()[1]
        hosts = KnownHosts(tmp_path / "known_hosts")
        hosts.pin("127.0.0.1", port, key)
        try:
            target = Target("odd", "127.0.0.1", port, "u", "p")
            async with await ReadSession.open(target, hosts, command_timeout=3) as session:
                return await session.send(SHOW_VERSION)
        finally:
            server.close()

    assert run(go()) == "IX Series IX2215 caf\ufffd"


def test_forged_read_commands_send_nothing(tmp_path: Path) -> None:
    """Code inside the process could subclass what the type check looks at; what is checked
    is exactly what is written, and nothing but a plain ReadCommand with a plain str passes."""
    received: list[str] = []

    def respond(line: str, chan: Any) -> None:
        received.append(line)
        chan.write("odd# ")

    class Sly(str):
        def __add__(self, other: str) -> str:
            return "write memory" + other

    class Shifty(ReadCommand):
        reads = 0

        def __init__(self) -> None:  # no field to set: `text` is computed
            pass

        @property  # type: ignore[misc]
        def text(self) -> str:  # type: ignore[override]
            Shifty.reads += 1
            return "show version" if Shifty.reads == 1 else "write memory"

    async def go() -> None:
        server, target, hosts = await _scripted(tmp_path, respond)
        try:
            async with await ReadSession.open(target, hosts, command_timeout=3) as session:
                for forged in (ReadCommand(Sly("show version")), Shifty()):
                    with pytest.raises(UnsafeArgument):
                        await session.send(forged)
        finally:
            server.close()

    run(go())
    assert not any("write" in line for line in received)


def test_a_hostname_no_prompt_could_show_is_refused_before_sending(lab: LabThread) -> None:
    async def go() -> None:
        async with await open_change(lab) as session:
            with pytest.raises(UnsafeArgument, match="hostname"):
                await session.apply([Edit((), "hostname ix@kagawa")])

    run(go())
    assert lab.log(KAGAWA).lines == []
