"""IX `show` parsers over real samples (IX-CLI.md) and the formats chosen for the lab."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from ipaddress import IPv4Interface, IPv6Interface, ip_address
from typing import Any

import pytest

from nmops.errors import RouterError
from nmops.ix import formats
from nmops.ix.parsers import (
    IkeSa,
    Ipv6Address,
    ParseError,
    VersionInfo,
    parse_ikev2_sa,
    parse_ip_interface,
    parse_ipv6_interface,
    parse_nm_information,
    parse_uptime,
    parse_version,
    restarted,
)


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def with_prompt(text: str, command: str = "show x") -> str:
    return f"ix2215(config)# {command}\n{text}\n\nix2215(config)# "


# --- show ip interface -----------------------------------------------------------------------

IP_DOWN = """\
Interface GigaEthernet2.0 is down, line protocol is down
  Internet address is 10.0.0.1/24
  Broadcast address is 255.255.255.255
  Address determined by config
  MTU is 1500 octets
"""
IP_UNCONFIGURED = """\
Interface GigaEthernet2.0 is administratively down, line protocol is down
  Internet protocol processing disabled
"""
IP_PPPOE = """\
Interface GigaEthernet0.1 is up, line protocol is up
  Internet address is 203.0.113.10/32
  Address determined by IPCP
  MTU is 1454 octets
"""


@pytest.mark.parametrize("wrap", [lambda t: t, crlf, with_prompt])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            IP_DOWN,
            ("GigaEthernet2.0", True, False, True, (IPv4Interface("10.0.0.1/24"),), "config", 1500),
        ),
        (IP_UNCONFIGURED, ("GigaEthernet2.0", False, False, False, (), None, None)),
        (
            IP_PPPOE,
            (
                "GigaEthernet0.1",
                True,
                True,
                True,
                (IPv4Interface("203.0.113.10/32"),),
                "IPCP",
                1454,
            ),
        ),
    ],
)
def test_parse_ip_interface(
    wrap: Callable[[str], str], text: str, expected: tuple[Any, ...]
) -> None:
    got = parse_ip_interface(wrap(text))
    assert (
        got.name,
        got.admin_up,
        got.line_up,
        got.enabled,
        got.addresses,
        got.origin,
        got.mtu,
    ) == expected


def test_parse_ip_interface_dhcp_and_unknown_lines() -> None:
    text = IP_PPPOE.replace("IPCP", "DHCP").replace("  MTU", "  Some new field 42\n  MTU")
    got = parse_ip_interface(text)
    assert got.origin == "DHCP"
    assert got.mtu == 1454


# --- show ipv6 interface ---------------------------------------------------------------------

V6_UP = """\
Interface GigaEthernet2.0 is up, line protocol is up
  IPv6 is enabled
  Link-local address:
    fe80::260:b9ff:fe12:3456/64 (preferred)
  Global unicast address(es):
    2001:db8:1234:5600::1/64 (preferred, RA)
    2001:db8:1234:5601::1/64 (deprecated, RA)
  MTU is 1500 octets
"""
V6_DISABLED = """\
Interface GigaEthernet2.0 is administratively down, line protocol is down
  IPv6 protocol processing disabled
"""
V6_MIXED = """\
Interface GigaEthernet2.0 is up, line protocol is up
  IPv6 is enabled
  Link-local address:
    fe80::1/64 (tentative)
  Global unicast address(es):
    2001:db8:1234:5600::2/64 (tentative, RA)
    fd12:3456:789a::1/64 (preferred, config)
    fe80::99/64 (preferred)
    2400:4050:1:2::3/64 (preferred, DHCPv6)
    2001:db8:1234:5600::3/64
  MTU is 1500 octets
