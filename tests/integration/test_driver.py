"""The IX driver (nmops.ix.session) against the lab's simulated routers over real SSH.

Each test starts its own two-router lab on a background thread; the driver runs in the test
thread with ``asyncio.run``. What the router received is read back from its command log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from nmops.errors import RouterError
from nmops.ix.compare import config_saved
from nmops.ix.dialect import Mode, UnsafeArgument
from nmops.ix.hostkeys import ChangedHostKey, KnownHosts, UnknownHostKey
from nmops.ix.session import (
    ConfigLocked,
    IxSession,
    ReadOnlyViolation,
    SessionLost,
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


def run(coro: Coroutine[Any, Any, Any], timeout: float = 20) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def lab(tmp_path: Path) -> Any:
    with LabThread(tmp_path / "lab") as running:
        yield running


async def open_session(lab: LabThread, name: str = KAGAWA, **options: Any) -> IxSession:
    options.setdefault("read_only", True)
    options.setdefault("command_timeout", 5)
    return await IxSession.open(lab.target(name), lab.known_hosts(), **options)


def mode(session: IxSession) -> Mode | None:
    """The session's mode, read afresh (it changes with every prompt)."""
    return session.mode


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
        session = await open_session(lab, read_only=False)
        assert mode(session) is Mode.OPERATION
        assert session.hostname == KAGAWA
        await session.enter_config()
        assert mode(session) is Mode.CONFIG
        result = await session.apply(["interface GigaEthernet2.0", "description nmops-test"])
        assert result.ok, result
        assert result.applied == ("interface GigaEthernet2.0", "description nmops-test")
        assert mode(session) is Mode.CONFIG_SUB
        # show runs at the top of config mode: the driver leaves the block first.
        version = await session.show("show version")
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
    assert "  description nmops-test" in lab.router(KAGAWA).running.render()


def test_wrong_password_is_a_router_error(lab: LabThread) -> None:
    target = lab.target(KAGAWA)
    bad = type(target)(target.router, target.host, target.port, target.username, "wrong")
    with pytest.raises(RouterError, match="login refused for nmops"):
        run(IxSession.open(bad, lab.known_hosts(), connect_timeout=5))
    assert lab.log(KAGAWA).logins == 0


# --- paging and wrapping ---------------------------------------------------------------------


def test_paging_before_terminal_length_0_is_reassembled(lab: LabThread) -> None:
    async def go() -> tuple[str, str]:
        async with await open_session(lab) as session:
            recorder = RecordingReader(session._stdout)
            session._stdout = recorder  # type: ignore[assignment]
            # Config mode by hand, so `terminal length 0` has not been sent yet.
            await session.send("enable-config")
            output = await session.send("show running-config")
            return output, recorder.raw

    output, raw = run(go())
    assert raw.count("--More--") >= 5  # 150 lines at 24 a page: the pager really ran
    assert "--More--" not in output
    assert "\x08" not in output
    assert config_body(output) == golden_config(KAGAWA).splitlines()
    assert "terminal length 0" not in lab.log(KAGAWA).lines


def test_show_after_enter_config_is_not_paged(lab: LabThread) -> None:
    async def go() -> tuple[str, str]:
        async with await open_session(lab) as session:
            await session.enter_config()
            recorder = RecordingReader(session._stdout)
            session._stdout = recorder  # type: ignore[assignment]
            output = await session.show("show running-config")
            return output, recorder.raw

    output, raw = run(go())
    assert "--More--" not in raw
    assert config_body(output) == golden_config(KAGAWA).splitlines()


def test_long_line_echo_wrapped_at_80_columns(lab: LabThread) -> None:
    async def go() -> tuple[str, str, Any]:
        async with await open_session(lab, read_only=False) as session:
            await session.send("enable-config")  # `terminal width` not sent yet
            recorder = RecordingReader(session._stdout)
            session._stdout = recorder  # type: ignore[assignment]
            output = await session.send(LONG_LINE)
            result = await session.apply([EXTRA_LINE])
            return output, recorder.raw, result

    output, raw, result = run(go())
    prompt = f"{KAGAWA}(config)# "
    first = 80 - len(prompt)
    assert LONG_LINE[:first] + "\r\n" + LONG_LINE[first:] in raw  # the echo really wrapped
    assert output == ""  # ... and the driver took the whole wrapped echo off
    assert result.ok
    log = lab.log(KAGAWA)
    assert LONG_LINE in log.lines
    assert "terminal width 512" not in log.lines
    running = lab.router(KAGAWA).running.render().splitlines()
    assert LONG_LINE in running
    assert EXTRA_LINE in running


