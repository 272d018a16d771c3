"""The lab's simulated IX routers, driven by a real SSH client (asyncssh) over 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from nmops.ix import lines
from nmops.lab.ddns import DdnsRegistry
from nmops.lab.ixsim import (
    FAULT_KINDS,
    RouterEndpoint,
    SimLab,
    Timings,
    generate_site_configs,
    golden_config,
    golden_configs,
    show,
)
from nmops.lab.ixsim.editing import type_line
from nmops.lab.ixsim.faults import KINDS, RUNGS
from nmops.lab.ixsim.grammar import Grammar
from nmops.lab.ixsim.terminal import Terminal

pytestmark = pytest.mark.lab

USER, PASSWORD = "admin", "lab-password"
TOKYO, KAGAWA = "ix2215-tokyo", "ix2215-kagawa"
TIMINGS = Timings(ddns_delay=0.1, reload_delay=0.3, slow_delay=0.3, save_delay=0.1)
PROMPT_END = re.compile(r"(?:^|\n)[A-Za-z0-9._-]+(?:\([^)]*\))?# \Z")
V4_NAME = f"{TOKYO}.fetburner.nmddns.jp"
V6_NAME = f"{TOKYO}.fetburner.v6.nmddns.jp"
ENTERED = "Enter configuration commands, one per line. End with CNTL/Z.\n"  # [C]


def run(coro: Coroutine[Any, Any, None], timeout: float = 20) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout))


@contextlib.asynccontextmanager
async def lab_running(
    state_dir: Path, routers: list[tuple[str, str]] | None = None
) -> AsyncIterator[tuple[SimLab, dict[str, RouterEndpoint], DdnsRegistry]]:
    registry = DdnsRegistry()
    lab = SimLab()
    endpoints = await lab.start(
        routers or golden_configs(),
        registry,
        fast=True,
        state_dir=state_dir,
        username=USER,
        password=PASSWORD,
        timings=TIMINGS,
    )
    try:
        yield lab, endpoints, registry
    finally:
        await lab.stop()


class Shell:
    """An interactive session as a person (or nmops) has it: type a line, read to the prompt."""

    def __init__(self, conn: asyncssh.SSHClientConnection, proc: asyncssh.SSHClientProcess[str]):
        self.conn = conn
        self.proc = proc
        self.buffer = ""

    @classmethod
    async def open(cls, endpoint: RouterEndpoint, **options: Any) -> Shell:
        options = {"known_hosts": None, **options}
        conn = await asyncssh.connect(
            endpoint.host,
            endpoint.port,
            username=USER,
            password=PASSWORD,
            server_host_key_algs=["ssh-rsa"],
            **options,
        )
        proc = await conn.create_process(term_type="vt100")
        shell = cls(conn, proc)
        await shell.read_until(PROMPT_END)
        return shell

    async def read_until(self, pattern: re.Pattern[str], timeout: float = 5) -> str:
        while True:
            match = pattern.search(self.buffer)
            if match is not None:
                text, self.buffer = self.buffer[: match.end()], self.buffer[match.end() :]
                return text
            data = await asyncio.wait_for(self.proc.stdout.read(65536), timeout)
            if not data:
                raise EOFError(self.buffer)
            self.buffer += data

    async def raw(self, line: str) -> str:
        self.proc.stdin.write(line + "\r")
        return await self.read_until(PROMPT_END)

    async def cmd(self, line: str) -> str:
        """The output of ``line``: without the echo, the trailing prompt and CRs."""
        text = (await self.raw(line)).replace("\r", "")
        # The echo comes first, wrapped at the terminal width: unwrap it while checking it.
        index = 0
        for char in line:
            if text[index] == "\n":
                index += 1
            assert text[index] == char, text
            index += 1
        assert text[index] == "\n", text
        return text[index + 1 :].rpartition("\n")[0] + "\n" if "\n" in text[index + 1 :] else ""

    async def prompt(self) -> str:
        text = await self.raw("")
        return text.replace("\r", "").split("\n")[-1]

    def close(self) -> None:
        self.conn.close()


def body_of(show_running: str) -> str:
    """`show running-config` without its `!` header (which carries the time)."""
    lines = show_running.splitlines()
    start = next(i for i, line in enumerate(lines) if not line.startswith("!"))
    return "\n".join(lines[start:]) + "\n"


# --- pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [TOKYO, KAGAWA])
def test_golden_config_renders_back_exactly(name: str) -> None:
    text = golden_config(name)
    shared = Path(__file__).resolve().parents[3] / "shared" / "seed" / "golden" / f"{name}.conf"
    if shared.exists():  # the package data is a copy of the seed's golden files
        assert text == shared.read_text()
    assert lines.render(lines.parse(text)) == text


def typed(
    config: lines.Config, context: tuple[str, ...], *typed_lines: str
) -> tuple[lines.Config, tuple[str, ...]]:
    grammar = Grammar()
    for line in typed_lines:
        result = type_line(config, context, line, grammar)
        assert result.error is None, (line, result.error)
        config, context = result.config, result.context
    return config, context


def test_config_line_semantics() -> None:
    config, context = typed(
        lines.parse(golden_config(TOKYO)),
        (),
        "hostname ix-new",
        "interface GigaEthernet0.1",
        "shutdown",
        "interface GigaEthernet2.0",  # a header from inside another block switches [C]
        "no ip address",
        "no ip route default GigaEthernet0.1 distance 100",  # a top-level line in a block
        "nm ddns notify interface GigaEthernet0.0 protocol ipv6",
    )
    assert context == ("interface GigaEthernet2.0",)  # ... and the session stays put [C]
    config, context = typed(config, (), "no interface Tunnel2.0")
    paths = config.paths
    assert ("hostname ix-new",) in paths and ("hostname ix2215-tokyo",) not in paths
    assert ("interface GigaEthernet0.1", "shutdown") in paths
    assert ("interface GigaEthernet0.1", "no shutdown") not in paths
    assert ("interface GigaEthernet2.0", "no ip address") in paths  # stored negation
    assert not any(
        p[:1] == ("interface GigaEthernet2.0",) and p[-1].startswith("ip address ") for p in paths
    )
    assert ("ip route default GigaEthernet0.1 distance 100",) not in paths
    # One notify interface per family: the new line replaced the old one.
    assert ("nm ddns notify interface GigaEthernet0.0 protocol ipv6",) in paths
    assert ("nm ddns notify interface GigaEthernet2.0 protocol ipv6",) not in paths
    assert not any(p[0] == "interface Tunnel2.0" for p in paths)


@pytest.mark.parametrize(
    ("context", "line", "error"),
    [
        ((), "ip frobnicate 1 2 3", "% frobnicate -- Invalid command."),
        ((), "nm ddns notify interface Tunnel99.0 protocol ipv9", "% ipv9 -- Invalid command."),
        ((), "interface GigaEthernet99.0", "% GigaEthernet99.0 -- Invalid command."),
        ((), "interface GigaEthernet2:1.0 extra", "% extra -- Invalid command."),
        (
            (),
            "no interface GigaEthernet0.0",
            "% GigaEthernet0.0 -- Cannot delete a physical interface.",
        ),
        ((), "nm", "% Expects a subcommand or item selection."),
        ((), "no nm", "% Expects a subcommand or item selection."),
        ((), "ip route default", "% Expects a subcommand or item selection."),
        ((), "ip route default Tunnel0.0 distance 999", "% 999 -- Invalid command."),
        (
            (),
            "ip access-list x permit tcp src any sport eq 99999 dest any",
            "% tcp -- Invalid command.",
        ),
        ((), "hostname", "% Expects a subcommand or item selection."),
        ((), "hostname ix@tokyo", "% ix@tokyo -- Invalid command."),  # no prompt shows it
        ((), "no ip route", "% Expects a subcommand or item selection."),
        ((), "no ntp server", "% Expects a subcommand or item selection."),
        (
            ("interface GigaEthernet2.0",),
            "ip address 10.0.0.300/24",
            "% 10.0.0.300/24 -- Invalid command.",
        ),
        (
            ("interface GigaEthernet2.0",),
            "ipv6 nd proxy GigaEthernet7.0",
            "% GigaEthernet7.0 -- Invalid command.",
        ),
        (
            ("interface Tunnel1.0",),
            "ikev2 peer-fqdn-ipv6 not_a_name authentication psk id keyid x",
            "% not_a_name -- Invalid command.",
        ),
        (
            ("watch-group map-e 10",),
            "event x ip unreach-host 8.8.8.8 Tunnel0.0",
            "% x -- Invalid command.",
        ),
        (("ip router ospf 1",), "network Tunnel1.0 zone 0", "% zone -- Invalid command."),
    ],
)
def test_grammar_rejects_what_an_ix_rejects(
    context: tuple[str, ...], line: str, error: str
) -> None:
    config = lines.parse(golden_config(TOKYO))
    result = type_line(config, context, line, Grammar("IX2215"))
    assert result.error == error
    assert result.config is config and not result.changes


@pytest.mark.parametrize("name", [TOKYO, KAGAWA])
def test_every_seed_line_can_be_typed(name: str) -> None:
    """The grammar takes every line of the seed configs, typed in its block."""
    golden = lines.parse(golden_config(name))
    edits = [edit for node in golden for edit in lines.retype(node)]
    config = lines.Config()
    grammar = Grammar()
    for edit in edits:
        result = type_line(config, edit.context, edit.line, grammar)
        assert result.error is None, (edit, result.error)
        config = result.config
    assert config.same_as(golden)


def test_physical_ports_exist_per_model() -> None:
    ix2215, ix2105 = Grammar("IX2215"), Grammar("IX2105")
    assert ix2215.check("interface GigaEthernet2.0", "top").ok
    assert ix2215.check("interface GigaEthernet2:1.0", "top").ok  # port VLAN on the switch
    assert not ix2215.check("interface GigaEthernet0:1.0", "top").ok
    assert not ix2105.check("interface GigaEthernet2.0", "top").ok
    assert ix2215.check("interface Tunnel99.0", "top").ok
    assert ix2215.check("interface USB-Serial0.0", "top").ok


def test_restart_notice_for_the_lines_that_need_it() -> None:
    config = lines.parse(golden_config(TOKYO))
    result = type_line(
        config, ("interface GigaEthernet0.2",), "encapsulation dot1q 10 tpid 8100", Grammar()
    )
    assert result.error is None and result.notice
    assert not type_line(config, ("interface Tunnel1.0",), "description x", Grammar()).notice


def test_every_fault_names_the_rungs_that_cure_it() -> None:
    assert set(FAULT_KINDS) == set(KINDS)
    for kind in KINDS.values():
        assert kind.cured_by, kind.name
        assert set(kind.cured_by) <= set(RUNGS), kind.name
    # The seed's fault: only a reboot; the variants stop earlier on the ladder.
    assert KINDS["ddns-v6-stuck"].cured_by == ("reboot", "clear")
    assert "client-restart" in KINDS["ddns-v6-needs-restart"].cured_by
    assert "reregister" not in KINDS["ddns-v6-needs-restart"].cured_by
    assert KINDS["ddns-v6-needs-reregister"].cured_by[0] == "reregister"
    assert KINDS["ike-peer-stale"].cured_by[:2] == ("tunnel-bounce", "reboot")


def test_terminal_assembles_lines_like_the_ix() -> None:
    term = Terminal()
    keys = [term.key(char, 80) for char in "shw\x7fow\x1b[Dx\r\n"]
    assert [k.line for k in keys if k.line is not None] == ["showx"]  # LF of CRLF swallowed
    assert "".join(k.echo for k in keys) == "shw\b \bowx"
    assert term.key("?", 80).control == "help"
    paged = term.page("".join(f"line {n}\n" for n in range(30)), 24)
    assert paged.endswith("--More--") and paged.count("\r\n") == 24
    text, done = term.pager_key("\r", 24)
    assert text.endswith("line 24\r\n--More--") and not done
    text, done = term.pager_key(" ", 24)
    assert text.endswith("line 29\r\n") and done


def test_generated_sites_have_the_seed_shape() -> None:
    sites = generate_site_configs(5, start=9)
    assert [name for name, _ in sites] == [f"ix-site-{n:04d}" for n in range(9, 14)]
    golden_headers = [node.line.split()[0] for node in lines.parse(golden_config(TOKYO))]
    lans = set()
    for name, text in sites:
        config = lines.parse(text)
        assert [node.line.split()[0] for node in config] == golden_headers
        assert config.node((f"hostname {name}",)) is not None
        lan = config.block("interface GigaEthernet2.0")
        assert lan is not None
        address = ipaddress.IPv4Interface(lan[0].line.split()[2])
        assert address.network.subnet_of(ipaddress.IPv4Network("10.0.0.0/8"))
        lans.add(address.network)
        assert "192.168.100" not in text and TOKYO not in text and KAGAWA not in text
    assert len(lans) == 5
    # Pairs point at each other: 9 <-> 10.
    assert "ix-site-0010.fetburner.v6.nmddns.jp" in sites[0][1]
    assert "ix-site-0009.fetburner.v6.nmddns.jp" in sites[1][1]


# --- SSH, login, modes -----------------------------------------------------------------------


def test_login_prompt_host_key_and_password(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (_, endpoints, _):
            endpoint = endpoints[TOKYO]
            shell = await Shell.open(endpoint, known_hosts=str(tmp_path / "known_hosts"))
            assert await shell.prompt() == f"{TOKYO}# "
            key = shell.conn.get_server_host_key()
            assert key is not None and key.get_fingerprint("sha256") == endpoint.fingerprint
            shell.close()
            with pytest.raises(asyncssh.PermissionDenied):
                await asyncssh.connect(
                    endpoint.host, endpoint.port, username=USER, password="wrong",
                    known_hosts=None, server_host_key_algs=["ssh-rsa"],
                )  # fmt: skip
            # Only `ssh-rsa` is offered, as on the real IX.
            with pytest.raises(asyncssh.KeyExchangeFailed):
                await asyncssh.connect(
                    endpoint.host, endpoint.port, username=USER, password=PASSWORD,
                    known_hosts=None, server_host_key_algs=["rsa-sha2-256"],
                )  # fmt: skip
        # The host key survives a restart of the lab.
        async with lab_running(tmp_path) as (_, again, _):
            assert again[TOKYO].fingerprint == endpoints[TOKYO].fingerprint

    run(body())


def test_modes_and_prompts(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (_, endpoints, _):
            shell = await Shell.open(endpoints[KAGAWA])
            assert "Version 10.7.18" in await shell.cmd("show version")
            assert await shell.cmd("show running-config") == (
                "% running-config -- Invalid command.\n"
            )
            assert await shell.cmd("terminal length 0") == "% terminal -- Invalid command.\n"
            await shell.cmd("enable-config")
            assert await shell.prompt() == f"{KAGAWA}(config)# "
            for header, prompt in [
                ("interface GigaEthernet2.0", "(config-GigaEthernet2.0)# "),
                ("watch-group map-e 10", "(config-watch-map-e-10)# "),
                ("ppp profile flets-v4", "(config-ppp-flets-v4)# "),
            ]:
                assert await shell.cmd(header) == ""
                assert await shell.prompt() == KAGAWA + prompt
            await shell.cmd("exit")
            assert await shell.prompt() == f"{KAGAWA}(config)# "
            await shell.cmd("interface Tunnel1.0")
            await shell.cmd("configure")
            assert await shell.prompt() == f"{KAGAWA}(config)# "
            await shell.cmd("exit")
            assert await shell.prompt() == f"{KAGAWA}# "
            # `exit` in operation mode logs out: the router closes, with no exit status.
            shell.proc.stdin.write("exit\r")
            with pytest.raises(EOFError):
                await shell.read_until(PROMPT_END)
            await shell.proc.wait_closed()
            assert shell.proc.exit_status is None
            shell.close()

    run(body())


def test_paging_until_terminal_length_0(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (_, endpoints, _):
            shell = await Shell.open(endpoints[TOKYO])
            await shell.cmd("enable-config")
            shell.proc.stdin.write("show running-config\r")
            first = await shell.read_until(re.compile("--More--"))
            assert len(first.replace("\r", "").split("\n")[1:-1]) == 24
            shell.proc.stdin.write(" ")
            second = await shell.read_until(re.compile("--More--"))
            assert len(second.replace("\r", "").split("\n")) == 25  # erase + 24 lines + mark
            shell.proc.stdin.write("q")
            await shell.read_until(PROMPT_END)
            assert await shell.cmd("terminal length 0") == ""
            full = await shell.cmd("show running-config")
            assert "--More--" not in full
            assert body_of(full) == golden_config(TOKYO)
            assert "! Current time " in full
            # The header's clock changes on every call, so a naive diff would always differ.
            assert full != await shell.cmd("show running-config")
            shell.close()

    run(body())


def test_echo_wraps_at_80_columns_until_terminal_width(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (_, endpoints, _):
            shell = await Shell.open(endpoints[TOKYO])
            await shell.cmd("enable-config")
            prompt = f"{TOKYO}(config)# "
            line = "ip access-list test permit ip src 10.0.0.0/8 dest 172.16.0.0/12 " + "x" * 20
            echo = (await shell.raw(line)).split("\r\n")
            assert echo[0] == line[: 80 - len(prompt)]
            assert echo[1] == line[80 - len(prompt) :]
            await shell.cmd("terminal width 200")
            echo = (await shell.raw(line)).split("\r\n")
            assert echo[0] == line
            shell.close()

    run(body())


def test_rejected_and_incomplete_lines_change_nothing(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (lab, endpoints, _):
            shell = await Shell.open(endpoints[TOKYO])
            await shell.cmd("enable-config")
            before = lab.router(TOKYO).running
            assert await shell.cmd("frobnicate all") == "% frobnicate -- Invalid command.\n"
            assert await shell.cmd("ip") == "% Expects a subcommand or item selection.\n"
            await shell.cmd("interface GigaEthernet2.0")
            assert await shell.cmd("hovercraft full") == "% hovercraft -- Invalid command.\n"
            assert await shell.cmd("no hovercraft") == "% hovercraft -- Invalid command.\n"
            assert await shell.cmd("interface Bogus0.0") == "% Bogus0.0 -- Invalid command.\n"
            assert await shell.cmd("show startup-config") == (
                "% startup-config -- Invalid command.\n"  # IX2000 family: `show config`
            )
            assert await shell.cmd("no interface GigaEthernet0.0") == (
                "% GigaEthernet0.0 -- Cannot delete a physical interface.\n"
            )
            assert await shell.cmd("! a comment") == ""  # accepted and ignored [C]
            assert lab.router(TOKYO).running is before
            assert not lab.router(TOKYO).unsaved
            shell.close()

    run(body())


# --- config lock, save, reload ---------------------------------------------------------------


def test_config_mode_is_exclusive_and_svintr_config_takes_over(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (_, endpoints, _):
            first = await Shell.open(endpoints[TOKYO])
            second = await Shell.open(endpoints[TOKYO])
            await first.cmd("enable-config")
            refused = await second.cmd("enable-config")
            assert refused.splitlines()[0] == "% CONFIG process is occupied."
            assert "svintr-config" in refused.splitlines()[1]
            assert await second.prompt() == f"{TOKYO}# "
            assert await second.cmd("svintr-config") == ENTERED
            assert await second.prompt() == f"{TOKYO}(config)# "
            # The first session was sent back to operation mode.
            assert await first.cmd("ip route 10.1.0.0/16 Tunnel1.0") == (
                "% ip -- Invalid command.\n"
            )
            assert await first.prompt() == f"{TOKYO}# "
            # Leaving config mode frees it.
            await second.cmd("exit")
            assert await first.cmd("configure") == ENTERED
            first.close()
            second.close()

    run(body())


def test_write_memory_and_show_config(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (lab, endpoints, _):
            shell = await Shell.open(endpoints[TOKYO])
            await shell.cmd("enable-config")
            await shell.cmd("terminal length 0")
            await shell.cmd("ip route 10.20.0.0/16 Tunnel1.0")
            assert lab.router(TOKYO).unsaved
            startup = await shell.cmd("show config")
            assert re.match(r"Using \d+ out of \d+ bytes\n! NEC", startup)
            assert "ip route 10.20.0.0/16" not in startup
            started = time.monotonic()
            assert await shell.cmd("write memory") == (
                "Building configuration...\n"
                "% Warning: do NOT enter CNTL/Z while saving to avoid config corruption.\n"
            )
            assert time.monotonic() - started >= TIMINGS.save_delay  # saving takes a moment
            assert "ip route 10.20.0.0/16 Tunnel1.0\n" in await shell.cmd("show config")
            assert not lab.router(TOKYO).unsaved
            shell.close()

    run(body())


def test_reload_drops_sessions_and_returns_with_startup_config(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (_, endpoints, _):
            endpoint = endpoints[TOKYO]
            shell = await Shell.open(endpoint)
            bystander = await Shell.open(endpoint)
            await shell.cmd("enable-config")
            await shell.cmd("ip route 10.30.0.0/16 Tunnel1.0")  # not saved
            shell.proc.stdin.write("reload\r")
            question = await shell.read_until(re.compile(r"\(Yes or \[No\]\): \Z"))
            assert "% Warning: current running-configuration is not saved yet." in question
            shell.proc.stdin.write("yes\r")
            with pytest.raises(EOFError):
                await shell.read_until(PROMPT_END)
            await shell.proc.wait_closed()
            assert shell.proc.exit_status is None  # closed without an exit status
            with pytest.raises(EOFError):
                await bystander.read_until(PROMPT_END)
            with pytest.raises(OSError):
                await Shell.open(endpoint)  # down while reloading
            await asyncio.sleep(TIMINGS.reload_delay + 0.2)
            back = await Shell.open(endpoint)
            version = await back.cmd("show version")
            assert "System woke up by reload, caused by command execution" in version
            await back.cmd("enable-config")
            await back.cmd("terminal length 0")
            assert "10.30.0.0" not in await back.cmd("show running-config")
            # Saved: no warning; answering anything but yes keeps the router up.
            back.proc.stdin.write("reload\r")
            question = await back.read_until(re.compile(r"\(Yes or \[No\]\): \Z"))
            assert "not saved" not in question
            assert await back.cmd("no") == ""
            assert await back.prompt() == f"{TOKYO}(config)# "
            back.close()

    run(body())


# --- DDNS and IKE ----------------------------------------------------------------------------


NOTIFY_V4 = "nm ddns notify interface GigaEthernet0.1 protocol ip"
NOTIFY_V6 = "nm ddns notify interface GigaEthernet2.0 protocol ipv6"


async def reregister(shell: Shell, *notify: str) -> None:
    """The ladder's gentlest rung: remove and re-add the notify lines."""
    for line in notify:
        assert await shell.cmd(f"no {line}") == ""
        assert await shell.cmd(line) == ""