"""


@pytest.mark.parametrize("wrap", [lambda t: t, crlf, with_prompt])
def test_parse_ipv6_interface_up(wrap: Callable[[str], str]) -> None:
    got = parse_ipv6_interface(wrap(V6_UP))
    assert (got.name, got.admin_up, got.line_up, got.enabled, got.mtu) == (
        "GigaEthernet2.0",
        True,
        True,
        True,
        1500,
    )
    assert got.link_local == (
        Ipv6Address(IPv6Interface("fe80::260:b9ff:fe12:3456/64"), "preferred", None),
    )
    assert got.globals == (
        Ipv6Address(IPv6Interface("2001:db8:1234:5600::1/64"), "preferred", "RA"),
        Ipv6Address(IPv6Interface("2001:db8:1234:5601::1/64"), "deprecated", "RA"),
    )
    assert got.preferred_globals == got.globals[:1]


def test_parse_ipv6_interface_disabled() -> None:
    got = parse_ipv6_interface(crlf(V6_DISABLED))
    assert (got.admin_up, got.enabled, got.link_local, got.globals) == (False, False, (), ())
    assert got.preferred_globals == ()


def test_preferred_globals_exclude_tentative_ula_and_link_local() -> None:
    got = parse_ipv6_interface(V6_MIXED)
    assert [a.state for a in got.globals] == [
        "tentative",
        "preferred",
        "preferred",
        "preferred",
        "unknown",
    ]
    assert [str(a.interface.ip) for a in got.preferred_globals] == ["2400:4050:1:2::3"]
    assert got.link_local[0].state == "tentative"


def test_parse_ipv6_interface_inline_link_local() -> None:
    text = V6_UP.replace("  Link-local address:\n    ", "  Link-local address: ")
    got = parse_ipv6_interface(text)
    assert [str(a.interface) for a in got.link_local] == ["fe80::260:b9ff:fe12:3456/64"]
    assert len(got.globals) == 2


# --- show nm information ---------------------------------------------------------------------

NM = """\
NetMeister Client:
  Result      : Success (20000)
  Last Request: 2026/02/24 06:38:45
  Next Request: 2026/03/01 18:13:19 (remain 473668 sec)
"""


@pytest.mark.parametrize("wrap", [lambda t: t, crlf, with_prompt])
def test_parse_nm_information(wrap: Callable[[str], str]) -> None:
    got = parse_nm_information(wrap(NM))
    assert (got.result, got.code, got.ok) == ("Success", 20000, True)
    assert got.last_request == datetime(2026, 2, 24, 6, 38, 45)
    assert got.next_request == datetime(2026, 3, 1, 18, 13, 19)
    assert got.remain_seconds == 473668


def test_parse_nm_information_failure_and_no_request_yet() -> None:
    text = (
        "NetMeister Client:\n  Result      : Failure (40101)\n"
        "  Last Request: -\n  Next Request: -\n"
    )
    got = parse_nm_information(text)
    assert (got.result, got.code, got.ok) == ("Failure", 40101, False)
    assert (got.last_request, got.next_request, got.remain_seconds) == (None, None, None)


# --- show ikev2 sa ---------------------------------------------------------------------------

SA_KAGAWA = """\
IKEv2 SA, Tunnel1.0
  Local address is 2001:db8:10::1, port is 500
  Remote address is 2001:db8:20::1, port is 500
  State is established
"""
SA_OSAKA = """\
IKEv2 SA, Tunnel2.0
  Local address is 198.51.100.1, port is 4500
  Remote address is 203.0.113.7, port is 4500
  State is negotiating
"""


@pytest.mark.parametrize("wrap", [lambda t: t, crlf, with_prompt])
def test_parse_ikev2_sa_several(wrap: Callable[[str], str]) -> None:
    got = parse_ikev2_sa(wrap(SA_KAGAWA + SA_OSAKA))
    assert got == (
        IkeSa(
            tunnel="Tunnel1.0",
            local=ip_address("2001:db8:10::1"),
            local_port=500,
            remote=ip_address("2001:db8:20::1"),
            remote_port=500,
            state="established",
        ),
        IkeSa(
            tunnel="Tunnel2.0",
            local=ip_address("198.51.100.1"),
            local_port=4500,
            remote=ip_address("203.0.113.7"),
            remote_port=4500,
            state="negotiating",
        ),
    )
    assert [sa.established for sa in got] == [True, False]


@pytest.mark.parametrize("text", ["", "\r\n", "% No IKEv2 SA.\r\n", with_prompt("% No IKEv2 SA.")])
def test_parse_ikev2_sa_none(text: str) -> None:
    assert parse_ikev2_sa(text) == ()


def test_parse_ikev2_sa_incomplete_block() -> None:
    with pytest.raises(ParseError, match=r"Tunnel1\.0"):
        parse_ikev2_sa("IKEv2 SA, Tunnel1.0\n  State is established\n")


# --- show version ----------------------------------------------------------------------------

VERSION = """\
NEC Portable Internetwork Core Operating System Software
IX Series IX2215 (magellan-sec) Software, Version 10.7.18, RELEASE SOFTWARE
Compiled Oct 25-Tue-2022 12:37:13 JST #2 by sw-build, coregen-10.7(18)

ROM: System Bootstrap, Version 22.1
System Diagnostic, Version 22.1
Initialization Program, Version 3.1