# --- applying --------------------------------------------------------------------------------


def test_apply_stops_at_the_first_rejected_line(lab: LabThread) -> None:
    lines = [EXTRA_LINE, "frobnicate the router", "ip access-list never-sent permit ip"]

    async def go() -> Any:
        async with await open_session(lab, read_only=False) as session:
            return await session.apply(lines)

    result = run(go())
    assert not result.ok
    assert result.applied == (EXTRA_LINE,)
    assert result.failed_line == "frobnicate the router"
    assert result.error == "% frobnicate -- Invalid command."
    received = lab.log(KAGAWA).lines
    assert EXTRA_LINE in received
    assert "frobnicate the router" in received
    assert "ip access-list never-sent permit ip" not in received
    assert "never-sent" not in lab.router(KAGAWA).running.render()


def test_newline_in_a_config_line_is_refused_before_sending(lab: LabThread) -> None:
    async def go() -> None:
        async with await open_session(lab, read_only=False) as session:
            with pytest.raises(UnsafeArgument):
                await session.apply([EXTRA_LINE, "description x\nwrite memory"])
            with pytest.raises(UnsafeArgument):
                await session.send("show version\rreload")
            with pytest.raises(UnsafeArgument):
                await session.apply(["description x\twrite"])

    run(go())
    received = lab.log(KAGAWA).lines
    assert received == []  # not even the valid first line, nor config mode
    assert "write memory" not in received
    assert not lab.router(KAGAWA).unsaved


def test_read_only_session_refuses_changes_before_sending(lab: LabThread) -> None:
    async def go() -> None:
        async with await open_session(lab, read_only=True) as session:
            await session.show("show version")
            with pytest.raises(ReadOnlyViolation, match="read-only session cannot apply"):
                await session.apply([EXTRA_LINE])
            with pytest.raises(ReadOnlyViolation):
                await session.save()
            with pytest.raises(ReadOnlyViolation):
                await session.reload()
            for line in ("write memory", "reload", "svintr-config", "clear ikev2 sa", EXTRA_LINE):
                with pytest.raises(ReadOnlyViolation):
                    await session.send(line)
            assert mode(session) is Mode.CONFIG

    run(go())
    received = lab.log(KAGAWA).lines
    assert received == [
        "enable-config",
        "terminal length 0",
        "terminal width 512",
        "show version",
        "exit",
    ]
    assert not lab.router(KAGAWA).unsaved


# --- config lock -----------------------------------------------------------------------------


def test_config_locked_by_another_session(lab: LabThread) -> None:
    async def go() -> None:
        holder = await open_session(lab, read_only=False)
        await holder.enter_config()
        other = await open_session(lab, read_only=False)
        started = time.monotonic()
        with pytest.raises(ConfigLocked, match="svintr-config") as caught:
            await other.enter_config(attempts=3)
        assert time.monotonic() - started >= 0.5  # it waited between attempts
        assert "occupied" in str(caught.value)
        assert mode(other) is Mode.OPERATION
        # Asked to, it takes config mode over; the holder is back in operation mode.
        await other.enter_config(takeover=True, attempts=1)
        assert mode(other) is Mode.CONFIG
        assert "IX2215" in await other.show("show version")
        await holder.send("")  # an empty line: the router answers with the current prompt
        assert mode(holder) is Mode.OPERATION
        await other.close()
        await holder.close()

    run(go())
    log = lab.log(KAGAWA)
    holder_no, other_no = log.sessions
    other_lines = log.lines_of(other_no)
    # Three attempts and no takeover; then one more attempt before taking over.
    assert other_lines[:5] == [*["enable-config"] * 4, "svintr-config"]
    assert other_lines.count("svintr-config") == 1
    assert "svintr-config" not in log.lines_of(holder_no)