async def restart_client(shell: Shell) -> None:
    assert await shell.cmd("no nm ip enable") == ""
    assert await shell.cmd("nm ip enable") == ""


def test_ddns_registers_after_the_delay_and_waits_for_the_client(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (lab, endpoints, registry):
            tokyo = lab.router(TOKYO)
            assert registry.get(V4_NAME, "A") == frozenset()  # not before the delay
            await lab.settle()
            assert registry.get(V4_NAME, "A") == {tokyo.wan.pppoe_v4}
            assert registry.get(V6_NAME, "AAAA") == {tokyo.wan.v6_global}
            old = tokyo.wan
            lab.fault(TOKYO, "address-change")
            assert tokyo.wan.pppoe_v4 != old.pppoe_v4 and tokyo.wan.v6_prefix != old.v6_prefix
            assert "address-change" not in tokyo.faults  # an event, not a state
            shell = await Shell.open(endpoints[TOKYO])
            await shell.cmd("enable-config")
            ip = await shell.cmd("show ip interface GigaEthernet0.1")
            assert f"  Internet address is {tokyo.wan.pppoe_v4}/32\n" in ip
            assert "  Address determined by IPCP\n" in ip
            ipv6 = await shell.cmd("show ipv6 interface GigaEthernet2.0")
            assert f"    {tokyo.wan.v6_global}/64 (preferred, RA)\n" in ipv6
            assert "Link-local address:\n    fe80::" in ipv6
            wan6 = await shell.cmd("show ipv6 interface GigaEthernet0.0")
            assert "Global unicast" not in wan6 and "fe80::" in wan6
            assert "IPv6 protocol processing disabled" in await shell.cmd(
                "show ipv6 interface GigaEthernet0.1"
            )
            # The client tells NetMeister at its next request, not at once: DNS is stale ...
            await lab.settle()
            assert registry.get(V4_NAME, "A") == {old.pppoe_v4}
            assert registry.get(V6_NAME, "AAAA") == {old.v6_global}
            first = tokyo.nm_last_request
            # ... until the notify lines are added again (re-registration).
            await reregister(shell, NOTIFY_V4, NOTIFY_V6)
            await lab.settle()
            assert registry.get(V4_NAME, "A") == {tokyo.wan.pppoe_v4}
            assert registry.get(V6_NAME, "AAAA") == {tokyo.wan.v6_global}
            assert tokyo.nm_last_request is not None and first is not None
            assert tokyo.nm_last_request > first
            nm = await shell.cmd("show nm information")
            assert "Result      : Success (20000)" in nm
            # `nm ddns hostname` renames the DDNS entries.
            await shell.cmd("nm ddns hostname home")
            await lab.settle()
            assert registry.get("home.fetburner.nmddns.jp", "A") == {tokyo.wan.pppoe_v4}
            shell.close()

    run(body())


def test_client_restart_re_registers_and_shows_a_new_request_time(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (lab, endpoints, registry):
            tokyo = lab.router(TOKYO)
            await lab.settle()
            lab.fault(TOKYO, "address-change")
            shell = await Shell.open(endpoints[TOKYO])
            await shell.cmd("enable-config")
            await shell.cmd("no nm ip enable")
            assert "Result      : Disabled" in await shell.cmd("show nm information")
            before = tokyo.nm_last_request
            await asyncio.sleep(1.05)  # the router's clock shows whole seconds
            await shell.cmd("nm ip enable")
            await lab.settle()
            assert registry.get(V4_NAME, "A") == {tokyo.wan.pppoe_v4}
            assert registry.get(V6_NAME, "AAAA") == {tokyo.wan.v6_global}
            assert tokyo.nm_last_request is not None and before is not None
            shown = tokyo.nm_last_request.strftime("%Y/%m/%d %H:%M:%S")
            assert f"Last Request: {shown}" in await shell.cmd("show nm information")
            assert shown != before.strftime("%Y/%m/%d %H:%M:%S")
            shell.close()

    run(body())


# For each registration fault: the rung that cures it, and one gentler that does not.
LADDER_CASES = [
    ("ddns-v6-stuck", "AAAA", V6_NAME, "reboot", "client-restart"),
    ("ddns-v4-stuck", "A", V4_NAME, "reboot", "client-restart"),
    ("ddns-v6-needs-restart", "AAAA", V6_NAME, "client-restart", "reregister"),
    ("ddns-v4-needs-restart", "A", V4_NAME, "client-restart", "reregister"),
    ("ddns-v6-needs-reregister", "AAAA", V6_NAME, "reregister", None),
    ("ddns-v4-needs-reregister", "A", V4_NAME, "reregister", None),
]


@pytest.mark.parametrize(("kind", "rdtype", "name", "cure", "not_cure"), LADDER_CASES)
def test_each_registration_fault_stops_at_its_rung(
    tmp_path: Path, kind: str, rdtype: str, name: str, cure: str, not_cure: str | None
) -> None:
    async def rung(lab: SimLab, shell: Shell, which: str) -> Shell:
        if which == "reregister":
            await reregister(shell, NOTIFY_V4, NOTIFY_V6)
        elif which == "client-restart":
            await restart_client(shell)
        else:
            lab.router(TOKYO).reload()
            await lab.settle()
            shell.close()
            shell = await Shell.open(lab.endpoints()[TOKYO])
            await shell.cmd("enable-config")
        await lab.settle()
        return shell

    async def body() -> None:
        async with lab_running(tmp_path) as (lab, endpoints, registry):
            tokyo = lab.router(TOKYO)
            await lab.settle()
            before = registry.get(name, rdtype)
            lab.fault(TOKYO, kind)
            lab.fault(TOKYO, "address-change")
            shell = await Shell.open(endpoints[TOKYO])
            await shell.cmd("enable-config")
            # Typing a line that is already there is no re-registration at all.
            await shell.cmd(NOTIFY_V6)
            await lab.settle()
            assert registry.get(name, rdtype) == before
            if not_cure is not None:
                shell = await rung(lab, shell, not_cure)
                assert registry.get(name, rdtype) == before, f"{not_cure} cured {kind}"
                assert kind in tokyo.faults
            # The other family is not held: a re-registration updates it.
            other, other_name = ("A", V4_NAME) if rdtype == "AAAA" else ("AAAA", V6_NAME)
            await reregister(shell, NOTIFY_V4, NOTIFY_V6)
            await lab.settle()
            current = {tokyo.wan.pppoe_v4} if other == "A" else {tokyo.wan.v6_global}
            assert registry.get(other_name, other) == current
            shell = await rung(lab, shell, cure)
            assert kind not in tokyo.faults
            assert registry.get(name, rdtype) != before
            shell.close()

    run(body())


def test_ike_sas_follow_ddns_unless_peer_stale(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (lab, endpoints, _):
            tokyo, kagawa = lab.router(TOKYO), lab.router(KAGAWA)
            await lab.settle()
            shell = await Shell.open(endpoints[TOKYO])
            await shell.cmd("enable-config")
            sas = await shell.cmd("show ikev2 sa")
            assert sas.count("State is established") == 2
            assert f"  Remote address is {kagawa.wan.v6_global}, port is 500\n" in sas
            assert f"  Local address is {tokyo.wan.v6_global}, port is 500\n" in sas
            assert "Peer FQDN" not in sas  # which peer a tunnel means is config, not SA output
            old = kagawa.wan
            lab.fault(TOKYO, "ike-peer-stale")
            kagawa_shell = await Shell.open(endpoints[KAGAWA])
            await kagawa_shell.cmd("enable-config")
            await kagawa_shell.cmd("terminal width 200")  # no echo wrap to unpick
            lab.fault(KAGAWA, "address-change")
            await reregister(kagawa_shell, NOTIFY_V4, NOTIFY_V6)  # DNS follows kagawa
            await lab.settle()
            stale = await shell.cmd("show ikev2 sa")
            assert f"Remote address is {old.v6_global}," in stale
            assert f"Remote address is {old.pppoe_v4}," in stale
            # Kagawa itself (no fault) follows tokyo's DDNS at once.
            assert f"Remote address is {tokyo.wan.v6_global}," in show.ikev2_sa(kagawa)
            # `clear ikev2 sa` is nowhere in a public source: the simulator does not have it.
            assert await shell.cmd("clear ikev2 sa") == "% clear -- Invalid command.\n"
            # Bouncing one tunnel renegotiates that tunnel alone.
            await shell.cmd("interface Tunnel1.0")
            await shell.cmd("shutdown")
            assert "IKEv2 SA, Tunnel1.0" not in await shell.cmd("show ikev2 sa")
            await shell.cmd("no shutdown")
            fresh = await shell.cmd("show ikev2 sa")
            assert f"Remote address is {kagawa.wan.v6_global}," in fresh
            assert f"Remote address is {old.pppoe_v4}," in fresh  # Tunnel2.0 still stuck
            assert "ike-peer-stale" in tokyo.faults
            await shell.cmd("interface Tunnel2.0")
            await shell.cmd("shutdown")
            await shell.cmd("no shutdown")
            assert "ike-peer-stale" not in tokyo.faults  # every pinned tunnel renegotiated
            assert f"Remote address is {kagawa.wan.pppoe_v4}," in await shell.cmd("show ikev2 sa")
            # Without the fault, SAs follow the peer's new address by themselves.
            lab.fault(KAGAWA, "address-change")
            await reregister(kagawa_shell, NOTIFY_V4, NOTIFY_V6)
            await lab.settle()
            assert f"Remote address is {kagawa.wan.pppoe_v4}," in await shell.cmd("show ikev2 sa")
            shell.close()
            kagawa_shell.close()

    run(body())


def test_a_reboot_cures_a_stale_peer_too(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (lab, _, _):
            await lab.settle()
            lab.fault(TOKYO, "ike-peer-stale")
            lab.router(TOKYO).reload()
            await lab.settle()
            assert "ike-peer-stale" not in lab.router(TOKYO).faults

    run(body())


# --- other faults ----------------------------------------------------------------------------


def test_ssh_down_refuses_new_connections_only(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (lab, endpoints, _):
            shell = await Shell.open(endpoints[TOKYO])
            lab.fault(TOKYO, "ssh-down")
            await asyncio.sleep(0.05)
            with pytest.raises(OSError):
                await Shell.open(endpoints[TOKYO])
            assert "IX2215" in await shell.cmd("show version")  # the open session lives on
            lab.clear(TOKYO, "ssh-down")
            await asyncio.sleep(0.05)
            (await Shell.open(endpoints[TOKYO])).close()
            shell.close()

    run(body())


def test_config_locked_fault(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (lab, endpoints, _):
            lab.fault(TOKYO, "config-locked")
            shell = await Shell.open(endpoints[TOKYO])
            assert (await shell.cmd("enable-config")).startswith("% CONFIG process is occupied.")
            assert await shell.cmd("svintr-config") == ENTERED
            assert await shell.prompt() == f"{TOKYO}(config)# "
            assert "config-locked" not in lab.router(TOKYO).faults
            shell.close()
            lab.fault(TOKYO, "config-locked")
            lab.router(TOKYO).reload()  # a reboot ends every session, the phantom's too
            await lab.settle()
            assert "config-locked" not in lab.router(TOKYO).faults

    run(body())


def test_slow_fault_delays_replies(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (lab, endpoints, _):
            shell = await Shell.open(endpoints[TOKYO])
            lab.fault(TOKYO, "slow")
            started = time.monotonic()
            await shell.cmd("show version")
            assert time.monotonic() - started >= TIMINGS.slow_delay
            lab.clear(TOKYO)
            started = time.monotonic()
            await shell.cmd("show version")
            assert time.monotonic() - started < TIMINGS.slow_delay
            shell.close()

    run(body())


def test_reload_hangs_until_power_cycle(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (lab, endpoints, _):
            lab.fault(TOKYO, "reload-hangs")
            shell = await Shell.open(endpoints[TOKYO])
            await shell.cmd("enable-config")
            shell.proc.stdin.write("reload\r")
            await shell.read_until(re.compile(r"\]\): \Z"))
            shell.proc.stdin.write("yes\r")
            with pytest.raises(EOFError):
                await shell.read_until(PROMPT_END)
            await asyncio.sleep(TIMINGS.reload_delay * 3)
            with pytest.raises(OSError):
                await Shell.open(endpoints[TOKYO])
            lab.clear(TOKYO, "reload-hangs")  # someone cycles the power
            await asyncio.sleep(0.05)
            back = await Shell.open(endpoints[TOKYO])
            assert "caused by power-on" in await back.cmd("show version")
            back.close()

    run(body())


def test_unknown_fault_is_refused(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (lab, _, _):
            with pytest.raises(ValueError, match="known: "):
                lab.fault(TOKYO, "meteor-strike")
            assert "meteor-strike" not in FAULT_KINDS

    run(body())


# --- the command log -------------------------------------------------------------------------


def test_log_records_received_lines_with_secrets_masked(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab_running(tmp_path) as (_, endpoints, _):
            shell = await Shell.open(endpoints[TOKYO])
            await shell.cmd("enable-config")
            await shell.cmd("nm account fetburner password plain s3cret-pw")
            await shell.cmd("ikev2 authentication psk id keyid x key char s3cret-psk")
            shell.close()
        log = (tmp_path / "logs" / f"{TOKYO}.log").read_text()
        assert f"{TOKYO}# enable-config\n" in log
        assert f"{TOKYO}(config)# nm account fetburner password plain ****\n" in log
        assert "key char ****" in log
        assert "s3cret" not in log
        assert "write memory" not in log
        assert not (tmp_path / "logs" / f"{KAGAWA}.log").exists()

    run(body())


# --- scale -----------------------------------------------------------------------------------


def test_two_hundred_routers_in_one_loop(tmp_path: Path) -> None:
    async def body() -> None:
        routers = golden_configs() + generate_site_configs(200)
        async with lab_running(tmp_path, routers) as (lab, endpoints, registry):
            await lab.settle()
            assert len(registry.names()) == 2 * len(routers)
            site = lab.router("ix-site-0150")
            assert registry.get("ix-site-0150.fetburner.v6.nmddns.jp", "AAAA") == {
                site.wan.v6_global
            }
            assert len(site.ike_sas()) == 2
            shell = await Shell.open(endpoints["ix-site-0150"])
            assert await shell.prompt() == "ix-site-0150# "
            shell.close()

    run(body(), timeout=60)