System uptime is 6 days 21 hours 45 minutes
System woke up by reload, caused by power-on
System started at May 19-Sun-2024 19:37:55 JST
System image file is "ix2215-ms-10.7.18.ldc"
"""


@pytest.mark.parametrize("wrap", [lambda t: t, crlf, with_prompt])
def test_parse_version(wrap: Callable[[str], str]) -> None:
    got = parse_version(wrap(VERSION))
    assert (got.model, got.firmware) == ("IX2215", "10.7.18")
    assert got.uptime == 6 * 86400 + 21 * 3600 + 45 * 60
    assert got.reload_cause == "power-on"
    assert got.started_at == "May 19-Sun-2024 19:37:55 JST"
    assert got.started == datetime(2024, 5, 19, 19, 37, 55)
    assert got.image == "ix2215-ms-10.7.18.ldc"


def test_parse_version_after_reload_command() -> None:
    text = VERSION.replace("caused by power-on", "caused by command execution")
    assert parse_version(text).reload_cause == "command execution"


def test_sa_output_rendered_by_the_lab_reads_back() -> None:
    """The guessed format lives in one place (nmops.ix.formats): what the simulator prints
    from it, the parser reads."""
    sas = [
        formats.SaText(
            "Tunnel1.0", ip_address("2001:db8:1::1"), 500, ip_address("2001:db8:2::1"), 500
        ),
        formats.SaText(
            "Tunnel2.0",
            ip_address("198.51.100.1"),
            4500,
            ip_address("203.0.113.7"),
            4500,
            "negotiating",
        ),
    ]
    got = parse_ikev2_sa(formats.render_ikev2_sa(sas))
    assert [(g.tunnel, g.local, g.local_port, g.remote, g.remote_port, g.state) for g in got] == [
        (s.tunnel, s.local, s.local_port, s.remote, s.remote_port, s.state) for s in sas
    ]


def _version(uptime: str, started: str | None) -> VersionInfo:
    text = VERSION.replace("6 days 21 hours 45 minutes", uptime)
    if started is None:
        text = text.replace("System started at May 19-Sun-2024 19:37:55 JST\n", "")
    else:
        text = text.replace("May 19-Sun-2024 19:37:55", started)
    return parse_version(text)


@pytest.mark.parametrize(
    ("before", "after", "elapsed", "restarted_"),
    [
        # The router's own start time moved on: it restarted, whatever the uptimes.
        (
            ("6 days", "May 19-Sun-2024 19:37:55"),
            ("0 minutes", "May 26-Sun-2024 16:10:02"),
            30,
            True,
        ),
        (
            ("0 minutes", "May 26-Sun-2024 16:10:02"),
            ("0 minutes", "May 26-Sun-2024 16:10:03"),
            2,
            True,
        ),
        # Still shutting down: the same start time, a longer uptime.
        (
            ("6 days", "May 19-Sun-2024 19:37:55"),
            ("6 days 1 minute", "May 19-Sun-2024 19:37:55"),
            30,
            False,
        ),
        # No start time printed: the uptime must have fallen back.
        (("6 days", None), ("1 minute", None), 120, True),
        (("6 days", None), ("6 days 2 minutes", None), 120, False),
        (("3 minutes", None), ("3 minutes", None), 10, False),
    ],
)
def test_restarted(
    before: tuple[str, str | None], after: tuple[str, str | None], elapsed: float, restarted_: bool
) -> None:
    assert restarted(_version(*before), _version(*after), elapsed) is restarted_


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6 days 21 hours 45 minutes", 596700),
        ("1 week 2 days 3 hours 4 minutes", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60),
        ("1 day 1 hour 1 minute 1 second", 90061),
        ("0 minutes 42 seconds", 42),
    ],
)
def test_parse_uptime(text: str, seconds: int) -> None:
    assert parse_uptime(text) == seconds


# --- not the command's output ----------------------------------------------------------------

PARSERS: list[tuple[Callable[[str], object], str]] = [
    (parse_ip_interface, "show ip interface"),
    (parse_ipv6_interface, "show ipv6 interface"),
    (parse_nm_information, "show nm information"),
    (parse_ikev2_sa, "show ikev2 sa"),
    (parse_version, "show version"),
]


@pytest.mark.parametrize(("parser", "command"), PARSERS)
@pytest.mark.parametrize(
    "answer",
    [
        "% GigaEthernet9.9 -- Invalid command.\r\nix2215(config)# ",
        "ix2215# show ikev2 sa\r\n% ikev2 -- Invalid command.\r\nix2215# ",
        "?Invalid command\r\nix2215% ",
        "% Expects a subcommand or item selection.",
    ],
)
def test_error_answer_raises(parser: Callable[[str], object], command: str, answer: str) -> None:
    with pytest.raises(ParseError, match=command) as info:
        parser(answer)
    assert isinstance(info.value, RouterError)


@pytest.mark.parametrize(
    ("parser", "command"),
    [p for p in PARSERS if p[0] is not parse_ikev2_sa],
)
def test_other_output_raises(parser: Callable[[str], object], command: str) -> None:
    with pytest.raises(ParseError, match=command):
        parser("something else entirely\r\n")