def test_show_after_being_taken_over_reenters_config_mode(lab: LabThread) -> None:
    """Another admin ran `svintr-config` and has left again: the router moved this session
    back to operation mode without a word, so its next `show` must re-enter config mode, not
    fail with `Invalid command` (config-mode-only shows are invalid in operation mode)."""

    async def go() -> str:
        reader = await open_session(lab)
        await reader.enter_config()
        other = await open_session(lab, read_only=False)
        await other.enter_config(takeover=True, attempts=1)
        await other.close()  # config mode is free again
        output = await reader.show("show running-config")
        await reader.close()
        return output

    output = run(go())
    assert config_body(output) == golden_config(KAGAWA).splitlines()


def test_config_locked_fault_without_and_with_takeover(lab: LabThread) -> None:
    lab.fault(KAGAWA, "config-locked")

    async def go() -> None:
        async with await open_session(lab) as session:
            with pytest.raises(ConfigLocked):
                await session.enter_config(attempts=2)
            with pytest.raises(ConfigLocked):
                await session.enter_config(attempts=1)
        async with await open_session(lab, read_only=False) as session:
            await session.enter_config(attempts=1, takeover=True)
            assert mode(session) is Mode.CONFIG

    run(go())
    assert "config-locked" not in lab.router(KAGAWA).faults  # svintr-config took it over
    log = lab.log(KAGAWA)
    first, second = log.sessions
    assert log.lines_of(first) == ["enable-config"] * 3
    assert log.lines_of(second)[:2] == ["enable-config", "svintr-config"]


# --- saving and reloading --------------------------------------------------------------------


def test_save_makes_startup_equal_running(lab: LabThread) -> None:
    async def go() -> tuple[bool, bool, str]:
        async with await open_session(lab, read_only=False) as session:
            result = await session.apply([EXTRA_LINE])
            assert result.ok
            before = config_saved(
                await session.show("show running-config"), await session.show("show config")
            )
            await session.save()
            running = await session.show("show running-config")
            after = config_saved(running, await session.show("show config"))
            return before, after, running

    before, after, running = run(go())
    assert before is False
    assert after is True
    assert EXTRA_LINE in config_body(running)
    assert lab.router(KAGAWA).startup.render() == lab.router(KAGAWA).running.render()
    assert "write memory" in lab.log(KAGAWA).lines


def test_reload_refuses_when_unsaved_and_says_no(lab: LabThread) -> None:
    async def go() -> None:
        async with await open_session(lab, read_only=False) as session:
            assert (await session.apply([EXTRA_LINE])).ok
            with pytest.raises(RouterError, match="not saved"):
                await session.reload()
            # Still logged in: the router was told No and stayed up.
            assert "hostname" in await session.show("show running-config")

    run(go())
    log = lab.log(KAGAWA)
    first = log.sessions[0]
    assert "reload" in log.lines_of(first)
    assert "no" in log.lines_of(first)
    assert "yes" not in log.lines_of(first)
    assert "dropped" not in log.events(first)


def test_forced_reload_and_return_drops_unsaved_lines(lab: LabThread) -> None:
    async def go() -> Any:
        target, hosts = lab.target(KAGAWA), lab.known_hosts()
        async with await open_session(lab, read_only=False) as session:
            assert (await session.apply([EXTRA_LINE])).ok
            await session.reload(force=True)
            assert mode(session) is None
        version = await wait_for_return(target, hosts, timeout=10, interval=0.1)
        async with await open_session(lab) as session:
            running = await session.show("show running-config")
        return version, running

    version, running = run(go())
    assert version.reload_cause == "command execution"
    assert version.reloaded_by_command
    assert version.model == "IX2215"
    assert EXTRA_LINE not in config_body(running)
    assert config_body(running) == golden_config(KAGAWA).splitlines()
    log = lab.log(KAGAWA)
    first = log.sessions[0]
    assert log.lines_of(first)[-2:] == ["reload", "yes"]
    assert "write memory" not in log.lines
    assert "dropped" in log.events(first)


def test_wait_for_return_gives_up_when_the_reload_hangs(lab: LabThread) -> None:
    lab.fault(KAGAWA, "reload-hangs")

    async def go() -> None:
        async with await open_session(lab, read_only=False) as session:
            await session.reload()
        started = time.monotonic()
        with pytest.raises(RouterError, match="did not come back within 1 s"):
            await wait_for_return(
                lab.target(KAGAWA), lab.known_hosts(), timeout=1, interval=0.1, connect_timeout=1
            )
        assert time.monotonic() - started < 4

    run(go())


# --- host keys -------------------------------------------------------------------------------


def test_unknown_host_key_names_nmops_trust(lab: LabThread) -> None:
    empty = KnownHosts(lab.directory / "empty_known_hosts")
    empty.path.write_text("")
    with pytest.raises(UnknownHostKey, match="nmops trust") as caught:
        run(IxSession.open(lab.target(KAGAWA), empty, connect_timeout=5))
    assert "host key not known" in str(caught.value)
    assert lab.log(KAGAWA).logins == 0
    # A missing file counts as empty.
    with pytest.raises(UnknownHostKey):
        run(
            IxSession.open(
                lab.target(KAGAWA), KnownHosts(lab.directory / "nope"), connect_timeout=5
            )
        )


def test_changed_host_key_is_refused_and_never_logs_in(lab: LabThread) -> None:
    endpoint = lab.lab.endpoints[KAGAWA]
    other = asyncssh.generate_private_key("ssh-rsa", key_size=1024)
    hosts = KnownHosts(lab.directory / "changed_known_hosts")
    hosts.pin(endpoint.host, endpoint.port, other)
    with pytest.raises(ChangedHostKey, match="HOST KEY CHANGED") as caught:
        run(IxSession.open(lab.target(KAGAWA), hosts, connect_timeout=5))
    assert "--replace" in str(caught.value)
    assert str(other.get_fingerprint("sha256")) in str(caught.value)
    assert lab.log(KAGAWA).logins == 0
    # Tokyo's key is right in the lab's known_hosts: the check is per host and port.
    run(wait_for_return(lab.target(TOKYO), lab.known_hosts(), timeout=5))


# --- sessions that go away -------------------------------------------------------------------


def test_reload_from_a_second_session_while_the_first_reads(tmp_path: Path) -> None:
    slow = Timings(ddns_delay=0.15, reload_delay=0.4, slow_delay=0.5)
    with LabThread(tmp_path / "lab", timings=slow) as lab:

        async def go() -> float:
            reader = await open_session(lab)  # operation mode: `show version` works there
            reloader = await open_session(lab, read_only=False)
            await reloader.enter_config()
            await lab.acall(lambda: lab.router(KAGAWA).fault("slow"))
            reloading = asyncio.ensure_future(reloader.reload())
            # Once the router has the `yes`, it drops every session 0.5 s later: ask then.
            deadline = time.monotonic() + 5
            while lab.log(KAGAWA).lines[-1:] != ["yes"]:
                assert time.monotonic() < deadline, lab.log(KAGAWA).lines
                await asyncio.sleep(0.01)
            started = time.monotonic()
            with pytest.raises(SessionLost, match="closed the session"):
                await reader.send("show version")
            waited = time.monotonic() - started
            await reloading
            await reader.close()
            return waited

        waited = run(go())
        assert waited < 2  # the drop ended the read at once: no wait for the command timeout
        log = lab.log(KAGAWA)
        reader_no, _ = log.sessions
        assert log.lines_of(reader_no) == ["show version"]
        assert "dropped" in log.events(reader_no)


def test_server_stopped_in_the_middle_of_a_command(tmp_path: Path) -> None:
    slow = Timings(ddns_delay=0.15, reload_delay=0.4, slow_delay=3.0)
    with LabThread(tmp_path / "lab", timings=slow) as lab:

        async def go() -> float:
            session = await open_session(lab, command_timeout=10)
            await lab.acall(lambda: lab.router(KAGAWA).fault("slow"))
            sending = asyncio.ensure_future(session.send("show version"))
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
        open_one = await open_session(lab)
        await lab.acall(lambda: lab.router(KAGAWA).fault("ssh-down"))
        with pytest.raises(RouterError, match="cannot connect"):
            await open_session(lab, connect_timeout=2)
        assert "IX2215" in await open_one.send("show version")
        await open_one.close()

    run(go())


def test_sessions_close_cleanly_and_release_config_mode(lab: LabThread) -> None:
    async def go() -> None:
        for _ in range(3):
            async with await open_session(lab) as session:
                await session.show("show version")

    run(go())
    log = lab.log(KAGAWA)
    assert len(log.sessions) == 3
    for number in log.sessions:
        assert log.lines_of(number)[-1] == "exit"
        assert log.lines_of(number).count("enable-config") == 1  # never found config locked
